// A child of the shim's from spawn to reap: the map handshake, the failure reports, the
// console relay, and the exit status collected through its pidfd.
//
// The protocol, for contain. pseudo's child goes as far as the go message and executes
// CMD; inject's joiner sends no ready (it makes no user namespace: its go socket is
// closed at once), joins init's namespaces and executes CMD.
//
//   supervisor (Bun)          holder                    map writer (lock.zig)  init
//   spawn_child: clone3 CLONE_NEWUSER|CLONE_INTO_CGROUP (else fork, unshare, and the
//   holder writes the container's cgroup.procs itself; with -o, the keeper and the
//   gated -o helper are started first, in the host's namespaces)
//   writeMaps (at once when clone made the namespace, overlapping the holder's start)
//          <--- report pipe: {ready} ---
//   writeMaps (after ready, for a forked holder)
//          --- go socket: go byte, one fd per bind (a tree or a source) --->
//                             become root; build the root: DIR, -e's overlay, /dev,
//                             binds and tmpfs (a failure's record names the mount)
//                             clone --------------------> waits on its gate
//                             unshare CLONE_NEWUSER, go byte ----> writes the nested
//                             namespace's uid_map and gid_map (each ID onto itself), exits
//                             become root; unshare CLONE_NEWNS: every mount is locked;
//                             unshare cgroup, IPC, network
//          <--- report pipe: {network_ready} --- (--network private only)
//   pasta on the holder's network namespace (network.ts), until it has configured it
//          --- go socket: a second go byte --->
//                             unshare time, UTS; -o helper runs, -i helper runs;
//                             unshare CLONE_NEWPID; start init ----------------------->
//                             leave the container's cgroup (cgroup_leave), close its
//                             report end; supervise: stop signals on to init (supervise.zig)
//                                                              mount /proc and /sys, pivot,
//                                                              working directory, console,
//                                                              seccomp, exec CMD
//          <--- EOF on the report pipe: every write end was close-on-exec or closed ---
//   watch_child: the watcher thread (watch.zig) waits on the pidfd and relays the console;
//   its pipe gives the relay's result, then EOF: reap, and the holder's status is init's.
//
// Any step that fails instead writes one record, {step, errno, object} (abi.Report), and
// the child exits 125; the supervisor reaps it and throws the record's ContainError
// (reportError). EOF before ready, or the go socket closed before the go byte, ends the
// start on the other side.
import { argText } from "./arg.ts";
import {
  closeFd,
  copyTerminalSize,
  decodeReport,
  Flag,
  followTerminalSize,
  type GoFds,
  NO_OBJECT,
  readFd,
  type Report,
  ReportLayout,
  strerror,
  readReport,
  releaseRegion,
  sendGo,
  sendSignal,
  type SpawnConfig,
  spawnChild,
  Step,
  stepText,
  waitChild,
  watchChild,
} from "./native.ts";
import { asContainError, ContainError, doctorHint, Errno, Status } from "./errors.ts";
import { callerNofile } from "./limits.ts";
import { readable } from "./stdio.ts";
import type { Usage } from "./cgroup.ts";
import { type MapPlan, writeMaps, writeMapsAsync } from "./userns.ts";
import { Pasta } from "./network.ts";

const SIGKILL = 9;
const SIGPIPE = 13;

/** What an AbortSignal that fired before CMD was executed makes the start throw. */
export function abortError(signal: AbortSignal): ContainError {
  return new ContainError("The operation was aborted", { errno: Errno.ECANCELED, cause: signal.reason });
}

/** A console relayed by the watcher thread (relayConsole). */
export interface ConsoleRelay {
  master: number;
  input: number;
  output: number;
  /** The console takes the terminal's size (input's) whenever it changes. */
  follow: boolean;
  /** The relay failed with `errno`; the child has been killed. */
  onError(errno: number): void;
  /** The relay has stopped and the child has been reaped: before exited resolves. */
  onEnd(): void;
}

/** What a start must do once the maps are written, before go: fds to hand the holder
 *  with go, which are closed here once sent. */
export type BeforeGo = (child: ChildProcess) => GoFds;

/** What the handshake needs from its driver: the next report, or the maps written (and
 *  then the error that writing them threw, if any). */
type Need = "report" | "maps" | "network";
type Answer = Report | null | undefined | Error;

/**
 * One child, from spawn to reap: pseudo's CMD, contain's holder or inject's joiner. It
 * owns the pidfd, the children's stacks, the config buffers they read until CMD runs, the
 * map handshake, and, with a console, the relay. start and startAsync drive the same
 * handshake, blocking or not; wait (blocking) and exited (not) the same reaping.
 */
