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
import { type ContainOptions as ContainBase, startContain, startContainAsync } from "./contain.ts";
import { type InjectOptions as InjectBase, startInject } from "./inject.ts";
import { type PseudoOptions as PseudoBase, startPseudo, startPseudoAsync } from "./pseudo.ts";
import { ContainError } from "./errors.ts";
import { signals } from "./signals.ts";
import { prepareStreams, readable, type Stdio, type StdioOptions, type Streams, writable } from "./stdio.ts";

export interface Common extends StdioOptions {
  /** Aborting kills the command (and a container, everything in it) with SIGKILL. */
  signal?: AbortSignal;
  /** Milliseconds after which the command is sent `killSignal`, as in Bun.spawn. */
  timeout?: number;
  /** The signal for `timeout`. Default: SIGKILL, which takes a container whole. */
  killSignal?: number | NodeJS.Signals;
  /** Milliseconds from `timeout`'s `killSignal` to a SIGKILL, for a command that is still
   *  running then (it handled the signal and went on), as execa's option of this name;
   *  `false`: never. Default: FORCE_KILL_AFTER_DELAY. */
  forceKillAfterDelay?: number | false;
}

/** The default grace period between `timeout`'s `killSignal` and SIGKILL: 5 s, as execa's. */
export const FORCE_KILL_AFTER_DELAY = 5000;

export type PseudoOptions = Omit<PseudoBase, "onWarning"> & Common & { onWarning?: (message: string) => void };
export type ContainOptions = Omit<ContainBase, "onWarning"> & Common & { onWarning?: (message: string) => void };
export type InjectOptions = InjectBase & Common;

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
  /** Exit status: the command's own, 128+N for signal N (DESIGN.md contract). */
  readonly exited: Promise<number>;
  /** Null until exited resolves. */
  readonly exitCode: number | null;
  /** Once exited has resolved: the signal that killed CMD (for a container, its init), as
   *  Bun's Subprocess names it ("SIGTERM"), or null when it exited. */
  readonly signalCode: NodeJS.Signals | null;
  /** Sends a signal (default SIGTERM); a container passes it on to its init, and ends at
   *  once on INT, TERM, HUP or QUIT when init has no handler for it (as PID 1 it would
   *  never see it), signalCode then naming it. */
  kill(signal?: number | NodeJS.Signals): void;
}

/** The name of signal `number`, from node:os (loaded only when a signal killed CMD). */
function signalName(number: number): NodeJS.Signals | null {
  const entry = Object.entries(osSignals()).find(([, value]) => value === number);
  return (entry?.[0] as NodeJS.Signals | undefined) ?? null;
}

function signalNumber(signal: number | NodeJS.Signals = "SIGTERM"): number {
  if (typeof signal === "number") return signal;
  const number = (signals as Record<string, number>)[signal] ?? osSignals()[signal];
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

/** The one error type before CMD runs; anything else here is a bug's, kept as text. */
function asContainError(error: unknown): ContainError {
  return error instanceof ContainError ? error : new ContainError(String((error as Error)?.message ?? error));
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
  };
}

function started(streams: Streams, child: ChildProcess): ChildProcess {
  streams.started();
  return child;
}

/** CMD as root in a new user namespace only. */
export function pseudo<const O extends PseudoOptions>(options: O = {} as O): SubprocessOf<O> {
  return wrap((streams) => started(streams, startPseudo(options, streams.child)), options) as SubprocessOf<O>;
}

/** A console relay uses the child's ends of the streams in the holder's place, until the
 *  holder has exited. */
function relayed(streams: Streams, holder: ChildProcess): ChildProcess {
  if (!holder.relaying) return started(streams, holder);
  void holder.exited.then(() => streams.started());
  return holder;
}

/** CMD as PID 1 of a container on `root`. `console` defaults to false here. */
export function contain<const O extends ContainOptions>(options: O): SubprocessOf<O> {
  return wrap((streams) => relayed(streams, startContain(options, streams.child)), options) as SubprocessOf<O>;
}

/** CMD inside the running container of `pid`. */
export function inject<const O extends InjectOptions>(options: O): SubprocessOf<O> {
  return wrap((streams) => started(streams, startInject(options, streams.child)), options) as SubprocessOf<O>;
}

/**
 * pseudo, resolving once CMD has been executed, without blocking the event loop while
 * newuidmap and newgidmap run; `signal` aborting before that rejects with a ContainError
 * (code ECANCELED) and CMD is not executed.
 */
export function pseudoAsync<const O extends PseudoOptions>(options: O = {} as O): Promise<SubprocessOf<O>> {
  return wrapAsync(
    async (streams) => started(streams, await startPseudoAsync(options, streams.child, options.signal)),
    options,
  ) as Promise<SubprocessOf<O>>;
}

/** contain, as pseudoAsync: the -i and -o helpers and newuidmap run while the event loop
 *  goes on, and an abort meanwhile stops the container before CMD. */
export function containAsync<const O extends ContainOptions>(options: O): Promise<SubprocessOf<O>> {
  return wrapAsync(
    async (streams) => relayed(streams, await startContainAsync(options, streams.child, options.signal)),
    options,
  ) as Promise<SubprocessOf<O>>;
}

/** inject as a promise, for symmetry: joining a container takes no helper and no map. */
export async function injectAsync<const O extends InjectOptions>(options: O): Promise<SubprocessOf<O>> {
  return inject(options);
}
