// contain: CMD as PID 1 of a container with DIR as its root (DESIGN.md, process tree).
import { ContainerCgroup, type Limits } from "./cgroup.ts";
import { ChildProcess } from "./child.ts";
import { ContainError, Errno } from "./errors.ts";
import { type Arg, argText, refuseNul } from "./arg.ts";
import { resolve } from "./paths.ts";
import { defaultRootMap, refuseReachableBind, refuseReachableRoot } from "./reach.ts";
import {
  chownFd,
  closeFd,
  sourceTree,
  type Console,
  consoleNoEcho,
  copyTerminalSize,
  Flag,
  GO_TREE,
  type GoFds,
  MAX_BINDS,
  Mode,
  type NativeMount,
  openConsole,
  openObject,
  rawTerminal,
  restoreTerminal,
  type SpawnConfig,
  statObject,
  Step,
  strerror,
} from "./native.ts";
import { type Environment, environment } from "./stdio.ts";
import { delegatedRanges, hostRoot, type MapPlan, ownerWarning, planMaps } from "./userns.ts";
import {
  findProgram,
  missingPasta,
  type NetworkMode,
  networkMode,
  pastaArguments,
  type PublishedPort,
  removeFile,
  writeResolvConf,
} from "./network.ts";

export interface ContainOptions {
  /** The root filesystem. */
  root: Arg;
  /** Command and arguments, run as PID 1. Default: /bin/sh. */
  cmd?: readonly Arg[] | undefined;
  /** Relay a pty console at /dev/console (the CLI gives one where stdin and stdout are a
   *  terminal: -c turns it off, -C on). */
  console?: boolean | undefined;
  uidMap?: string | undefined;
  gidMap?: string | undefined;
  /** "none" (the default): loopback only; "host" (-n): the host's network, and no /sys;
   *  "private": a network of the container's own that reaches out through pasta. */
  network?: NetworkMode | undefined;
  /** The same as network: "host" (kept for callers that predate network). */
  hostNetwork?: boolean | undefined;
  /** Ports of the container published on the host (-p); with network: "private". */
  ports?: readonly PublishedPort[] | undefined;
  /** -i and -o: /bin/sh -c helpers inside and outside the new namespaces. */
  inside?: Arg | undefined;
  outside?: Arg | undefined;
  /** CMD's environment, added to container=contain. */
  env?: Record<string, string | undefined> | undefined;
  /** The -i and -o helpers' environment. Default: process.env. The CLI
   *  passes its own environment here as the kernel gave it, bytes and all. */
  helperEnv?: Environment | undefined;
  /** CMD's working directory inside the container. Default: /. */
  cwd?: Arg | undefined;
  /** Binds and tmpfs mounts, made in order under the new root before the pivot. */
  mounts?: readonly Mount[] | undefined;
  /** DIR is the read-only lower layer of an overlay whose upper layer is a tmpfs of this
   *  container's own: CMD may write anywhere, DIR is never written. */
  ephemeral?: boolean | undefined;
  /** Limits written to the container's cgroup before init runs (a controller that this
   *  host's cgroup2 does not give is a ContainError). */
  limits?: Limits | undefined;
  onWarning?: ((message: string) => void) | undefined;
}

/** A host path seen at `target` inside the container (read-only with `readonly`). */
export interface BindMount {
  type: "bind";
  source: string;
  target: string;
  readonly?: boolean | undefined;
}

/** A fresh tmpfs at `target`; `size` in bytes, or a string with a k, m, g or % suffix. */
export interface TmpfsMount {
  type: "tmpfs";
  target: string;
  size?: number | string | undefined;
}

export type Mount = BindMount | TmpfsMount;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

/** A bind as the shim takes it, with the O_PATH fd of its source (binds). */
type PlannedMount = NativeMount & { fd?: number };

/**
 * DIR, opened once: its O_PATH fd (pushed on `opened`), which the holder enters and the
 * checks ask, and its owner. Symbolic links in DIR's path are followed here, on purpose,
 * and never again: from now on DIR is the object this names.
 */
function checkRoot(root: Arg, opened: number[]): { path: Arg; fd: number; uid: number; gid: number } {
  refuseNul(root, "root");
  const name = argText(root);
  const fd = openObject(root);
  if (typeof fd !== "number") throw new ContainError(`Cannot use ${name} as root filesystem: ${strerror(fd.errno)}`, { errno: fd.errno });
  opened.push(fd);
  const stat = statObject(fd);
  if (typeof stat === "number") throw new ContainError(`Cannot use ${name} as root filesystem: ${strerror(stat)}`, { errno: stat });
  if ((stat.mode & S_IFMT) !== S_IFDIR) throw new ContainError(`Cannot use ${name} as root filesystem: ${strerror(Errno.ENOTDIR)}`, { errno: Errno.ENOTDIR });
  // Bytes that are not UTF-8 stay as they are: the path is only named in messages now.
  const path = typeof root === "string" ? resolve(root) : root;
  return { path, fd, uid: stat.uid, gid: stat.gid };
}

