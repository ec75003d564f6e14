// Starting a child through the shim and following it to its exit: the map handshake, the
// failure reports, and exit statuses collected through pidfds.
import {
  argText,
  closeFd,
  type Report,
  strerror,
  readReport,
  releaseRegion,
  sendGo,
  sendSignal,
  type Spawned,
  type SpawnConfig,
  spawnChild,
  Step,
  stepText,
  waitChild,
} from "./native.ts";
import { ContainError, EXDEV, Status } from "./errors.ts";
import { type MapPlan, writeMaps, writeMapsAsync } from "./userns.ts";

const SIGKILL = 9;
const ECANCELED = 125;

/** What an AbortSignal that fired before CMD was executed makes the start throw. */
export function abortError(signal: AbortSignal): ContainError {
  const error = new ContainError("The operation was aborted", "", ECANCELED);
  (error as { cause?: unknown }).cause = signal.reason;
  return error;
}

export interface Child {
  /** Host PID of the first child: pseudo's CMD, contain's holder, inject's joiner. */
  pid: number;
  /** Resolves with the exit status in shell terms (128 + N for signal N). */
  exited: Promise<number>;
  /** Sends a signal; a no-op once the child has exited. */
  kill(signal: number): void;
  /** Once exited has resolved: the signal that killed the child (for contain, init; for
   *  inject, CMD), or null when it exited. */
  readonly signal: number | null;
}

/**
 * Forks the child, writes its ID maps when it has a new user namespace (`maps`), and
 * waits until it has executed CMD. Throws ContainError for any failure before that, after
 * reaping the child, so nothing is left behind.
 */
export function startChild(config: SpawnConfig, maps: [MapPlan, MapPlan] | null, command: string): Child {
  const started = startRaw(config, maps, command);
  return follow(started, watchExit(started));
}

/** Buffers the children read until they exec; held here so the GC cannot take them. */
const reading = new Set<unknown[]>();

/** A started child's pidfd and stacks. `open` turns false the moment the pidfd is closed,
 *  so that nothing signals through a number the kernel may already have given out again. */
export interface Started {
  pid: number;
  pidfd: number;
  region: number;
  open: boolean;
  /** The signal that killed it, once it has exited (null: it exited). */
  signal?: number | null;
}

/** Once the maps are written: fds to hand the holder with go (it closes none of them). */
export type BeforeGo = (spawned: Spawned) => number[];

/** What the handshake needs from its driver: the next report, or the maps written. */
type Need = "report" | "maps";

/** A spawned child's go channel, closed once (closing it makes a child that waits for
 *  its maps exit). */
function goChannel(goFd: number): () => void {
  let open = true;
  return () => {
    if (open) closeFd(goFd);
    open = false;
  };
}

/**
 * The steps between the reports, shared by startRaw and startRawAsync, which drive it:
 * it yields "report" for the next report (null at EOF) and "maps" for the maps to be
 * written, and throws the ContainError of a failure report.
 */
function* handshake(
  config: SpawnConfig,
  spawned: Spawned,
  hasMaps: boolean,
  command: string,
  closeGo: () => void,
  beforeGo?: BeforeGo,
): Generator<Need, void, Report | null | undefined> {
  if (hasMaps) {
    const ready = yield "report";
    if (!ready) throw new ContainError("Failed to start: the child exited at once");
    if (ready.step !== Step.ready) throw reportError(ready.step, ready.value, command);
    yield "maps";
    const fds = beforeGo?.(spawned) ?? [];
    try {
      sendGo(spawned.goFd, fds);
    } finally {
      fds.forEach(closeFd);
    }
  }
  closeGo();
  let report = (yield "report") ?? null;
  let object: string | undefined;
  if (report?.step === Step.mountIndex) {
    const mount = config.mounts?.[report.value];
    report = (yield "report") ?? { step: Step.mountIndex, value: 0 };
    object = report.step === Step.bindSource ? mount?.source : mount?.target;
  } else if (report?.step === Step.enterWorkingDirectory) {
    object = config.cwd === undefined ? undefined : argText(config.cwd);
  }
  if (report !== null) throw reportError(report.step, report.value, command, object);
}

