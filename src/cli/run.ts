// What the three commands share: argv splitting, usage, errors and exit statuses.
import { type Definition, type Split, splitArgv, UsageError, usage } from "../argv.ts";
import { ContainError, Status } from "../errors.ts";
import type { Child } from "../child.ts";
import { FORWARDED, signals } from "../signals.ts";

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

/**
 * Starts the child, passes the signals of the process contract on to it, and exits with
 * its status; a failure before CMD runs is one line on stderr and its own status (`failure`
 * for our own, where a caller needs another than 125).
 */
export async function supervise(name: string, start: () => Child, failure?: number): Promise<never> {
  const forward = forwardSignals();
  let child: Child;
  try {
    child = start();
  } catch (error) {
    fail(name, error, failure);
  }
  forward(child);
  process.exit(await child.exited);
}

/**
 * Passes the signals of the process contract on to the child. Installed before the child
 * starts, so a signal that arrives meanwhile is held and delivered once it runs.
 */
function forwardSignals(): (child: Child) => void {
  let target: Child | undefined;
  const pending: number[] = [];
  for (const name of FORWARDED) {
    const signal = signals[name];
    process.on(name, () => (target ? target.kill(signal) : pending.push(signal)));
  }
  return (child) => {
    target = child;
    for (const signal of pending.splice(0)) child.kill(signal);
  };
}
