// The container's cgroup: a cgroup2 directory of its own under the supervisor's cgroup,
// handed to container root as systemd delegates one (the directory and its cgroup.procs,
// cgroup.subtree_control and cgroup.threads), with the limits asked for written before
// init runs. The holder is born in it (clone3 with CLONE_INTO_CGROUP: zig/spawn.zig) and
// unshares CLONE_NEWCGROUP there (zig/holder.zig), so the container's cgroup namespace is
// rooted in it; a cleaner (zig/cgroup.zig) removes it when the container ends, however it
// ends. Without a cgroup of our own to make it in, the container shares ours, as before,
// and says nothing: `contain --doctor` explains.
import { ContainError, Errno } from "./errors.ts";
import { cgroupPlace, type Limits, limitFiles, parseUsage, type Usage, v1Controllers } from "./hierarchy.ts";
import {
  closeFd,
  makeCgroup,
  makePipe,
  openPath,
  readText,
  releaseRegion,
  removeCgroup,
  startCgroupCleaner,
  strerror,
  waitChild,
  writeText,
} from "./native.ts";

export type { Limits, Usage };

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

let made = 0;

/** Cleaners that were told to finish and have not been reaped yet. */
const finishing: { pidfd: number; region: number }[] = [];
let reaping: ReturnType<typeof setTimeout> | undefined;

/** Reaps the cleaners that have exited (their stacks are then free), and looks again soon
 *  while some have not, without keeping the process alive for them. */
function reapCleaners(): void {
  for (let index = finishing.length - 1; index >= 0; index--) {
    const cleaner = finishing[index]!;
    if (waitChild(cleaner.pidfd, false) === null) continue;
    closeFd(cleaner.pidfd);
    releaseRegion(cleaner.region);
    finishing.splice(index, 1);
  }
  if (finishing.length > 0 && reaping === undefined) {
    reaping = setTimeout(() => {
      reaping = undefined;
      reapCleaners();
    }, 20);
    reaping.unref?.();
  }
}

/** Controllers of `dir`'s cgroup.controllers or cgroup.subtree_control. */
function listed(dir: string, file: string): string[] {
  return (readText(`${dir}/${file}`) ?? "").trim().split(" ").filter(Boolean);
}

/** The leaf this process moved into so that its cgroup could give controllers (enable),
 *  or null. Its cleaner removes it once this process is gone: the write end of its
 *  lifeline stays open for as long as we live. */
let supervisorLeaf: string | null = null;

/**
 * Enables `controllers` in `parent`'s cgroup.subtree_control. cgroup2 lets a cgroup with
 * processes of its own give its children no controllers (EBUSY), and contain's own
 * process is in `parent`: so it moves into a leaf of its own, as podman and crun do, and
 * tries again; if other processes are there too, it goes back and says what to do.
 */
function enable(parent: string, controllers: string[]): void {
  const write = () => writeText(`${parent}/cgroup.subtree_control`, controllers.map((name) => `+${name}`).join(" "));
  const refuse = (error: { errno: number }, why: string) =>
    new ContainError(`Cannot enable the ${controllers.join(" and ")} controller for the container: ${why}`, { step: "cgroup", errno: error.errno });
  const crowded = `${parent} has other processes than contain, so cgroup2 lets it give its children no controllers: run contain in a cgroup of its own (systemd-run --user --scope -p Delegate=yes contain ...)`;
  try {
    write();
    return;
  } catch (error) {
    if ((error as ContainError).errno !== Errno.EBUSY) throw refuse(error as ContainError, (error as Error).message);
    if (supervisorLeaf !== null) throw refuse(error as ContainError, crowded);
  }
  const name = `contain-${process.pid}-supervisor`;
  const e = makeCgroup(parent, name);
  if (e !== 0) throw refuse({ errno: e }, `cannot make a leaf for contain in ${parent}: ${strerror(e)}`);
  const [lifelineRead, lifeline] = makePipe();
  let cleaner;
  try {
    cleaner = startCgroupCleaner(parent, name, lifelineRead);
  } finally {
    closeFd(lifelineRead);
  }
  try {
    writeText(`${parent}/${name}/cgroup.procs`, "0");
    write();
    supervisorLeaf = `${parent}/${name}`;
  } catch (error) {
    try {
      writeText(`${parent}/cgroup.procs`, "0");
      closeFd(lifeline);
      waitChild(cleaner.pidfd, true);
      closeFd(cleaner.pidfd);
      releaseRegion(cleaner.region);
    } catch {
      // Still in the leaf: it stays ours, and its cleaner, which would kill what is in it,
      // waits until we are gone.
      supervisorLeaf = `${parent}/${name}`;
    }
    throw refuse(error as ContainError, (error as ContainError).errno === Errno.EBUSY ? crowded : (error as Error).message);
  }
}

