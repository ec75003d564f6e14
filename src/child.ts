// Starting a child through the shim and following it to its exit: the map handshake, the
// failure reports, and exit statuses collected through pidfds.
import {
  closeFd,
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
import { type MapPlan, writeMaps } from "./userns.ts";

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

/** Like startChild, but leaves the pidfd to the caller (the console relay polls it). */
export function startRaw(
  config: SpawnConfig,
  maps: [MapPlan, MapPlan] | null,
  command: string,
  /** Once the maps are written: fds to hand the holder with go (it closes none of them). */
  beforeGo?: (spawned: Spawned) => number[],
): Started {
  const spawned = spawnChild(config);
  const { pid, pidfd, reportFd, goFd, region, keep } = spawned;
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
      const fds = beforeGo?.(spawned) ?? [];
      try {
        sendGo(goFd, fds);
      } finally {
        fds.forEach(closeFd);
      }
    }
    closeGo();
    let report = readReport(reportFd);
    let object: string | undefined;
    if (report?.step === Step.mountIndex) {
      const mount = config.mounts?.[report.value];
      report = readReport(reportFd) ?? { step: Step.mountIndex, value: 0 };
      object = report.step === Step.bindSource ? mount?.source : mount?.target;
    } else if (report?.step === Step.enterWorkingDirectory) {
      object = config.cwd;
    }
    if (report !== null) throw reportError(report.step, report.value, command, object);
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
  if (waiting.size === 0 && keepAlive !== undefined) {
    clearInterval(keepAlive);
    keepAlive = undefined;
    process.off("SIGCHLD", collect);
  }
}

/** The exit status of the child behind `pidfd`. SIGCHLD says when to look; the pidfd
 *  makes sure the status is ours whoever else reaps. A SIGCHLD listener does not keep Bun
 *  alive, so an idle timer does until the status is in. */
export function watchExit(started: Started): Promise<number> {
  return new Promise((resolve) => {
    if (waiting.size === 0) {
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
