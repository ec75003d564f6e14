// Starting a child through the shim and following it to its exit: the map handshake, the
// failure reports, and exit statuses collected through pidfds.
import {
  closeFd,
  strerror,
  readReport,
  releaseRegion,
  sendSignal,
  type SpawnConfig,
  spawnChild,
  waitChild,
  writeByte,
} from "./native.ts";
import { ContainError, Status, Step, stepText } from "./errors.ts";
import { type MapPlan, writeMaps } from "./userns.ts";

export interface Child {
  /** Host PID of the first child: pseudo's CMD, contain's holder, inject's joiner. */
  pid: number;
  /** Resolves with the exit status in shell terms (128 + N for signal N). */
  exited: Promise<number>;
  /** Sends a signal; a no-op once the child has exited. */
  kill(signal: number): void;
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
}

/** Like startChild, but leaves the pidfd to the caller (the console relay polls it). */
export function startRaw(
  config: SpawnConfig,
  maps: [MapPlan, MapPlan] | null,
  command: string,
): Started {
  const { pid, pidfd, reportFd, goFd, region, keep } = spawnChild(config);
  reading.add(keep);
  let goOpen = true;
  const closeGo = () => {
    if (goOpen) closeFd(goFd);
    goOpen = false;
  };
  try {
    if (maps) {
      const ready = readReport(reportFd);
      if (ready === null) throw new ContainError("Failed to start: the child exited at once");
      if (ready.step !== Step.ready) throw reportError(ready.step, ready.value, command);
      writeMaps(pid, maps[0], maps[1]);
      writeByte(goFd);
    }
    closeGo();
    const report = readReport(reportFd);
    if (report !== null) throw reportError(report.step, report.value, command);
  } catch (error) {
    // Closing the go pipe makes a child that waits for its maps exit; then reap it.
    closeGo();
    closeFd(reportFd);
    waitChild(pidfd, true);
    closeFd(pidfd);
    releaseRegion(region);
    reading.delete(keep);
    throw error instanceof ContainError ? error : new ContainError((error as Error).message);
  }
  closeFd(reportFd);
  reading.delete(keep);
  return { pid, pidfd, region, open: true };
}

/** A Child over a started child whose status `status` will bring. */
export function follow(started: Started, status: Promise<number>): Child {
  return {
    pid: started.pid,
    exited: status,
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
    resolve(status);
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

/** Turns a (step, value) report from the shim into the error the user sees. */
export function reportError(step: number, value: number, command: string): ContainError {
  const what = stepText(step);
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
