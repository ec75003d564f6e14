// contain: CMD as PID 1 of a container with DIR as its root (DESIGN.md, process tree).
import { ChildProcess } from "./child.ts";
import { ContainError, Status } from "./errors.ts";
import {
  type Arg,
  argText,
  chownFd,
  closeFd,
  type Console,
  consoleNoEcho,
  copyTerminalSize,
  Flag,
  idmapTree,
  MAX_IDMAPPED,
  Mode,
  type NativeMount,
  openConsole,
  rawTerminal,
  refuseNul,
  restoreTerminal,
  type SpawnConfig,
  type FileStat,
  statPath,
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
  cmd?: readonly Arg[];
  /** Relay a pty console at /dev/console (the CLI's default; -c turns it off). */
  console?: boolean;
  uidMap?: string;
  gidMap?: string;
  /** "none" (the default): loopback only; "host" (-n): the host's network, and no /sys;
   *  "private": a network of the container's own that reaches out through pasta. */
  network?: NetworkMode;
  /** The same as network: "host" (kept for callers that predate network). */
  hostNetwork?: boolean;
  /** Ports of the container published on the host (-p); with network: "private". */
  ports?: PublishedPort[];
  /** -i and -o: /bin/sh -c helpers inside and outside the new namespaces. */
  inside?: Arg;
  outside?: Arg;
  /** CMD's environment, added to container=contain. */
  env?: Record<string, string | undefined>;
  /** The -i and -o helpers' environment. Default: process.env. The CLI
   *  passes its own environment here as the kernel gave it, bytes and all. */
  helperEnv?: Environment;
  /** CMD's working directory inside the container. Default: /. */
  cwd?: Arg;
  /** Binds and tmpfs mounts, made in order under the new root before the pivot. */
  mounts?: Mount[];
  /** DIR is the read-only lower layer of an overlay whose upper layer is a tmpfs of this
   *  container's own: CMD may write anywhere, DIR is never written. */
  ephemeral?: boolean;
  onWarning?: (message: string) => void;
}

/** A host path seen at `target` inside the container (read-only with `readonly`). */
export interface BindMount {
  type: "bind";
  source: string;
  target: string;
  readonly?: boolean;
}

/** A fresh tmpfs at `target`; `size` in bytes, or a string with a k, m, g or % suffix. */
export interface TmpfsMount {
  type: "tmpfs";
  target: string;
  size?: number | string;
}

export type Mount = BindMount | TmpfsMount;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

function checkRoot(root: Arg): { path: Arg; uid: number; gid: number } {
  refuseNul(root, "root");
  // Bytes that are not UTF-8 stay as they are: relative, they name the same directory in
  // the holder, which starts in ours.
  const path = typeof root === "string" ? resolve(root) : root;
  const stat = statPath(path);
  const name = argText(root);
  if (typeof stat === "number") throw new ContainError(`Cannot use ${name} as root filesystem: ${strerror(stat)}`, "", stat);
  if ((stat.mode & S_IFMT) !== S_IFDIR) throw new ContainError(`Cannot use ${name} as root filesystem: Not a directory`, "", 20);
  return { path, uid: stat.uid, gid: stat.gid };
}

/** Checks the mounts and turns them into the shim's form: a missing source or a target
 *  that is not absolute is a ContainError naming it. */
function planMounts(mounts: Mount[]): NativeMount[] {
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
    const source = resolve(mount.source);
    const stat = statPath(source);
    if (typeof stat === "number") throw new ContainError(`Cannot bind ${mount.source}: ${strerror(stat)}`, "bind", stat);
    const directory = (stat.mode & S_IFMT) === S_IFDIR;
    return { kind: "bind", source, target: mount.target, readonly: mount.readonly === true, directory };
  });
}

/**
 * As host root, container root is an unprivileged host ID, so a plain bind of root's
 * files could not be written: give each bind an ID-mapped copy of its source, through
 * which host IDs appear as the container's map shows them. The kernel lets only host
 * root make it, so the supervisor does, once the holder's maps exist. Where the kernel or
 * the filesystem refuses, the bind stays plain, with one warning.
 */
