// What the three commands share: argv splitting, usage, errors and exit statuses.
import { type Definition, type Split, splitArgv, UsageError, usage } from "../argv.ts";
import { ContainError, Status } from "../errors.ts";
import type { Child } from "../child.ts";
import { dieOf, forwardSignals } from "../native.ts";

/** Splits argv, printing usage for -h and for mistakes (exit 64). */
export function parseArgs(command: Definition, name: string, check?: (split: Split) => string | null): Split {
  let split: Split;
  try {
    split = splitArgv(process.argv.slice(2), command);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${name}: ${error.message}\n${usage(command, name)}`);
    process.exit(Status.usage);
  }
  if (split.help) {
    process.stdout.write(usage(command, name));
    process.exit(0);
  }
  const problem = check?.(split);
  if (problem) {
    process.stderr.write(`${name}: ${problem}\n${usage(command, name)}`);
    process.exit(Status.usage);
  }
  return split;
}

/** Prints a failure as one line and exits with its status; `failure` replaces 125 (our own). */
function fail(name: string, error: unknown, failure: number = Status.failure): never {
  const status = error instanceof ContainError ? error.status : Status.failure;
  process.stderr.write(`${name}: ${(error as Error).message ?? error}\n`);
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
}

/**
 * Starts the child, passes the signals of the process contract on to it, and exits with
 * its status; a failure before CMD runs is one line on stderr and its own status.
 */
export async function supervise(name: string, start: () => Child, how: Supervision = {}): Promise<never> {
  // Caught before the child starts; one that arrives meanwhile is held for it.
  forwardSignals(how.terminalReachesChild ?? true);
  let child: Child;
  try {
    child = start();
  } catch (error) {
    fail(name, error, how.failure);
  }
  const status = await child.exited;
  // Killed by a signal, CMD would have taken us with it had it run in our place: so we
  // die of it too, and a caller that checks how we ended (a shell's loop after ^C,
  // WIFSIGNALED) sees the truth. Shells show both as 128 + N.
  if (child.signal !== null && !how.exitOnSignal) dieOf(child.signal);
  process.exit(status);
}
