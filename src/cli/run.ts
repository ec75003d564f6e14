// What the commands share: argv splitting, usage, errors and exit statuses.
import { type Definition, type Split, splitArgv, tryHelp, UsageError, usage } from "../argv.ts";
import { ContainError, Status } from "../errors.ts";
import type { ChildProcess } from "../child.ts";
import { type Arg, argText } from "../arg.ts";
import { dieOf, forwardSignals, readBytes, writeFd } from "../native.ts";
import { CALLER_NOFILE, noteCallerNofile } from "../limits.ts";

/** NUL-terminated entries, as /proc/PID/cmdline and environ hold them. */
function entries(bytes: Uint8Array): Uint8Array[] {
  const list: Uint8Array[] = [];
  for (let start = 0; start < bytes.length; ) {
    let end = bytes.indexOf(0, start);
    if (end < 0) end = bytes.length;
    list.push(bytes.subarray(start, end));
    start = end + 1;
  }
  return list;
}

function readOwn(path: string): Uint8Array | null {
  try {
    return readBytes(path);
  } catch {
    return null;
  }
}

/**
 * Our arguments as the kernel gave them. Bun decodes them as UTF-8, turning bytes that
 * are not UTF-8 into U+FFFD, which the original passes on as they are; so when U+FFFD
 * appears, the words come from /proc/self/cmdline instead, where ours are the last ones
 * (before them stand bun, its options and the script). They are used only if they decode
 * to what Bun gave, so a cmdline that does not line up changes nothing.
 */
export function commandArguments(): Arg[] {
  const words = process.argv.slice(2);
  if (!words.some((word) => word.includes("\uFFFD"))) return words;
  const cmdline = readOwn("/proc/self/cmdline");
  if (cmdline === null) return words;
  const raw = entries(cmdline).slice(-words.length);
  if (words.length === 0 || raw.length !== words.length) return words;
  return raw.every((bytes, index) => argText(bytes) === words[index]) ? raw : words;
}

/**
 * Our environment as the kernel gave it at exec: /proc/self/environ, whose entries Bun
 * has not decoded (process.env turns bytes that are not UTF-8 into U+FFFD and drops
 * names that are not UTF-8), and which nothing here changes. process.env when it cannot
 * be read.
 */
export function commandEnvironment(): Arg[] | undefined {
  const environ = readOwn("/proc/self/environ");
  if (environ === null) return undefined;
  const list = entries(environ);
  // The launcher's note of the caller's open files limit (limits.ts) is ours, not CMD's.
  // A plain loop, and a look past the first byte only for a C: no callback runs dozens
  // of times at start (the JIT would compile it), and no Buffer (2 MB).
  for (let index = 0; index < list.length; index++) {
    const entry = list[index]!;
    if (entry[0] !== NOTE.charCodeAt(0) || !isNote(entry)) continue;
    noteCallerNofile(argText(entry.subarray(NOTE.length)));
    list.splice(index, 1);
    break;
  }
  return list;
}

const NOTE = `${CALLER_NOFILE}=`;

function isNote(entry: Uint8Array): boolean {
  if (entry.length < NOTE.length) return false;
  for (let at = 0; at < NOTE.length; at++) if (entry[at] !== NOTE.charCodeAt(at)) return false;
  return true;
}

/** Writes lines to stderr, or stdout with `out` (native.writeFd: at once, and cheaply). */
export function say(text: string, out = false): void {
  writeFd(out ? 1 : 2, text.endsWith("\n") ? text : `${text}\n`);
}

/** A valued option as text (maps, numbers), or undefined when not given. */
export function optionText(value: Arg | true | undefined): string | undefined {
  return value === undefined || value === true ? undefined : argText(value);
}

/** A valued option as given, bytes and all (commands for the helpers). */
export function optionWord(value: Arg | true | undefined): Arg | undefined {
  return value === true ? undefined : value;
}

// The bundle's build writes the package's version here (scripts/build-dist.ts).
declare const CONTAIN_VERSION: string | undefined;

/** The package's version: the bundle's, or package.json's for the sources. */
export function packageVersion(): string {
  if (typeof CONTAIN_VERSION === "string") return CONTAIN_VERSION;
  // Read at run time: a require here would put all of package.json in the bundles.
  const { readFileSync } = require("node:fs") as typeof import("node:fs");
  return JSON.parse(readFileSync(`${import.meta.dir}/../../package.json`, "utf8")).version;
}

/** A usage error: one line and GNU's pointer to --help, exit 64. */
export function usageError(name: string, problem: string): never {
  say(`${name}: ${problem}\n${tryHelp(name)}`);
  process.exit(Status.usage);
}

/** Splits argv; --help and --version print and exit 0, a mistake is a usage error. */
export function parseArgs<W extends Arg = Arg>(
  command: Definition,
  name: string,
  check?: (split: Split<W>) => string | null,
  argv: readonly W[] = commandArguments() as W[],
): Split<W> {
  let split: Split<W>;
  try {
    split = splitArgv(argv, command);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    usageError(name, error.message);
  }
  if (split.help || split.version) {
    say(split.help ? usage(command, name) : `${name} (bun-contain) ${packageVersion()}`, true);
    process.exit(0);
  }
  const problem = check?.(split);
  if (problem) usageError(name, problem);
  return split;
}

/** Prints a failure as one line and exits with its status; `failure` replaces 125 (our own). */
function fail(name: string, error: unknown, failure: number = Status.failure): never {
  const status = error instanceof ContainError ? error.status : Status.failure;
  say(`${name}: ${(error as Error).message ?? error}`);
  process.exit(status === Status.failure ? failure : status);
}

export interface Supervision {
  /** CMD is in our process group, so it gets the terminal's signals (^C, ^\, hangup)
   *  itself, and passing them on too would deliver them twice. Default: true. */
  terminalReachesChild?: boolean;
  /** The status for our own failure before CMD runs, where a caller needs another than 125. */
  failure?: number;
  /** Exit 128 + N when CMD is killed by signal N, instead of dying of N (for callers whose
   *  protocol asks for a status). */
  exitOnSignal?: boolean;
  /** Called once the child has ended, before we exit: to report what it used. */
  ended?: (child: ChildProcess) => void;
}

/**
 * Starts the child, passes the signals of the process contract on to it, and exits with
 * its status; a failure before CMD runs is one line on stderr and its own status.
 */
export function supervise(name: string, start: () => ChildProcess, how: Supervision = {}): never {
  // Caught before the child starts; one that arrives meanwhile is held for it.
  forwardSignals(how.terminalReachesChild ?? true);
  let child: ChildProcess;
  try {
    child = start();
  } catch (error) {
    fail(name, error, how.failure);
  }
  // Nothing else runs here, so this blocks (in waitid, or on the relay's watcher): the
  // shim's handlers pass signals on and resize the console meanwhile, on any thread.
  const status = child.wait();
  how.ended?.(child);
  // Killed by a signal, CMD would have taken us with it had it run in our place: so we
  // die of it too, and a caller that checks how we ended (a shell's loop after ^C,
  // WIFSIGNALED) sees the truth. Shells show both as 128 + N.
  if (child.signal !== null && !how.exitOnSignal) dieOf(child.signal);
  process.exit(status);
}
