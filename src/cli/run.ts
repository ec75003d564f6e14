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

/** Prints a failure as one line and exits with its status. */
function fail(name: string, error: unknown): never {
  if (error instanceof ContainError) {
    process.stderr.write(`${name}: ${error.message}\n`);
    process.exit(error.status);
  }
  process.stderr.write(`${name}: ${(error as Error).message ?? error}\n`);
  process.exit(Status.failure);
}

/**
 * Starts the child, passes the signals of the process contract on to it, and exits with
 * its status; a failure before CMD runs is one line on stderr and its own status.
 * `terminalReachesChild`: CMD is in our process group, so it gets the terminal's signals
 * (^C, ^\, hangup) itself, and passing them on too would deliver them twice.
 */
export async function supervise(name: string, start: () => Child, terminalReachesChild = true): Promise<never> {
  // Caught before the child starts; one that arrives meanwhile is held for it.
  forwardSignals(terminalReachesChild);
  let child: Child;
  try {
    child = start();
  } catch (error) {
    fail(name, error);
  }
  const status = await child.exited;
  // Killed by a signal, CMD would have taken us with it had it run in our place: so we
  // die of it too, and a caller that checks how we ended (a shell's loop after ^C,
  // WIFSIGNALED) sees the truth. Shells show both as 128 + N.
  if (child.signal !== null) dieOf(child.signal);
  process.exit(status);
}