/** After a failed start: reap the child and free what it used. */
function abandon(spawned: Spawned, closeGo: () => void): void {
  closeGo();
  closeFd(spawned.reportFd);
  waitChild(spawned.pidfd, true);
  closeFd(spawned.pidfd);
  releaseRegion(spawned.region);
  reading.delete(spawned.keep);
}

/** Like startChild, but leaves the pidfd to the caller (the console relay polls it). */
export function startRaw(
  config: SpawnConfig,
  maps: [MapPlan, MapPlan] | null,
  command: string,
  beforeGo?: BeforeGo,
): Started {
  const spawned = spawnChild(config);
  const { pid, pidfd, reportFd, region, keep } = spawned;
  reading.add(keep);
  const closeGo = goChannel(spawned.goFd);
  try {
    const steps = handshake(config, spawned, maps !== null, command, closeGo, beforeGo);
    for (let need = steps.next(); !need.done; ) {
      if (need.value === "report") {
        need = steps.next(readReport(reportFd));
      } else {
        writeMaps(pid, maps![0], maps![1]);
        need = steps.next();
      }
    }
  } catch (error) {
    abandon(spawned, closeGo);
    throw error instanceof ContainError ? error : new ContainError((error as Error).message);
  }
  closeFd(reportFd);
  reading.delete(keep);
  return { pid, pidfd, region, open: true };
}

/** The child's reports, read without blocking: next() gives the next one, or null at EOF
 *  (the command was executed, or the child died). */