function idmapBinds(mounts: NativeMount[], holder: ChildProcess, warn?: (message: string) => void): number[] {
  const fds: number[] = [];
  let warned = false;
  mounts.forEach((mount, index) => {
    // Container root may remount its own mounts read-write, and through an ID-mapped one
    // it writes as host root: so a read-only bind stays plain, where host IDs keep it so.
    if (mount.kind !== "bind" || mount.readonly || fds.length >= MAX_IDMAPPED) return;
    const tree = idmapTree(mount.source!, holder.pid);
    if (typeof tree === "number") {
      holder.markIdmapped(index, fds.length);
      fds.push(tree);
    } else if (!warned) {
      warned = true;
      const why = strerror(tree.errno);
      warn?.(`Cannot ID-map the bind of ${mount.source} (${why}): it is a plain bind, which container root may not write`);
    }
  });
  return fds;
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
function explain(error: unknown, root: Arg, uid: MapPlan): unknown {
  if (!(error instanceof ContainError) || error.errno !== 13) return error;
  const entering = /enter new root/.test(error.step);
  if (!entering && !/^create \/(dev|proc|sys) in new root/.test(error.step)) return error;
  const host = hostRoot(uid);
  const what = entering ? "enter" : "write";
  const fix = entering ? `give it to that ID (chown ${host} ${root}), or build it with pseudo` : "build it with pseudo, or create dev, proc and sys in it";
  return new ContainError(
    `${error.message}: container root is host UID ${host}, which cannot ${what} ${argText(root)}; ${fix}`,
    error.step,
    error.errno,
    error.status,
  );
}

type Fds = [number, number, number];

/**
 * `fds`: the holder's 0, 1 and 2 (-1 keeps ours), which init keeps without a console.
 * With a console, the relay reads fds[0] and writes fds[1] instead (0 and 1 for -1), until
 * exited resolves.
 */
/**
 * `path` made absolute against the working directory, with "." and ".." taken away and
 * slashes single, as node:path's resolve does: whose load would cost contain 1.5 MB of
 * memory for these two lines.
 */
function resolve(path: string): string {
  const parts: string[] = [];
  for (const part of (path.startsWith("/") ? path : `${process.cwd()}/${path}`).split("/")) {
    if (part === "..") parts.pop();
    else if (part !== "" && part !== ".") parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/** An absolute path's parent directory, for bytes too ("/" for "/"). */
function parent(path: Arg): Arg {
  if (typeof path === "string") {
    let end = path.length;
    while (end > 1 && path[end - 1] === "/") end--;
    const slash = path.lastIndexOf("/", end - 1);
    return slash <= 0 ? "/" : path.slice(0, slash);
  }
  let end = path.length;
  while (end > 1 && path[end - 1] === 0x2f) end--;
  const slash = path.lastIndexOf(0x2f, end - 1);
  return slash <= 0 ? "/" : path.subarray(0, slash);
}

/** An absolute form of `path`: resolve's, or bytes under the working directory. */
function absolute(path: Arg): Arg {
  if (typeof path === "string") return resolve(path);
  if (path[0] === 0x2f) return path;
  const cwd = new TextEncoder().encode(`${process.cwd()}/`);
  const whole = new Uint8Array(cwd.length + path.length);
  whole.set(cwd);
  whole.set(path, cwd.length);
  return whole;
}

/**
 * As host root under the default map, every container ID but root is the host ID of the
 * same number, so container root can leave a setuid or setgid file in DIR for any real
 * host user or group (chown 1001:42 f; chmod 2755 f: group shadow for whoever runs it).
 * That is harmless only where no other host user can reach DIR: DIR or a directory above
 * it must be closed to them (no search permission for others, nor for a group other than
 * root's) and belong to root or to container root. Returns the problem, or null.
 */
export function reachableByOthers<P extends Arg>(path: P, stat: (path: P) => FileStat | number, containerRoot: number): boolean {
  for (let at = path; ; at = parent(at) as P) {
    const info = stat(at);
    if (typeof info !== "number" && (info.uid === 0 || info.uid === containerRoot)) {
      const othersOut = (info.mode & 0o001) === 0 && ((info.mode & 0o010) === 0 || info.gid === 0);
      if (othersOut) return false;
    }
    if (argText(at) === "/") break;
  }
  return true;
}

/**
 * The same for a writable bind as host root, and more so: through an ID-mapped bind,
 * container root writes as host root (a setuid-root file, for whoever can reach it), and
 * even a plain one takes files for real host IDs. A file's own mode says nothing of who
 * reaches it, so for a file the path starts at its directory. Returns the problem, or null.
 */
function bindReachable(mount: NativeMount, containerRoot: number): string | null {
  if (mount.kind !== "bind" || mount.readonly) return null;
  const from = mount.directory ? mount.source! : parent(mount.source!);
  if (!reachableByOthers(from, statPath, containerRoot)) return null;
  return (
    `Cannot bind ${argText(mount.source!)} writable: as host root, container root writes there as host root ` +
    `(setuid files too), and other host users can reach it: make it private (chmod 700), bind it :ro, ` +
    `or choose maps with -u and -g`
  );
}

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

/** Everything before the fork: the checks, the maps, the console. */
function prepare(options: ContainOptions, fds: Fds) {
  const { path: root, ...owner } = checkRoot(options.root);
  const argv = options.cmd?.length ? options.cmd : ["/bin/sh"];
  const network = networkMode(options.network, options.hostNetwork);
  const ports = options.ports ?? [];
  if (ports.length > 0 && network !== "private") {
    throw new ContainError("Cannot publish ports: they need a private network (--network private)", "", 22);
  }
  const pasta = network === "private" ? findProgram("pasta") : null;
  if (network === "private" && pasta === null) throw missingPasta();
  const pastaArgs = pasta === null ? undefined : pastaArguments(pasta, ports, process.geteuid!() === 0);
  const mounts = planMounts(options.mounts ?? []);
  const initEnvp = commandEnvironment(options.env);
  const maps = planMaps(options.uidMap, options.gidMap);
  for (const plan of maps) if (plan.warning) options.onWarning?.(plan.warning);
  // Explicit maps are the caller's choice, and an ephemeral root is never written.
  const defaultRootMap = process.geteuid!() === 0 && options.uidMap === undefined && options.gidMap === undefined;
  if (defaultRootMap && !options.ephemeral && reachableByOthers(absolute(root), statPath, hostRoot(maps[0]) ?? 0)) {
    const path = argText(absolute(root));
    throw new ContainError(
      `Cannot use ${argText(options.root)} as root filesystem: ${path} is open to other host users, and as host ` +
        `root the default map gives container IDs their own numbers on the host, so the container could leave ` +
        `setuid files there for them: keep it in a directory only container root may enter (made by ` +
        `pseudo mkdir -m 700, or chmod 700 ${path} itself), use -e, or choose maps with -u and -g`,
      "",
      1,
    );
  }
  if (defaultRootMap) {
    for (const mount of mounts) {
      const problem = bindReachable(mount, hostRoot(maps[0]) ?? 0);
      if (problem) throw new ContainError(problem, "bind", 1);
    }
  }
  // /etc/subuid is read only for a DIR that container root does not own.
  if (owner.uid !== hostRoot(maps[0])) {
    const warning = ownerWarning(argText(options.root), owner, maps, delegatedRanges());
    if (warning) options.onWarning?.(warning);
  }
  // The container's resolver asks pasta's forwarder: a file bound over /etc/resolv.conf,
  // first, so that a -b of the caller's own still wins. Its name goes once CMD runs.
  const resolv = pastaArgs ? writeResolvConf() : null;
  if (resolv !== null) mounts.unshift({ kind: "bind", source: resolv, target: "/etc/resolv.conf", readonly: true, directory: false });
  let pty;
  try {
    pty = options.console ? openConsole() : null;
  } catch (error) {
    if (resolv !== null) removeFile(resolv);
    throw error;
  }
  if (pty && process.geteuid!() === 0) {
    // The pty belongs to host root; the console is container root's, whatever host ID that is.
    chownFd(pty.slave, hostRoot(maps[0]) ?? 0, 0xffffffff);
  }
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
    console: pty?.path,
    inside: options.inside,
    outside: options.outside,
  };
  return {
    config,
    maps,
    command: argText(argv[0]!),
    network: pastaArgs,
    beforeGo:
      process.geteuid!() === 0 ? (holder: ChildProcess) => idmapBinds(mounts, holder, options.onWarning) : undefined,
    failed(error: unknown): unknown {
      if (resolv !== null) removeFile(resolv);
      if (pty) closeConsole(pty);
      return explain(error, options.root, maps[0]);
    },
    finish(holder: ChildProcess): ChildProcess {
      if (resolv !== null) removeFile(resolv);
      if (!pty) return holder;
      const input = fds[0] >= 0 ? fds[0] : 0;
      const output = fds[1] >= 0 ? fds[1] : 1;
      relayConsole(holder, pty, input, output, options.onWarning);
      return holder;
    },
  };
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