/** Checks the mounts and turns them into the shim's form, each bind's source opened once
 *  (its fd pushed on `opened`): a missing source or a target that is not absolute is a
 *  ContainError naming it. */
function planMounts(mounts: readonly Mount[], opened: number[]): PlannedMount[] {
  if (mounts.filter((mount) => mount.type === "bind").length > MAX_BINDS) {
    throw new ContainError(`Cannot bind more than ${MAX_BINDS} sources into one container`);
  }
  return mounts.map((mount) => {
    if (typeof mount.target !== "string" || !mount.target.startsWith("/")) {
      throw new ContainError(`Cannot mount on ${mount.target}: the target must be an absolute path`);
    }
    if (mount.type === "tmpfs") {
      const size = mount.size === undefined ? undefined : String(mount.size);
      if (size !== undefined && !/^\d+[kmgKMG%]?$/.test(size)) {
        throw new ContainError(`Cannot mount tmpfs on ${mount.target}: bad size ${size}`);
      }
      return { kind: "tmpfs", target: mount.target, size };
    }
    if (mount.type !== "bind") throw new ContainError(`Cannot mount on ${(mount as Mount).target}: unknown type ${(mount as Mount).type}`);
    const fd = openObject(mount.source);
    if (typeof fd !== "number") throw new ContainError(`Cannot bind ${mount.source}: ${strerror(fd.errno)}`, { step: "bind", errno: fd.errno });
    opened.push(fd);
    const stat = statObject(fd);
    if (typeof stat === "number") throw new ContainError(`Cannot bind ${mount.source}: ${strerror(stat)}`, { step: "bind", errno: stat });
    const directory = (stat.mode & S_IFMT) === S_IFDIR;
    return { kind: "bind", source: resolve(mount.source), target: mount.target, readonly: mount.readonly === true, directory, fd };
  });
}

/**
 * The fds for the go message: one per bind, each its source as an object, never its path
 * again. As host root, container root is an unprivileged host ID, so a plain bind of
 * root's files could not be written: each writable bind is an ID-mapped copy of its
 * source, through which host IDs appear as the container's map shows them. The kernel
 * lets only host root make it, so the supervisor does, once the holder's maps exist,
 * and makes the plain trees of the `:ro` binds too (the holder's namespace could not
 * copy a mount of the host's). Where the kernel or the filesystem refuses an ID-mapped
 * copy, the bind stays plain, with one warning. As a user, the holder gets the sources'
 * fds and copies them itself.
 */
function bindFds(mounts: PlannedMount[], holder: ChildProcess, warn?: (message: string) => void): GoFds {
  const go: GoFds = { fds: [], tags: [] };
  const root = process.geteuid!() === 0;
  let warned = false;
  try {
    mounts.forEach((mount, index) => {
      if (mount.kind !== "bind") return;
      if (!root) {
        const copy = sourceCopy(mount);
        go.fds.push(copy);
        go.tags.push(index);
        return;
      }
      // A :ro bind stays plain: through an ID-mapped one, container root would read
      // what only host root may (and read-only, it has nothing to write as root).
      let tree = mount.readonly ? sourceTree(mount.fd!, 0) : sourceTree(mount.fd!, holder.pid);
      if (typeof tree !== "number" && !mount.readonly) {
        if (!warned) {
          warned = true;
          const why = strerror(tree.errno);
          warn?.(`Cannot ID-map the bind of ${mount.source} (${why}): it is a plain bind, which container root may not write`);
        }
        tree = sourceTree(mount.fd!, 0);
      }
      if (typeof tree !== "number") throw new ContainError(`Failed to bind ${mount.source}: ${strerror(tree.errno)}`, { step: "bind", errno: tree.errno });
      go.fds.push(tree);
      go.tags.push((index | GO_TREE) >>> 0);
    });
  } catch (error) {
    go.fds.forEach(closeFd);
    throw error;
  }
  return go;
}

/** The source's fd for the go message, which closes what it sends: its own copy. */
function sourceCopy(mount: PlannedMount): number {
  // The supervisor keeps its fd until the start is over; the message takes its own.
  const fd = openObject(`/proc/self/fd/${mount.fd}`);
  if (typeof fd !== "number") throw new ContainError(`Failed to bind ${mount.source}: ${strerror(fd.errno)}`, { step: "bind", errno: fd.errno });
  return fd;
}