function reportReader(fd: number): { next(): Promise<Report | null>; cancel(): void } {
  const reader = Bun.file(fd).stream().getReader();
  let buffered: Uint8Array = new Uint8Array(0);
  let ended = false;
  return {
    async next() {
      while (buffered.length < 8 && !ended) {
        const { done, value } = await reader.read();
        if (done) ended = true;
        else buffered = buffered.length === 0 ? value : concat(buffered, value);
      }
      if (buffered.length < 8) return null;
      const view = new DataView(buffered.buffer, buffered.byteOffset, 8);
      const report = { step: view.getUint32(0, true), value: view.getUint32(4, true) };
      buffered = buffered.subarray(8);
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
 * startRaw without blocking the event loop: the reports are read and newuidmap and
 * newgidmap run asynchronously, so helpers that take their time stall nothing. `signal`
 * aborting before CMD has been executed kills the child with SIGKILL (the -i and -o
 * helpers die with it) and rejects with abortError.
 */
export async function startRawAsync(
  config: SpawnConfig,
  maps: [MapPlan, MapPlan] | null,
  command: string,
  signal?: AbortSignal,
  beforeGo?: BeforeGo,
): Promise<Started> {
  if (signal?.aborted) throw abortError(signal);
  const spawned = spawnChild(config);
  const { pid, pidfd, reportFd, region, keep } = spawned;
  reading.add(keep);
  const reports = reportReader(reportFd);
  const closeGo = goChannel(spawned.goFd);
  let aborted = false;
  const abort = () => {
    aborted = true;
    // Its report pipe then reaches EOF, which ends the wait below.
    sendSignal(pidfd, SIGKILL);
    closeGo();
  };
  signal?.addEventListener("abort", abort, { once: true });
  try {
    const steps = handshake(config, spawned, maps !== null, command, closeGo, beforeGo);
    for (let need = steps.next(); !need.done; ) {
      if (need.value === "report") {
        const report = await reports.next();
        if (aborted) throw abortError(signal!);
        need = steps.next(report);
      } else {
        await writeMapsAsync(pid, maps![0], maps![1]);
        if (aborted) throw abortError(signal!);
        need = steps.next();
      }
    }
  } catch (error) {
    reports.cancel();
    abandon(spawned, closeGo);
    throw error instanceof ContainError ? error : new ContainError((error as Error).message);
  } finally {
    signal?.removeEventListener("abort", abort);
  }
  reports.cancel();
  closeFd(reportFd);
  reading.delete(keep);
  return { pid, pidfd, region, open: true };
}

/** A Child over a started child whose status `status` will bring. */
export function follow(started: Started, status: Promise<number>): Child {
  return {
    pid: started.pid,
    exited: status,
    get signal() {
      return started.signal ?? null;
    },
    kill(signal: number) {
      if (started.open) sendSignal(started.pidfd, signal);
    },
  };
}

const waiting = new Map<Started, (status: number) => void>();
let keepAlive: ReturnType<typeof setInterval> | undefined;
/** Off the main thread: the pending look at the pidfds, and the wait before the next. */
let poll: ReturnType<typeof setTimeout> | undefined;
let pollDelay = 1;
const POLL_MAX_MS = 50;

function collect(): void {
  for (const [started, resolve] of waiting) {
    const status = waitChild(started.pidfd, false);
    if (status === null) continue;
    waiting.delete(started);
    started.open = false;
    closeFd(started.pidfd);
    releaseRegion(started.region);
    started.signal = status & 0x100 ? (status & 0xff) - 128 : null;
    resolve(status & 0xff);
  }
  if (waiting.size > 0) return;
  if (keepAlive !== undefined) {
    clearInterval(keepAlive);
    keepAlive = undefined;
    process.off("SIGCHLD", collect);
  }
  if (poll !== undefined) {
    clearTimeout(poll);
    poll = undefined;
  }
}

/** A Worker gets no SIGCHLD (Bun delivers signals to the main thread's listeners), so
 *  there the pidfds are looked at on a timer: soon after a start, then every 50 ms at
 *  most. The timer also keeps the Worker alive until the status is in. */
function pollLater(): void {
  poll = setTimeout(() => {
    poll = undefined;
    collect();
    if (waiting.size === 0) return;
    pollDelay = Math.min(pollDelay * 2, POLL_MAX_MS);
    pollLater();
  }, pollDelay);
}

/** The exit status of the child behind `pidfd`. SIGCHLD says when to look; the pidfd
 *  makes sure the status is ours whoever else reaps. A SIGCHLD listener does not keep Bun
 *  alive, so an idle timer does until the status is in. */
export function watchExit(started: Started): Promise<number> {
  return new Promise((resolve) => {
    if (!Bun.isMainThread) {
      pollDelay = 1;
      if (poll !== undefined) clearTimeout(poll);
      pollLater();
    } else if (waiting.size === 0) {
      process.on("SIGCHLD", collect);
      keepAlive = setInterval(() => {}, 2 ** 30);
    }
    waiting.set(started, resolve);
    collect();
  });
}

/**
 * Turns a (step, value) report from the shim into the error the user sees. `object` names
 * what the step acted on (a mount's target or source, the working directory).
 */
export function reportError(step: number, value: number, command: string, object?: string): ContainError {
  const what = object === undefined ? stepText(step) : `${stepText(step)} ${object}`;
  if (step === Step.resolveMountTarget && value === EXDEV) {
    // RESOLVE_BENEATH refused a ".." or a symbolic link that leads out of the root.
    return new ContainError(`Failed to ${what}: it leads outside the root filesystem`, what, value);
  }
  if (step === Step.exec) {
    const status = value === 2 ? Status.notFound : Status.cannotExecute;
    return new ContainError(`Failed to execute ${command}: ${strerror(value)}`, what, value, status);
  }
  if (step === Step.helperOutside || step === Step.helperInside) {
    const how = value > 128 ? `was killed by signal ${value - 128}` : `exited with status ${value}`;
    return new ContainError(`The ${step === Step.helperOutside ? "-o" : "-i"} helper ${how}`, what, 0);
  }
  // EPERM and EINVAL while setting up come from the kernel's rules, which doctor checks.
  const hint = value === 1 || value === 22 ? " (run contain --doctor)" : "";
  return new ContainError(`Failed to ${what}: ${strerror(value)}${hint}`, what, value);
}
