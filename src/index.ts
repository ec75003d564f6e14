// The library: contain, inject and pseudo shaped like Bun.spawn. The CLIs are thin layers
// over the same functions.
//
// Each call starts the command synchronously and returns once CMD has been executed. A
// failure before that throws a ContainError (it never rejects `exited`): its `step`,
// `errno` and `message` are what the CLI would print, and `status` what it would exit with.
import type { FileSink } from "bun";
import type { Child } from "./child.ts";
import { type ContainOptions as ContainBase, startContain } from "./contain.ts";
import { type InjectOptions as InjectBase, startInject } from "./inject.ts";
import { type PseudoOptions as PseudoBase, startPseudo } from "./pseudo.ts";
import { ContainError } from "./errors.ts";
import { signals } from "./signals.ts";
import { prepareStreams, readable, type StdioOptions, type Streams, writable } from "./stdio.ts";

export { ContainError, Status } from "./errors.ts";
export { MapError } from "./maps.ts";
export type { Stdio, StdioOptions } from "./stdio.ts";
export { fromHost, fromTarball, hostFiles, type RootFilesystem } from "./rootfs.ts";

export interface Common extends StdioOptions {
  /** Aborting kills the command (and a container, everything in it) with SIGKILL. */
  signal?: AbortSignal;
}

export type PseudoOptions = Omit<PseudoBase, "onWarning"> & Common & { onWarning?: (message: string) => void };
export type ContainOptions = Omit<ContainBase, "onWarning"> & Common & { onWarning?: (message: string) => void };
export type InjectOptions = InjectBase & Common;

export interface Subprocess {
  /** pseudo: CMD's PID. contain: the PID that inject accepts. inject: the joiner's PID. */
  readonly pid: number;
  /** With stdin "pipe". end() closes it. */
  readonly stdin: FileSink | undefined;
  /** With stdout or stderr "pipe": read them to the end (or cancel them). */
  readonly stdout: ReadableStream<Uint8Array> | undefined;
  readonly stderr: ReadableStream<Uint8Array> | undefined;
  /** Exit status: the command's own, 128+N for signal N (DESIGN.md contract). */
  readonly exited: Promise<number>;
  /** Null until exited resolves. */
  readonly exitCode: number | null;
  /** Sends a signal (default SIGTERM); a container passes it on to its init. */
  kill(signal?: number | NodeJS.Signals): void;
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

function wrap(start: (streams: Streams) => Child, options: Common, fallback: StdioOptions = {}): Subprocess {
  const streams = prepareStreams({ ...fallback, ...options });
  let child: Child;
  try {
    child = start(streams);
  } catch (error) {
    streams.failed();
    // The one error type before CMD runs; anything else here is a bug's, kept as text.
    throw error instanceof ContainError ? error : new ContainError(String((error as Error)?.message ?? error));
  }
  const [stdin, stdout, stderr] = streams.ours;
  const input = stdin === null ? undefined : writable(stdin);
  let exitCode: number | null = null;
  const exited = child.exited.then((status) => {
    exitCode = status;
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
    kill: (signal) => child.kill(signalNumber(signal)),
  };
}

function started<T extends Child>(streams: Streams, child: T): T {
  streams.started();
  return child;
}

/** CMD as root in a new user namespace only. */
export function pseudo(options: PseudoOptions = {}): Subprocess {
  return wrap((streams) => started(streams, startPseudo(options, streams.child)), options);
}

/** CMD as PID 1 of a container on `root`. `console` defaults to false here. */
export function contain(options: ContainOptions): Subprocess {
  return wrap((streams) => {
    if (!options.console) return started(streams, startContain(options, streams.child));
    // The relay keeps using our stdin and stdout ends of the child's streams until it stops.
    return startContain(options, streams.child, () => streams.started());
  }, options);
}

/** CMD inside the running container of `pid`. */
export function inject(options: InjectOptions): Subprocess {
  return wrap((streams) => started(streams, startInject(options, streams.child)), options);
}