/** CMD's environment: container=contain and the caller's additions. */
function commandEnvironment(env: Record<string, string | undefined> = {}): readonly Arg[] {
  for (const name of Object.keys(env)) {
    if (name === "" || name.includes("=")) throw new ContainError(`Cannot set environment variable ${name}: bad name`);
  }
  return environment({ container: "contain", ...env });
}

/** EACCES while entering DIR or creating /dev, /proc or /sys in it means container root
 *  cannot use DIR: say whose ID that is and how to fix it. */
export function explain(error: unknown, root: Arg, uid: MapPlan): unknown {
  if (!(error instanceof ContainError) || error.errno !== Errno.EACCES) return error;
  const entering = error.stepCode === Step.enterRoot;
  if (!entering && ![Step.createDev, Step.createProc, Step.createSys].includes(error.stepCode)) return error;
  const host = hostRoot(uid);
  const what = entering ? "enter" : "write";
  const fix = entering ? `give it to that ID (chown ${host} ${argText(root)}), or build it with pseudo` : "build it with pseudo, or create dev, proc and sys in it";
  const { step, stepCode, errno, status, command } = error;
  return new ContainError(`${error.message}: container root is host UID ${host}, which cannot ${what} ${argText(root)}; ${fix}`, {
    step,
    stepCode,
    errno,
    status,
    command,
    cause: error,
  });
}

type Fds = [number, number, number];

/** The maps of the container's own user namespace, nested in the holder's: each ID the
 *  holder's namespace maps, onto itself (zig/lock.zig). */
function lockMap(plan: MapPlan): string {
  return plan.items.map((item) => `${item.inside} ${item.inside} ${item.count}\n`).join("");
}

/**
 * Starts the container and returns its holder once CMD has been executed; throws a
 * ContainError for a failure before that. `fds`: the holder's 0, 1 and 2 (-1 keeps ours),
 * which init keeps without a console. With a console, the relay reads fds[0] and writes
 * fds[1] instead (0 and 1 for -1), until exited resolves.
 */
export function startContain(options: ContainOptions, fds: Fds = [-1, -1, -1]): ChildProcess {
  const plan = prepare(options, fds);
  let holder;
  try {
    holder = ChildProcess.start(plan.config, plan.maps, plan.command, plan.beforeGo, plan.network);
  } catch (error) {
    throw plan.failed(error);
  }
  return plan.finish(holder);
}

/** startContain without blocking the event loop during set-up (ChildProcess.startAsync). */
export async function startContainAsync(options: ContainOptions, fds: Fds = [-1, -1, -1], signal?: AbortSignal): Promise<ChildProcess> {
  const plan = prepare(options, fds);
  let holder;
  try {
    holder = await ChildProcess.startAsync(plan.config, plan.maps, plan.command, signal, plan.beforeGo, plan.network);
  } catch (error) {
    throw plan.failed(error);
  }
  return plan.finish(holder);
}

/**
 * Everything before the fork: the checks, the maps, the console, the cgroup, the private
 * network's resolver file. What only the start needs (DIR's and the sources' fds, the
 * resolver file's name) goes once the start is over, whichever way (`release`); what the
 * container would have kept (the console, the cgroup) goes only if the start fails (`undo`).
 */
