// The library: contain, inject and pseudo shaped like Bun.spawn (index.ts re-exports them).
// The CLIs are thin layers over the same functions.
//
// Each call starts the command synchronously and returns once CMD has been executed. A
// failure before that throws a ContainError (it never rejects `exited`): its `step`,
// `errno` and `message` are what the CLI would print, and `status` what it would exit with.
// The *Async calls do the same without blocking the event loop during the set-up, and
// reject instead of throwing.
import type { FileSink } from "bun";
import { abortError, type ChildProcess } from "./child.ts";
import type { Usage } from "./cgroup.ts";
import { type ContainOptions as ContainBase, startContain, startContainAsync } from "./contain.ts";
import { type InjectOptions as InjectBase, startInject } from "./inject.ts";
import { type PseudoOptions as PseudoBase, startPseudo, startPseudoAsync } from "./pseudo.ts";
import { asContainError, ContainError, Errno, Status } from "./errors.ts";
import { signals } from "./signals.ts";
import { prepareStreams, readable, type Stdio, type StdioOptions, type Streams, writable } from "./stdio.ts";

export interface Common extends StdioOptions {
  /** Aborting kills the command (and a container, everything in it) with SIGKILL. */
  signal?: AbortSignal | undefined;
  /** Milliseconds after which the command is sent `killSignal`, as in Bun.spawn. */
  timeout?: number | undefined;
  /** The signal for `timeout`. Default: SIGKILL, which takes a container whole. */
  killSignal?: number | NodeJS.Signals | undefined;
  /** Milliseconds from `timeout`'s `killSignal` to a SIGKILL, for a command that is still
   *  running then (it handled the signal and went on), as execa's option of this name;
   *  `false`: never. Default: FORCE_KILL_AFTER_DELAY. */
  forceKillAfterDelay?: number | false | undefined;
}

/** The default grace period between `timeout`'s `killSignal` and SIGKILL: 5 s, as execa's. */
export const FORCE_KILL_AFTER_DELAY = 5000;

export type PseudoOptions = PseudoBase & Common;
export type ContainOptions = ContainBase & Common;
export type InjectOptions = InjectBase & Common;

/** The options O, with any key that Options does not have typed as `never`: a misspelt
 *  option (`ephemral`) is a type error, as in Bun.spawn, although O is inferred. */
export type Exact<O, Options> = O & { [K in Exclude<keyof O, keyof Options>]: never };

// Every option each call takes, checked by tsc against the types above (a key missing
// here or one too many is a type error), so that a misspelt option fails at run time too.
const commonKeys = {
  stdin: true,
  stdout: true,
  stderr: true,
  signal: true,
  timeout: true,
  killSignal: true,
  forceKillAfterDelay: true,
} satisfies Record<keyof Common, true>;
const pseudoKeys = { ...commonKeys, cmd: true, uidMap: true, gidMap: true, env: true, cwd: true, onWarning: true } satisfies Record<keyof PseudoOptions, true>;
const injectKeys = { ...commonKeys, pid: true, cmd: true, env: true } satisfies Record<keyof InjectOptions, true>;
const containKeys = {
  ...commonKeys,
  root: true,
  cmd: true,
  console: true,
  uidMap: true,
  gidMap: true,
  hostNetwork: true,
  network: true,
  ports: true,
  inside: true,
  outside: true,
  env: true,
  helperEnv: true,
  cwd: true,
  mounts: true,
  ephemeral: true,
  limits: true,
  onWarning: true,
} satisfies Record<keyof ContainOptions, true>;

function invalid(message: string): ContainError {
  return new ContainError(message, { step: "check options", errno: Errno.EINVAL, status: Status.usage });
}

/** The known option nearest to a misspelt one (at most two edits, or the same letters
 *  in another case), for the error's hint. */
function nearest(key: string, known: string[]): string | undefined {
  const distance = (a: string, b: string) => {
    let row = Array.from({ length: b.length + 1 }, (_, index) => index);
    for (let i = 1; i <= a.length; i++) {
      const next = [i];
      for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      row = next;
    }
    return row[b.length]!;
  };
  return known.find((name) => name.toLowerCase() === key.toLowerCase()) ?? known.find((name) => distance(key, name) <= 2);
}