/**
 * The container's cgroup, from its making to its removal. `owner`: the host IDs of
 * container root, to give it to (null: it stays ours, which a user's container root is).
 */
export class ContainerCgroup {
  readonly path: string;
  readonly #parent: string;
  readonly #name: string;
  #fds: [number, number] = [-1, -1];
  #lifeline: number;
  #cleaner: { pidfd: number; region: number } | null;
  #usage: Usage | null = null;
  #ended = false;
  /** The controllers the container's cgroup has: the usage files that exist. */
  #controllers: string[] = [];

  private constructor(parent: string, name: string, lifeline: number, cleaner: { pidfd: number; region: number }) {
    this.#parent = parent;
    this.#name = name;
    this.path = `${parent}/${name}`;
    this.#lifeline = lifeline;
    this.#cleaner = cleaner;
  }

  /**
   * Makes the cgroup, or returns null when this host or user gives none: the container
   * then shares ours, as before. With limits, no cgroup or a missing controller is a
   * ContainError instead.
   */
  static make(limits: Limits, owner: { uid: number; gid: number } | null): ContainerCgroup | null {
    const files = limitFiles(limits);
    const found = findHome();
    const refuse = (why: string) => new ContainError(`Cannot limit the container: ${why}`, { step: "cgroup" });
    if (typeof found === "string") {
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
          ? `this host has it on cgroup v1, and its cgroup2 hierarchy at ${found.mount} has ${available.length ? `only ${available.join(" ")}` : "no controllers"}`
          : `${found.dir} has ${available.length ? `only ${available.join(" ")}` : "none"} (the parent must delegate it)`;
        throw new ContainError(`Cannot limit with cgroup2's ${controller} controller: ${where}`, { step: "cgroup" });
      }
    }
    const name = `contain-${process.pid}-${++made}`;
    const e = makeCgroup(found.dir, name, owner?.uid ?? -1, owner?.gid ?? -1);
    if (e !== 0) {
      if (files.length > 0) throw refuse(`cannot make a cgroup in ${found.dir}: ${strerror(e)}`);
      return null;
    }
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
      // The holder leaves only where there are controllers to give (see zig/holder.zig).
      cgroup.#controllers = listed(cgroup.path, "cgroup.controllers");
      const leave = cgroup.#controllers.length > 0;
      cgroup.#fds = [openPath(cgroup.path, false), leave ? openPath(`${supervisorLeaf ?? found.dir}/cgroup.procs`, true) : -1];
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
    if (wanted.length > 0) enable(parent, wanted);
    for (const [file, value] of files) writeText(`${this.path}/${file}`, value);
  }

  /** The container's cgroup directory and, where the holder must leave it, the write end
   *  of our cgroup.procs (Config's cgroup and cgroup_leave). */
  get fds(): [number, number] {
    return this.#fds;
  }

  /** The holder has its copies: ours are not needed any more. */
  started(): void {
    for (const fd of this.#fds) if (fd >= 0) closeFd(fd);
    this.#fds = [-1, -1];
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
      const has = (controller: string, file: string) => (this.#controllers.includes(controller) ? readText(`${this.path}/${file}`) : null);
      this.#usage = parseUsage(cpu, has("memory", "memory.peak"), has("pids", "pids.peak"), has("memory", "memory.events"));
    }
    // A clean end leaves the cgroup empty, and usually childless: one rmdir here, and the
    // cleaner, which then finds nothing, is reaped later rather than waited for now.
    const removed = removeCgroup(this.path) === 0;
    closeFd(this.#lifeline);
    const cleaner = this.#cleaner!;
    this.#cleaner = null;
    if (removed) {
      finishing.push(cleaner);
      reapCleaners();
      return null;
    }
    const status = waitChild(cleaner.pidfd, true) ?? 0;
    closeFd(cleaner.pidfd);
    releaseRegion(cleaner.region);
    return status === 0 ? null : `Cannot remove cgroup ${this.#parent}/${this.#name}: ${strerror(status & 0xff)}`;
  }
}
