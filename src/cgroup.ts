// The container's cgroup: a cgroup2 directory of its own under the supervisor's cgroup,
// handed to container root as systemd delegates one (the directory and its cgroup.procs,
// cgroup.subtree_control and cgroup.threads), with the limits asked for written before
// init runs. The holder enters it before it unshares CLONE_NEWCGROUP (zig/holder.zig), so
// the container's cgroup namespace is rooted there, and a cleaner (zig/cgroup.zig) removes
// it when the container ends, however it ends.
import { ContainError, Status } from "./errors.ts";
import {
  closeFd,
  makeCgroup,
  makePipe,
  openPath,
  readText,
  releaseRegion,
  startCgroupCleaner,
  strerror,
  waitChild,
  writeText,
} from "./native.ts";

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
const unescape = (field: string) => field.replace(/\\([0-7]{3})/g, (_, code: string) => String.fromCharCode(parseInt(code, 8)));

/** Where cgroup2 is mounted (preferring /sys/fs/cgroup) and this process's cgroup directory
 *  under it, from /proc/self/mountinfo and /proc/self/cgroup contents. */
export function cgroupPlace(mountinfo: string, cgroup: string): { mount: string | null; dir: string | null } {
  const mounts: { root: string; point: string }[] = [];
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 0 || fields[dash + 1] !== "cgroup2") continue;
    mounts.push({ root: unescape(fields[3] ?? "/"), point: unescape(fields[4] ?? "") });
  }
  const mount = mounts.find((entry) => entry.point === "/sys/fs/cgroup") ?? mounts[0];
  if (mount === undefined) return { mount: null, dir: null };
  const path = cgroup
    .split("\n")
    .find((line) => line.startsWith("0::"))
    ?.slice(3);
  if (path === undefined) return { mount: mount.point, dir: null };
  const root = mount.root === "/" ? "" : mount.root;
  if (root !== "" && path !== root && !path.startsWith(`${root}/`)) return { mount: mount.point, dir: null };
  const relative = path.slice(root.length).replace(/^\/+/, "");
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
    const match = /^(\d+)([kmgt]?)b?$/i.exec(String(limits.memory).trim());
    if (!match) throw new ContainError(`Cannot limit memory to ${limits.memory}: expected bytes, or a number with k, m, g or t`, "", 22, Status.usage);
    files.push(["memory.max", String(Number(match[1]) * (UNITS[match[2]!.toLowerCase()] ?? 1))]);
  }
  if (limits.pids !== undefined) {
    if (!Number.isInteger(limits.pids) || limits.pids < 1) {
      throw new ContainError(`Cannot limit processes to ${limits.pids}: expected a whole number above 0`, "", 22, Status.usage);
    }
    files.push(["pids.max", String(limits.pids)]);
  }
  if (limits.cpus !== undefined) {
    if (!Number.isFinite(limits.cpus) || limits.cpus <= 0) {
      throw new ContainError(`Cannot limit CPUs to ${limits.cpus}: expected a number above 0`, "", 22, Status.usage);
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

/** Where this process's cgroup is, or why there is none to use. Read once. */
let home: { mount: string; dir: string; mountinfo: string } | string | undefined;

function findHome(): { mount: string; dir: string; mountinfo: string } | string {
  if (home !== undefined) return home;
  const mountinfo = readText("/proc/self/mountinfo") ?? "";
  const place = cgroupPlace(mountinfo, readText("/proc/self/cgroup") ?? "");
  if (place.mount === null) home = "no cgroup2 hierarchy is mounted";
  else if (place.dir === null) home = `this process's cgroup is not in the cgroup2 hierarchy at ${place.mount}`;
  else home = { mount: place.mount, dir: place.dir, mountinfo };
  return home;
}

/** Why the last container got no cgroup of its own, for the doctor and for a caller
 *  that asks (null once one was made). */
export let lastCgroupProblem: string | null = null;

let made = 0;

/** Controllers of `dir`'s cgroup.controllers or cgroup.subtree_control. */
function listed(dir: string, file: string): string[] {
  return (readText(`${dir}/${file}`) ?? "").trim().split(/\s+/).filter(Boolean);
}

/**
 * The container's cgroup, from its making to its removal. `owner`: the host IDs of
 * container root, to give it to (null: it stays ours, which a user's container root is).
 */
export class ContainerCgroup {
  readonly path: string;
  readonly #parent: string;
  readonly #name: string;
  #procs: [number, number] = [-1, -1];
  #lifeline: number;
  #cleaner: { pidfd: number; region: number } | null;
  #usage: Usage | null = null;
  #ended = false;

  private constructor(parent: string, name: string, lifeline: number, cleaner: { pidfd: number; region: number }) {
    this.#parent = parent;
    this.#name = name;
    this.path = `${parent}/${name}`;
    this.#lifeline = lifeline;
    this.#cleaner = cleaner;
  }

  /**
   * Makes the cgroup, or returns null when this host or user gives none (the reason is in
   * lastCgroupProblem): the container then shares ours, as before. With limits, no cgroup
   * or a missing controller is a ContainError instead.
   */
  static make(limits: Limits, owner: { uid: number; gid: number } | null): ContainerCgroup | null {
    const files = limitFiles(limits);
    const found = findHome();
    const refuse = (why: string) => new ContainError(`Cannot limit the container: ${why}`, "cgroup", 0, Status.failure);
    if (typeof found === "string") {
      lastCgroupProblem = found;
      if (files.length > 0) throw refuse(found);
      return null;
    }
    if (files.length > 0) {
      const available = listed(found.dir, "cgroup.controllers");
      for (const [file] of files) {
        const controller = file.slice(0, file.indexOf("."));
        if (available.includes(controller)) continue;
        const v1 = v1Controllers(found.mountinfo).includes(controller);
        const where = v1
          ? `this host has it on cgroup v1, and its cgroup2 hierarchy at ${found.mount} has ${available.length ? available.join(" ") : "no controllers"}`
          : `${found.dir} has ${available.length ? `only ${available.join(" ")}` : "none"} (the parent must delegate it)`;
        throw new ContainError(`Cannot limit with cgroup2's ${controller} controller: ${where}`, "cgroup", 0, Status.failure);
      }
    }
    const name = `contain-${process.pid}-${++made}`;
    const e = makeCgroup(found.dir, name, owner?.uid ?? -1, owner?.gid ?? -1);
    if (e !== 0) {
      lastCgroupProblem = `cannot make a cgroup in ${found.dir}: ${strerror(e)}`;
      if (files.length > 0) throw refuse(lastCgroupProblem);
      return null;
    }
    lastCgroupProblem = null;
    // The cleaner first: from here on, whatever fails, it is removed.
    const [lifelineRead, lifeline] = makePipe();
    let cleaner;
    try {
      cleaner = startCgroupCleaner(found.dir, name, lifelineRead);
    } finally {
      closeFd(lifelineRead);
    }
    const cgroup = new ContainerCgroup(found.dir, name, lifeline, cleaner);
    try {
      cgroup.#limit(files, found.dir);
      cgroup.#procs = [openPath(`${cgroup.path}/cgroup.procs`, true), openPath(`${found.dir}/cgroup.procs`, true)];
    } catch (error) {
      cgroup.end();
      throw error;
    }
    return cgroup;
  }

  /** Enables the controllers for our children and writes the limits. */
  #limit(files: [string, string][], parent: string): void {
    if (files.length === 0) return;
    const enabled = listed(parent, "cgroup.subtree_control");
    const wanted = [...new Set(files.map(([file]) => file.slice(0, file.indexOf("."))))].filter((name) => !enabled.includes(name));
    if (wanted.length > 0) {
      try {
        writeText(`${parent}/cgroup.subtree_control`, wanted.map((name) => `+${name}`).join(" "));
      } catch (error) {
        const busy = (error as ContainError).errno === 16;
        const why = busy
          ? `${parent} has processes of its own, so cgroup2 lets it give its children no controllers: run contain in a cgroup of its own (systemd-run --user --scope -p Delegate=yes contain ...)`
          : (error as Error).message;
        throw new ContainError(`Cannot enable the ${wanted.join(" and ")} controller for the container: ${why}`, "cgroup", (error as ContainError).errno, Status.failure);
      }
    }
    for (const [file, value] of files) writeText(`${this.path}/${file}`, value);
  }

  /** The write ends of the container's cgroup.procs and ours, for the holder (Config). */
  get procs(): [number, number] {
    return this.#procs;
  }

  /** The holder has its copies: ours are not needed any more. */
  started(): void {
    for (const fd of this.#procs) if (fd >= 0) closeFd(fd);
    this.#procs = [-1, -1];
  }

  /** What the container used: null until end(). */
  get usage(): Usage | null {
    return this.#usage;
  }

  /**
   * Once the holder has been reaped (or the start failed): reads the usage, lets the
   * cleaner remove the cgroup and waits for it. Returns an error's text, or null.
   */
  end(): string | null {
    if (this.#ended) return null;
    this.#ended = true;
    this.started();
    const cpu = readText(`${this.path}/cpu.stat`);
    if (cpu !== null) {
      this.#usage = parseUsage(cpu, readText(`${this.path}/memory.peak`), readText(`${this.path}/pids.peak`), readText(`${this.path}/memory.events`));
    }
    closeFd(this.#lifeline);
    const cleaner = this.#cleaner!;
    this.#cleaner = null;
    const status = waitChild(cleaner.pidfd, true) ?? 0;
    closeFd(cleaner.pidfd);
    releaseRegion(cleaner.region);
    return status === 0 ? null : `Cannot remove cgroup ${this.#parent}/${this.#name}: ${strerror(status & 0xff)}`;
  }
}