/**
 * Refuses, before anything starts, an option the call does not know and a value it cannot
 * use, with a ContainError (code EINVAL) that names it: a misspelt `ephemral` would
 * otherwise run a container that writes into its root.
 */
function checkOptions(call: string, options: object, known: Record<string, true>): void {
  if (typeof options !== "object" || options === null) throw invalid(`${call}: options must be an object`);
  const names = Object.keys(known);
  for (const key of Object.keys(options)) {
    if (Object.hasOwn(known, key)) continue;
    const hint = nearest(key, names);
    throw invalid(`${call}: unknown option ${key}${hint ? ` (did you mean ${hint}?)` : ""}`);
  }
  const { timeout, killSignal, forceKillAfterDelay: grace, signal, cmd } = options as Common & { cmd?: unknown };
  if (timeout !== undefined && !(typeof timeout === "number" && timeout >= 0 && Number.isFinite(timeout))) {
    throw invalid(`${call}: timeout must be a number of milliseconds, not ${String(timeout)}`);
  }
  if (killSignal !== undefined && knownSignal(killSignal) === undefined) throw invalid(`${call}: unknown killSignal ${String(killSignal)}`);
  if (grace !== undefined && grace !== false && !(typeof grace === "number" && grace >= 0 && Number.isFinite(grace))) {
    throw invalid(`${call}: forceKillAfterDelay must be a number of milliseconds or false, not ${String(grace)}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid(`${call}: signal must be an AbortSignal`);
  if (cmd !== undefined && !Array.isArray(cmd)) throw invalid(`${call}: cmd must be an array of words`);
}

function checkRootOption(root: unknown): void {
  const empty = typeof root === "string" ? root.length === 0 : root instanceof Uint8Array ? root.byteLength === 0 : true;
  if (empty) throw invalid(`contain: root must be the path of a directory, not ${root === "" ? '""' : String(root)}`);
}

function checkPidOption(pid: unknown): void {
  if (!(typeof pid === "number" && Number.isSafeInteger(pid) && pid > 0)) throw invalid(`inject: pid must be a process ID, not ${String(pid)}`);
}

/** What a stdio option gives the caller, as Bun's Subprocess types it: a stream exactly
 *  for "pipe". */
export type Writable<In> = In extends "pipe" ? FileSink : undefined;
export type Readable<Out> = Out extends "pipe" ? ReadableStream<Uint8Array> : undefined;

export interface Subprocess<In extends Stdio = Stdio, Out extends Stdio = Stdio, Err extends Stdio = Stdio> {
  /** pseudo: CMD's PID. contain: the PID that inject accepts. inject: the joiner's PID. */
  readonly pid: number;
  /** With stdin "pipe". end() closes it. */
  readonly stdin: Writable<In>;
  /** With stdout or stderr "pipe": read them to the end (or cancel them). */
  readonly stdout: Readable<Out>;
  readonly stderr: Readable<Err>;
  /** True once `timeout` has passed and `killSignal` was sent. */
  readonly timedOut: boolean;
  /** Exit status: the command's own, 128+N for signal N (DESIGN.md, the process contract). */
  readonly exited: Promise<number>;
  /** Null until exited resolves. */
  readonly exitCode: number | null;
  /** Once exited has resolved: the signal that killed CMD (for a container, its init), as
   *  Bun's Subprocess names it ("SIGTERM"), or null when it exited. */
  readonly signalCode: NodeJS.Signals | null;
  /** Sends a signal (default SIGTERM); a container passes it on to its init (TERM to a
   *  systemd init as SIGRTMIN+3, its halt signal), and ends at once on INT, TERM, HUP or
   *  QUIT when init has no handler for it (as PID 1 it would never see it), signalCode
   *  then naming it. */
  kill(signal?: number | NodeJS.Signals): void;
  /** contain: what the container used, from its cgroup, once exited has resolved; null
   *  without a cgroup of its own, and for pseudo and inject. */
  readonly usage: Usage | null;
}

/** The name of signal `number`, from node:os (loaded only when a signal killed CMD). */
function signalName(number: number): NodeJS.Signals | null {
  const entry = Object.entries(osSignals()).find(([, value]) => value === number);
  return (entry?.[0] as NodeJS.Signals | undefined) ?? null;
}

/** A signal's number, or undefined for a name or number that is not a signal. */
function knownSignal(signal: unknown): number | undefined {
  if (typeof signal === "number") return Number.isInteger(signal) && signal > 0 && signal <= 64 ? signal : undefined;
  if (typeof signal !== "string") return undefined;
  return (signals as Record<string, number>)[signal] ?? osSignals()[signal];
}

function signalNumber(signal: number | NodeJS.Signals = "SIGTERM"): number {
  const number = knownSignal(signal);
  if (number === undefined) throw new TypeError(`unknown signal ${signal}`);
  return number;
}

/** Every signal name, from node:os, loaded only for a name outside the common ones. */
function osSignals(): Record<string, number | undefined> {
  return (require("node:os") as typeof import("node:os")).constants.signals;
}

/** The stdio kinds of an options object, for Subprocess's type parameters. */
type Kind<S> = S extends Stdio ? S : "inherit";
type SubprocessOf<O extends StdioOptions> = Subprocess<Kind<O["stdin"]>, Kind<O["stdout"]>, Kind<O["stderr"]>>;

function wrap(start: (streams: Streams) => ChildProcess, options: Common, fallback: StdioOptions = {}): Subprocess {
  // As Bun.spawn: a signal that has already fired starts nothing.
  if (options.signal?.aborted) throw abortError(options.signal);
  const streams = prepareStreams({ ...fallback, ...options });
  let child: ChildProcess;
  try {
    child = start(streams);
  } catch (error) {
    streams.failed();
    throw asContainError(error);
  }
  return subprocess(child, streams, options);
}

async function wrapAsync(start: (streams: Streams) => Promise<ChildProcess>, options: Common): Promise<Subprocess> {
  if (options.signal?.aborted) throw abortError(options.signal);
  const streams = prepareStreams(options);
  let child: ChildProcess;
  try {
    child = await start(streams);
  } catch (error) {
    streams.failed();
    throw asContainError(error);
  }
  return subprocess(child, streams, options);
}

function subprocess(child: ChildProcess, streams: Streams, options: Common): Subprocess {
  const [stdin, stdout, stderr] = streams.ours;
  const input = stdin === null ? undefined : writable(stdin);
  let exitCode: number | null = null;
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (options.timeout !== undefined) {
    const grace = options.forceKillAfterDelay ?? FORCE_KILL_AFTER_DELAY;
    timer = setTimeout(() => {
      timedOut = true;
      const signal = signalNumber(options.killSignal ?? "SIGKILL");
      child.kill(signal);
      // An init that handles the signal decides what to do with it; one that goes on
      // past the grace period is killed.
      if (signal !== signals.SIGKILL && grace !== false) timer = setTimeout(() => child.kill(signals.SIGKILL), grace);
    }, options.timeout);
  }
  let signalCode: NodeJS.Signals | null = null;
  const exited = child.exited.then((status) => {
    exitCode = status;
    if (child.signal !== null) signalCode = signalName(child.signal);
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", abort);
    // Nothing reads it any more; a caller who never ended it would leak it.
    input?.release();
    return status;
  });
  const abort = () => child.kill(signals.SIGKILL);
  if (options.signal?.aborted) abort();
  else options.signal?.addEventListener("abort", abort, { once: true });
  return {
    pid: child.pid,
    stdin: input?.sink,
    stdout: stdout === null ? undefined : readable(stdout),
    stderr: stderr === null ? undefined : readable(stderr),
    exited,
    get exitCode() {
      return exitCode;
    },
    get timedOut() {
      return timedOut;
    },
    get signalCode() {
      return signalCode;
    },
    kill: (signal) => child.kill(signalNumber(signal)),
    get usage() {
      return child.usage;
    },
  };
}

function started(streams: Streams, child: ChildProcess): ChildProcess {
  streams.started();
  return child;
}

/** Warnings go to `onWarning`, or else to process.emitWarning, as Node's and Bun's own do
 *  (a quiet caller passes `onWarning: () => {}`). */
function warned<O extends { onWarning?: ((message: string) => void) | undefined }>(options: O): O {
  return options.onWarning ? options : { ...options, onWarning: emitWarning };
}

function emitWarning(message: string): void {
  process.emitWarning(message, "ContainWarning");
}

/** CMD as root in a new user namespace only. */
export function pseudo<const O extends PseudoOptions>(options: Exact<O, PseudoOptions> = {} as Exact<O, PseudoOptions>): SubprocessOf<O> {
  checkOptions("pseudo", options, pseudoKeys);
  return wrap((streams) => started(streams, startPseudo(warned(options), streams.child)), options) as SubprocessOf<O>;
}

/** A console relay uses the child's ends of the streams in the holder's place, until the
 *  holder has exited. */
function relayed(streams: Streams, holder: ChildProcess): ChildProcess {
  if (!holder.relaying) return started(streams, holder);
  void holder.exited.then(() => streams.started());
  return holder;
}

function checkContain(options: ContainOptions): void {
  checkOptions("contain", options, containKeys);
  checkRootOption(options.root);
  for (const [index, mount] of (options.mounts ?? []).entries()) {
    const known = mount?.type === "bind" ? ["type", "source", "target", "readonly"] : mount?.type === "tmpfs" ? ["type", "target", "size"] : null;
    if (known === null) throw invalid(`contain: mounts[${index}] must have type "bind" or "tmpfs"`);
    const extra = Object.keys(mount).find((key) => !known.includes(key));
    if (extra !== undefined) throw invalid(`contain: mounts[${index}]: unknown key ${extra}`);
  }
}

/** CMD as PID 1 of a container on `root`. `console` defaults to false here. */
export function contain<const O extends ContainOptions>(options: Exact<O, ContainOptions>): SubprocessOf<O> {
  checkContain(options);
  return wrap((streams) => relayed(streams, startContain(warned(options), streams.child)), options) as SubprocessOf<O>;
}

/** CMD inside the running container of `pid`. */
export function inject<const O extends InjectOptions>(options: Exact<O, InjectOptions>): SubprocessOf<O> {
  checkOptions("inject", options, injectKeys);
  checkPidOption(options.pid);
  return wrap((streams) => started(streams, startInject(options, streams.child)), options) as SubprocessOf<O>;
}

/**
 * pseudo, resolving once CMD has been executed, without blocking the event loop while
 * newuidmap and newgidmap run; `signal` aborting before that rejects with a ContainError
 * (code ECANCELED) and CMD is not executed.
 */
export async function pseudoAsync<const O extends PseudoOptions>(
  options: Exact<O, PseudoOptions> = {} as Exact<O, PseudoOptions>,
): Promise<SubprocessOf<O>> {
  checkOptions("pseudo", options, pseudoKeys);
  return wrapAsync(
    async (streams) => started(streams, await startPseudoAsync(warned(options), streams.child, options.signal)),
    options,
  ) as Promise<SubprocessOf<O>>;
}

/** contain, as pseudoAsync: the -i and -o helpers and newuidmap run while the event loop
 *  goes on, and an abort meanwhile stops the container before CMD. */
export async function containAsync<const O extends ContainOptions>(options: Exact<O, ContainOptions>): Promise<SubprocessOf<O>> {
  checkContain(options);
  return wrapAsync(
    async (streams) => relayed(streams, await startContainAsync(warned(options), streams.child, options.signal)),
    options,
  ) as Promise<SubprocessOf<O>>;
}

/** inject as a promise, for symmetry: joining a container takes no helper and no map. */
export async function injectAsync<const O extends InjectOptions>(options: Exact<O, InjectOptions>): Promise<SubprocessOf<O>> {
  return inject<O>(options);
}
