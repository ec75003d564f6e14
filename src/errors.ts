// The one error type the library throws for a failure before the command runs.
import { strerror } from "./native.ts";

/** Exit statuses of the process contract (DESIGN.md). */
export const Status = { usage: 64, failure: 125, cannotExecute: 126, notFound: 127 } as const;

export class ContainError extends Error {
  constructor(
    message: string,
    /** What failed, in the words of the message: "unshare user namespace", "set container UID map". */
    readonly step: string = "",
    /** The errno the kernel gave, or 0. */
    readonly errno: number = 0,
    /** The exit status the CLI reports for it. */
    readonly status: number = Status.failure,
  ) {
    super(message);
    this.name = "ContainError";
  }
}

/** Steps of zig/spawn.zig's Step enum, in the words of "Failed to ...". Index = value. */
const steps: Record<number, string> = {
  2: "set up stdio",
  3: "unshare user namespace",
  4: "become root in the user namespace",
  5: "unshare cgroup namespace",
  6: "unshare IPC namespace",
  7: "unshare network namespace",
  8: "unshare mount namespace",
  9: "unshare time namespace",
  10: "unshare UTS namespace",
  11: "unshare PID namespace",
  12: "fork",
  13: "run the -o helper",
  14: "run the -i helper",
  15: "make the mount namespace private",
  16: "bind new root filesystem",
  17: "enter new root filesystem",
  18: "create /dev in new root filesystem",
  19: "mount /dev tmpfs in new root filesystem",
  20: "mount /dev/pts in new root filesystem",
  21: "mount /dev/shm in new root filesystem",
  22: "bind the console into new /dev filesystem",
  23: "bind /dev/full into new /dev filesystem",
  24: "bind /dev/null into new /dev filesystem",
  25: "bind /dev/random into new /dev filesystem",
  26: "bind /dev/tty into new /dev filesystem",
  27: "bind /dev/urandom into new /dev filesystem",
  28: "bind /dev/zero into new /dev filesystem",
  29: "mount /proc in new root filesystem",
  30: "mount /sys in new root filesystem",
  31: "pivot into new root filesystem",
  32: "detach old root filesystem",
  33: "open console in container",
  34: "open the container's namespaces",
  35: "join user namespace",
  36: "join cgroup namespace",
  37: "join IPC namespace",
  38: "join network namespace",
  39: "join PID namespace",
  40: "join time namespace",
  41: "join UTS namespace",
  42: "join mount namespace",
  43: "enter container root directory",
  44: "execute",
  45: "start: its parent died",
  46: "change directory",
  70: "mount the tmpfs of the ephemeral root",
  71: "mount the overlay of the ephemeral root",
  72: "mount",
  73: "resolve mount target",
  74: "create mount target",
  75: "bind",
  76: "make read-only the bind on",
  77: "mount tmpfs on",
  78: "mount on",
  79: "enter working directory",
};

export const Step = { ready: 1, helperOutside: 13, helperInside: 14, exec: 44, mountIndex: 72, resolveMountTarget: 73, bindSource: 75, enterWorkingDirectory: 79 } as const;

const EXDEV = 18;

export function stepText(step: number): string {
  return steps[step] ?? `complete step ${step}`;
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