function prepare(options: ContainOptions, fds: Fds) {
  const opened: number[] = [];
  let resolv: string | null = null;
  const release = () => {
    opened.splice(0).forEach(closeFd);
    if (resolv !== null) removeFile(resolv);
    resolv = null;
  };
  const undo: (() => void)[] = [];
  const abandon = () => {
    release();
    for (const step of undo.reverse()) step();
  };
  try {
    const { path: root, fd: rootFd, ...owner } = checkRoot(options.root, opened);
    const argv = options.cmd?.length ? options.cmd : ["/bin/sh"];
    const network = networkMode(options.network, options.hostNetwork);
    const ports = options.ports ?? [];
    if (ports.length > 0 && network !== "private") {
      throw new ContainError("Cannot publish ports: they need a private network (--network private)", { errno: Errno.EINVAL });
    }
    const pasta = network === "private" ? findProgram("pasta") : null;
    if (network === "private" && pasta === null) throw missingPasta();
    const pastaArgs = pasta === null ? undefined : pastaArguments(pasta, ports, process.geteuid!() === 0);
    // The container's resolver asks pasta's forwarder: a file bound over /etc/resolv.conf,
    // first, so that a -b of the caller's own still wins. Its name goes once the start is
    // over (the kernel will not mount a file that has none left).
    if (pastaArgs) resolv = writeResolvConf();
    const resolvBind: Mount[] = resolv === null ? [] : [{ type: "bind", source: resolv, target: "/etc/resolv.conf", readonly: true }];
    const mounts = planMounts([...resolvBind, ...(options.mounts ?? [])], opened);
    const initEnvp = commandEnvironment(options.env);
    const maps = planMaps(options.uidMap, options.gidMap);
    for (const plan of maps) if (plan.warning) options.onWarning?.(plan.warning);
    if (defaultRootMap(options.uidMap, options.gidMap)) {
      const containerRoot = hostRoot(maps[0]) ?? 0;
      if (!options.ephemeral) refuseReachableRoot(options.root, rootFd, containerRoot);
      for (const mount of mounts) {
        if (mount.kind === "bind") refuseReachableBind({ source: mount.source!, fd: mount.fd!, readonly: mount.readonly === true }, containerRoot);
      }
    }
    // /etc/subuid is read only for a DIR that container root does not own.
    if (owner.uid !== hostRoot(maps[0])) {
      const warning = ownerWarning(argText(options.root), owner, maps, delegatedRanges());
      if (warning) options.onWarning?.(warning);
    }
    const pty = options.console ? openConsole() : null;
    if (pty) {
      undo.push(() => closeConsole(pty));
      // The pty belongs to host root; the console is container root's, whatever host ID that is.
      if (process.geteuid!() === 0) chownFd(pty.slave, hostRoot(maps[0]) ?? 0, 0xffffffff);
    }
    // As host root, container root is another host ID: the cgroup is given to it, as
    // systemd delegates one. A user's container root is the user, who owns it already.
    const cgroupOwner = process.geteuid!() === 0 ? { uid: hostRoot(maps[0]) ?? 0, gid: hostRoot(maps[1]) ?? 0 } : null;
    const cgroup = ContainerCgroup.make(options.limits ?? {}, cgroupOwner);
    if (cgroup) undo.push(() => cgroup.end());
    let flags = network === "host" ? Flag.hostNetwork : network === "private" ? Flag.privateNetwork : 0;
    if (options.ephemeral) flags |= Flag.ephemeral;
    if (pty) flags |= Flag.console;
    const config: SpawnConfig = {
      mode: Mode.contain,
      flags,
      argv,
      envp: environment(options.helperEnv ?? process.env),
      initEnvp,
      cwd: options.cwd,
      mounts,
      stdio: pty ? [-1, -1, fds[2]] : fds,
      root,
      rootFd,
      console: pty?.path,
      inside: options.inside,
      outside: options.outside,
      lockUidMap: lockMap(maps[0]),
      lockGidMap: lockMap(maps[1]),
      cgroup: cgroup?.fds[0],
      cgroupLeave: cgroup?.fds[1],
    };
    return {
      config,
      maps,
      command: argText(argv[0]!),
      network: pastaArgs,
      beforeGo: (holder: ChildProcess) => bindFds(mounts, holder, options.onWarning),
      failed(error: unknown): unknown {
        abandon();
        return explain(error, options.root, maps[0]);
      },
      finish(holder: ChildProcess): ChildProcess {
        release();
        if (cgroup) {
          cgroup.started();
          holder.whenReaped(() => {
            const problem = cgroup.end();
            holder.usage = cgroup.usage;
            if (problem) options.onWarning?.(problem);
          });
        }
        if (!pty) return holder;
        const input = fds[0] >= 0 ? fds[0] : 0;
        const output = fds[1] >= 0 ? fds[1] : 1;
        relayConsole(holder, pty, input, output, options.onWarning);
        return holder;
      },
    };
  } catch (error) {
    abandon();
    throw error;
  }
}

function closeConsole(pty: Console): void {
  closeFd(pty.master);
  closeFd(pty.slave);
}

/** Copies stdin to the console and the console to stdout on the shim's watcher thread
 *  until the holder exits; the terminal is raw meanwhile and restored on every way out. */
function relayConsole(
  holder: ChildProcess,
  pty: Console,
  input: number,
  output: number,
  onWarning?: (message: string) => void,
): void {
  const saved = rawTerminal(input);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    if (saved) restoreTerminal(input, saved);
    process.off("exit", restore);
  };
  if (saved) {
    copyTerminalSize(input, pty.master);
    process.on("exit", restore);
  } else {
    consoleNoEcho(pty.slave);
  }
  holder.relayConsole({
    master: pty.master,
    input,
    output,
    follow: saved !== null,
    onError: (errno) => onWarning?.(`Failed to relay the console: ${strerror(errno)}`),
    // Whoever awaits exited, or wait's caller, finds the terminal restored and the
    // console closed.
    onEnd() {
      restore();
      closeConsole(pty);
    },
  });
}
