// The cgroup2 facts the container's cgroup needs, as pure functions of file contents: where
// the hierarchy and our cgroup are, which controllers cgroup v1 holds, the files a limit
// writes and the usage a cgroup reports. Pure, so the doctor and the unit tests use them
// without the shim.
import { ContainError, Errno, Status } from "./errors.ts";

/** A limit that is not one: a usage error. */
const usage = { errno: Errno.EINVAL, status: Status.usage };

/** Limits of the container's cgroup: the cgroup2 controllers memory, pids and cpu. */
export interface Limits {
  /** memory.max: bytes, or a string with a k, m, g or t suffix (powers of 1024). */
  memory?: number | string;
  /** pids.max: how many processes and threads at most. */
  pids?: number;
  /** cpu.max: how many CPUs' worth of time, e.g. 0.5 or 2. */
  cpus?: number;
}

/** What the container used, from its cgroup once it has ended. */
export interface Usage {
  /** CPU time in user and in system mode, in microseconds (cpu.stat, always there). */
  userMicroseconds: number;
  systemMicroseconds: number;
  /** memory.peak, pids.peak and memory.events' oom_kill: only where the memory and pids
   *  controllers are enabled for the container's cgroup (undefined elsewhere). */
  memoryPeakBytes?: number;
  pidsPeak?: number;
  /** How many processes the OOM killer killed in the container. */
  oomKills?: number;
}

/** Undoes the octal escapes (\040 and so on) of a mountinfo field. */
const unescape = (field: string) =>
  // Tested first: no regular expression on the way to CMD when there is nothing to undo.
  field.includes("\\") ? field.replace(/\\([0-7]{3})/g, (_, code: string) => String.fromCharCode(parseInt(code, 8))) : field;

/** Where cgroup2 is mounted (preferring /sys/fs/cgroup) and this process's cgroup directory
 *  under it, from /proc/self/mountinfo and /proc/self/cgroup contents. */
export function cgroupPlace(mountinfo: string, cgroup: string): { mount: string | null; dir: string | null } {
  // indexOf rather than a pass over every line: this runs at every start, and a loop of
  // ours over dozens of lines is one the JIT compiles, on a thread of its own.
  const mounts: { root: string; point: string }[] = [];
  for (let at = mountinfo.indexOf(" - cgroup2 "); at >= 0; at = mountinfo.indexOf(" - cgroup2 ", at + 1)) {
    const fields = mountinfo.slice(mountinfo.lastIndexOf("\n", at) + 1, at).split(" ");
    mounts.push({ root: unescape(fields[3] ?? "/"), point: unescape(fields[4] ?? "") });
  }
  const mount = mounts.find((entry) => entry.point === "/sys/fs/cgroup") ?? mounts[0];
  if (mount === undefined) return { mount: null, dir: null };
  const line = cgroup.startsWith("0::") ? 0 : cgroup.indexOf("\n0::") + 1;
  if (line === 0 && !cgroup.startsWith("0::")) return { mount: mount.point, dir: null };
  const end = cgroup.indexOf("\n", line);
  const path = cgroup.slice(line + 3, end < 0 ? undefined : end);
  const root = mount.root === "/" ? "" : mount.root;
  if (root !== "" && path !== root && !path.startsWith(`${root}/`)) return { mount: mount.point, dir: null };
  let relative = path.slice(root.length);
  while (relative.startsWith("/")) relative = relative.slice(1);
  return { mount: mount.point, dir: relative === "" ? mount.point : `${mount.point}/${relative}` };
}

/** The cgroup v1 hierarchies' controllers, from /proc/self/mountinfo contents. */
export function v1Controllers(mountinfo: string): string[] {
  const found: string[] = [];
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 0 || fields[dash + 1] !== "cgroup") continue;
    for (const option of (fields[dash + 3] ?? "").split(",")) if (option !== "rw" && option !== "ro") found.push(option);
  }
  return found;
}

const UNITS: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** The cgroup files and values that `limits` asks for, or a ContainError for a bad one. */
export function limitFiles(limits: Limits): [file: string, value: string][] {
  const files: [string, string][] = [];
  if (limits.memory !== undefined) {
    const match = /^(\d+)([kmgt]?)$/i.exec(String(limits.memory).trim());
    if (!match) throw new ContainError(`Cannot limit memory to ${limits.memory}: expected bytes, or a number with k, m, g or t`, usage);
    files.push(["memory.max", String(Number(match[1]) * (UNITS[match[2]!.toLowerCase()] ?? 1))]);
  }
  if (limits.pids !== undefined) {
    if (!Number.isInteger(limits.pids) || limits.pids < 1) {
      throw new ContainError(`Cannot limit processes to ${limits.pids}: expected a whole number above 0`, usage);
    }
    files.push(["pids.max", String(limits.pids)]);
  }
  if (limits.cpus !== undefined) {
    if (!Number.isFinite(limits.cpus) || limits.cpus <= 0) {
      throw new ContainError(`Cannot limit CPUs to ${limits.cpus}: expected a number above 0`, usage);
    }
    // cpu.max takes a quota per period, both in microseconds; the kernel's least quota is 1 ms.
    files.push(["cpu.max", `${Math.max(1000, Math.round(limits.cpus * 100_000))} 100000`]);
  }
  return files;
}

/** Usage from the contents of cpu.stat, memory.peak, pids.peak and memory.events. */
export function parseUsage(cpuStat: string, memoryPeak: string | null, pidsPeak: string | null, memoryEvents: string | null): Usage {
  const field = (text: string, name: string) => {
    const line = text.split("\n").find((entry) => entry.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
  };
  const usage: Usage = { userMicroseconds: field(cpuStat, "user_usec") ?? 0, systemMicroseconds: field(cpuStat, "system_usec") ?? 0 };
  if (memoryPeak !== null) usage.memoryPeakBytes = Number(memoryPeak.trim());
  if (pidsPeak !== null) usage.pidsPeak = Number(pidsPeak.trim());
  if (memoryEvents !== null) usage.oomKills = field(memoryEvents, "oom_kill") ?? 0;
  return usage;
}