export class ChildProcess {
  /** The host PID. */
  readonly pid: number;
  readonly #pidfd: number;
  readonly #region: number;
  /** The config as the children read it until CMD is executed: held so the GC cannot
   *  take it; dropped once they are done. */
  #buffers: unknown[] | null;
  #reportFd: number;
  #goFd: number;
  /** False the moment the pidfd is closed, so that nothing signals through a number the
   *  kernel may already have given out again. */
  #open = true;
  #signal: number | null = null;
  #exited?: Promise<number>;
  #console?: ConsoleRelay;
  #onReap?: () => void;
  /** contain with a cgroup of its own: what the container used, once it has been reaped. */
  usage: Usage | null = null;
  /** The private network's pasta, which ends with the holder (#reap). */
  #pasta?: Pasta;

  private constructor(config: SpawnConfig) {
    const spawned = spawnChild({ ...config, nofile: config.nofile ?? callerNofile() });
    this.pid = spawned.pid;
    this.#pidfd = spawned.pidfd;
    this.#region = spawned.region;
    this.#buffers = spawned.buffers;
    this.#reportFd = spawned.reportFd;
    this.#goFd = spawned.goFd;
  }

  /**
   * Forks the child, writes its ID maps when it has a new user namespace (`maps`), and
   * waits until it has executed CMD. Throws ContainError for any failure before that,
   * after reaping the child, so nothing is left behind.
   */
  static start(
    config: SpawnConfig,
    maps: [MapPlan, MapPlan] | null,
    command: string,
    beforeGo?: BeforeGo,
    network?: readonly string[],
  ): ChildProcess {
    const child = new ChildProcess(config);
    try {
      const steps = child.#handshake(config, maps !== null, command, beforeGo);
      for (let need = steps.next(); !need.done; ) {
        if (need.value === "report") {
          need = steps.next(readReport(child.#reportFd));
        } else if (need.value === "network") {
          need = steps.next(attempt(() => child.#connect(network!).waitReady()));
        } else {
          need = steps.next(attempt(() => writeMaps(child.pid, maps![0], maps![1])));
        }
      }
    } catch (error) {
      child.#abandon();
      throw asContainError(error);
    }
    child.#started();
    return child;
  }

  /**
   * start without blocking the event loop: the reports are read and newuidmap and
   * newgidmap run asynchronously, so helpers that take their time stall nothing. `signal`
   * aborting before CMD has been executed kills the child with SIGKILL (the -i and -o
   * helpers die with it) and rejects with abortError.
   */
  static async startAsync(
    config: SpawnConfig,
    maps: [MapPlan, MapPlan] | null,
    command: string,
    signal?: AbortSignal,
    beforeGo?: BeforeGo,
    network?: readonly string[],
  ): Promise<ChildProcess> {
    if (signal?.aborted) throw abortError(signal);
    const child = new ChildProcess(config);
    const reports = reportReader(child.#reportFd);
    let aborted = false;
    const abort = () => {
      aborted = true;
      // Its report pipe then reaches EOF, which ends the wait below.
      child.kill(SIGKILL);
      child.#closeGo();
    };
    signal?.addEventListener("abort", abort, { once: true });
    try {
      const steps = child.#handshake(config, maps !== null, command, beforeGo);
      for (let need = steps.next(); !need.done; ) {
        if (need.value === "report") {
          const report = await reports.next();
          if (aborted) throw abortError(signal!);
          need = steps.next(report);
        } else if (need.value === "network") {
          const failed = await attemptAsync(() => child.#connect(network!).waitReadyAsync());
          if (aborted) throw abortError(signal!);
          need = steps.next(failed);
        } else {
          const failed = await writeMapsAsync(child.pid, maps![0], maps![1]).then(
            () => undefined,
            (error: Error) => error,
          );
          if (aborted) throw abortError(signal!);
          need = steps.next(failed);
        }
      }
    } catch (error) {
      reports.cancel();
      child.#abandon();
      throw asContainError(error);
    } finally {
      signal?.removeEventListener("abort", abort);
    }
    reports.cancel();
    child.#started();
    return child;
  }

  /**
   * The steps between the reports, which start and startAsync drive: it yields "report"
   * for the next report (null at EOF) and "maps" for the maps to be written, and throws
   * the ContainError of a failure report.
   */
  *#handshake(config: SpawnConfig, hasMaps: boolean, command: string, beforeGo?: BeforeGo): Generator<Need, void, Answer> {
    if (hasMaps) {
      // Where clone made the user namespace, the maps can be written at once, while the
      // child gets ready (newuidmap's exec overlaps its start). A holder that forks the -o
      // helper first makes it later, and says when with its ready report.
      const early = config.outside === undefined;
      const failed = early ? ((yield "maps") as Error | undefined) : undefined;
      const ready = (yield "report") as Report | null;
      if (!ready) throw failed ?? new ContainError("Failed to start: the child exited at once");
      // A child that failed before it was ready says why; the maps' failure was its echo.
      if (ready.step !== Step.ready) throw reportError(ready.step, ready.value, command);
      if (failed) throw failed;
      if (!early) {
        const error = (yield "maps") as Error | undefined;
        if (error) throw error;
      }
      const go = beforeGo?.(this) ?? { fds: [], tags: [] };
      try {
        sendGo(this.#goFd, go);
      } finally {
        go.fds.forEach(closeFd);
      }
    }
    if (!((config.flags ?? 0) & Flag.privateNetwork)) this.#closeGo();
    let report = (yield "report") as Report | null | undefined;
    if (report?.step === Step.networkReady) {
      // The holder has made its network namespace: pasta connects it, then CMD may run.
      const failed = (yield "network") as Error | undefined;
      if (failed) throw failed;
      sendGo(this.#goFd, { fds: [], tags: [] });
      this.#closeGo();
      report = (yield "report") as Report | null | undefined;
    }
    if (report) throw reportError(report.step, report.value, command, objectName(report, config));
  }

  /** Starts pasta on the holder's network namespace (ready once waited for). */
  #connect(args: readonly string[]): Pasta {
    this.#pasta = Pasta.spawn(args, this.pid);
    return this.#pasta;
  }

  /** Closes the go socket, once: a child still waiting for its maps then exits. */
  #closeGo(): void {
    if (this.#goFd >= 0) closeFd(this.#goFd);
    this.#goFd = -1;
  }

  /** CMD runs: the children read nothing of ours any more. */
  #started(): void {
    closeFd(this.#reportFd);
    this.#reportFd = -1;
    this.#buffers = null;
  }

  /** After a failed start: reap the child and free what it used. */
  #abandon(): void {
    this.#closeGo();
    closeFd(this.#reportFd);
    this.#reportFd = -1;
    this.#reap(waitChild(this.#pidfd, true)!);
    this.#buffers = null;
  }

  /** Runs `action` once the child has been reaped, before exited resolves or wait returns. */
  whenReaped(action: () => void): void {
    this.#onReap = action;
  }

  /** Sends a signal; a no-op once the child has been reaped. */
  kill(signal: number): void {
    if (this.#open) sendSignal(this.#pidfd, signal);
  }

  /** Once it has been reaped: the signal that killed it (for contain, init; for inject,
   *  CMD), or null when it exited. */
  get signal(): number | null {
    return this.#signal;
  }

  /**
   * Relays the console to and from `input` and `output` until the child exits, on the
   * shim's watcher thread. Before exited or wait. If the relay must stop early, the child
   * is killed: when `output` is gone it ends as a writer into a closed pipe would
   * (SIGPIPE), otherwise as our own failure, after onError(errno).
   */
  relayConsole(relay: ConsoleRelay): void {
    this.#console = relay;
  }

  /** Whether the console is relayed. */
  get relaying(): boolean {
    return this.#console !== undefined;
  }

  /** Resolves with the exit status in shell terms (128 + N for signal N), without
   *  blocking, from a Worker too: the shim's thread tells when to reap. */
  get exited(): Promise<number> {
    return (this.#exited ??= this.#watch());
  }

  /**
   * Blocks until the child exits and returns its status, as exited would: for a process
   * with nothing else to do (the commands). A console is relayed on the watcher thread
   * meanwhile, and its size follows the terminal's through a native SIGWINCH handler,
   * since no JS listener runs while this blocks.
   */
  wait(): number {
    if (this.#exited) throw new Error("wait() after exited");
    let status: number;
    const relay = this.#console;
    if (relay) {
      if (relay.follow) followTerminalSize(relay.input, relay.master);
      const fd = watchChild(this.#pidfd, relay.master, relay.input, relay.output);
      const result = new Uint8Array(4);
      const count = readFd(fd, result);
      closeFd(fd);
      status = this.#finish(result.subarray(0, count));
    } else {
      status = this.#reap(waitChild(this.#pidfd, true)!);
    }
    this.#exited = Promise.resolve(status);
    return status;
  }

  async #watch(): Promise<number> {
    const relay = this.#console;
    const fd = watchChild(this.#pidfd, relay?.master, relay?.input, relay?.output);
    const resize = relay?.follow ? () => copyTerminalSize(relay.input, relay.master) : undefined;
    if (resize) process.on("SIGWINCH", resize);
    const bytes = new Uint8Array(await new Response(readable(fd)).arrayBuffer());
    if (resize) process.off("SIGWINCH", resize);
    return this.#finish(bytes);
  }

  /** Once the watcher has said so: reaps the child, and ends the relay with the result
   *  it gave in `bytes`. */
  #finish(bytes: Uint8Array): number {
    const result = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) : 0;
    let status = this.#reap(waitChild(this.#pidfd, true)!);
    const relay = this.#console;
    // The watcher killed it because the relay stopped: our stdout is gone (EPIPE), so it
    // went as a writer into a closed pipe goes; or the relay failed, our own failure.
    if (result === Errno.EPIPE) {
      this.#signal = SIGPIPE;
      status = 128 + SIGPIPE;
    } else if (result !== 0) {
      this.#signal = null;
      relay?.onError(result);
      status = Status.failure;
    }
    relay?.onEnd();
    return status;
  }

  /** Takes the status waitChild gave: closes the pidfd and frees the stacks. */
  #reap(status: number): number {
    this.#open = false;
    this.#pasta?.stop();
    closeFd(this.#pidfd);
    releaseRegion(this.#region);
    this.#signal = status & 0x100 ? (status & 0xff) - 128 : null;
    this.#onReap?.();
    return status & 0xff;
  }
}

/** What a report's step acted on, in words: a mount's source (for a bind of it) or
 *  target, or CMD's working directory. */
function objectName(report: Report, config: SpawnConfig): string | undefined {
  if (report.object !== NO_OBJECT) {
    const mount = config.mounts?.[report.object];
    return report.step === Step.bindSource ? mount?.source : mount?.target;
  }
  if (report.step === Step.enterWorkingDirectory && config.cwd !== undefined) return argText(config.cwd);
  return undefined;
}

/** The error `write` throws, or undefined. */
function attempt(write: () => void): Error | undefined {
  try {
    write();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

async function attemptAsync(run: () => Promise<void>): Promise<Error | undefined> {
  try {
    await run();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

/** The child's reports, read without blocking: next() gives the next one, or null at EOF
 *  (the command was executed, or the child died). */
function reportReader(fd: number): { next(): Promise<Report | null>; cancel(): void } {
  const reader = Bun.file(fd).stream().getReader();
  let buffered: Uint8Array = new Uint8Array(0);
  let ended = false;
  return {
    async next() {
      const size = ReportLayout.size;
      while (buffered.length < size && !ended) {
        const { done, value } = await reader.read();
        if (done) ended = true;
        else buffered = buffered.length === 0 ? value : concat(buffered, value);
      }
      if (buffered.length < size) return null;
      const report = decodeReport(buffered);
      buffered = buffered.subarray(size);
      return report;
    },
    cancel() {
      reader.cancel().catch(() => {});
    },
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  return both;
}

/**
 * Turns a failure report from the shim (its step and value) into the error the user sees.
 * `object` names what the step acted on (a mount's target or source, the working directory).
 */
export function reportError(step: number, value: number, command: string, object?: string): ContainError {
  const what = object === undefined ? stepText(step) : `${stepText(step)} ${object}`;
  const fields = { step: what, stepCode: step, errno: value, command };
  if (step === Step.resolveMountTarget && value === Errno.EXDEV) {
    // RESOLVE_BENEATH refused a ".." or a symbolic link that leads out of the root.
    return new ContainError(`Failed to ${what}: it leads outside the root filesystem`, fields);
  }
  if (step === Step.exec) {
    const status = value === Errno.ENOENT ? Status.notFound : Status.cannotExecute;
    return new ContainError(`Failed to execute ${command}: ${strerror(value)}`, { ...fields, status });
  }
  if (step === Step.helperOutside || step === Step.helperInside) {
    // The value is the helper's exit status in shell terms, not an errno.
    const how = value > 128 ? `was killed by signal ${value - 128}` : `exited with status ${value}`;
    return new ContainError(`The ${step === Step.helperOutside ? "-o" : "-i"} helper ${how}`, { ...fields, errno: 0 });
  }
  return new ContainError(`Failed to ${what}: ${strerror(value)}${doctorHint(value)}`, fields);
}
