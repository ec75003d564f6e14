// The only module that imports bun:ffi: one dlopen table for the Zig shim (zig/root.zig)
// and typed wrappers that return values or throw.
import { CString, dlopen, FFIType, type Pointer, ptr } from "bun:ffi";
import { type Arg, argText, envName, path0 } from "./arg.ts";
import { ContainError, Errno } from "./errors.ts";
import { ABI_VERSION, libraryPath, loadShim } from "./shim.ts";

export { ABI_VERSION, libraryPath };

const { u32, i32, ptr: pointer } = FFIType;

const symbols = {
  // ABI checks
  abi_version: { args: [], returns: u32 },
  abi_layout: { args: [pointer, u32], returns: u32 },
  step_text: { args: [u32, pointer, u32], returns: u32 },
  config_echo: { args: [pointer, pointer, u32], returns: u32 },
  termios_size: { args: [], returns: u32 },
  // processes
  spawn_child: { args: [pointer, pointer], returns: u32 },
  wait_child: { args: [i32, u32], returns: i32 },
  send_signal: { args: [i32, i32], returns: u32 },
  open_pidfd: { args: [i32], returns: i32 },
  release_region: { args: [i32], returns: FFIType.void },
  forward_start: { args: [u32], returns: u32 },
  die_of: { args: [u32], returns: FFIType.void },
  start_map_helpers: { args: [pointer, pointer, u32], returns: u32 },

  send_go: { args: [i32, pointer, pointer, u32], returns: u32 },
  source_tree: { args: [i32, i32], returns: i32 },
  object_open: { args: [pointer], returns: i32 },
  object_stat: { args: [i32, pointer], returns: u32 },
  object_reachable: { args: [i32, u32], returns: i32 },
  object_path: { args: [i32, pointer, u32], returns: i32 },
  close_fd: { args: [i32], returns: u32 },
  make_pipe: { args: [pointer], returns: u32 },
  read_fd: { args: [i32, pointer, u32], returns: i32 },
  // console
  console_open: { args: [pointer, u32, pointer], returns: u32 },
  terminal_raw: { args: [i32, pointer], returns: u32 },
  terminal_restore: { args: [i32, pointer], returns: u32 },
  terminal_no_echo: { args: [i32], returns: u32 },
  terminal_is: { args: [i32], returns: u32 },
  terminal_copy_size: { args: [i32, i32], returns: u32 },
  terminal_follow_size: { args: [i32, i32], returns: u32 },
  watch_child: { args: [i32, i32, i32, i32], returns: i32 },
  // files (node:fs costs more to load than pseudo's whole fast path)
  file_read: { args: [pointer, pointer, u32], returns: i32 },
  nofile_limit: { args: [i32, u32], returns: FFIType.f64 },
  file_write: { args: [pointer, pointer, u32], returns: u32 },
  fd_write: { args: [i32, pointer, u32], returns: u32 },
  file_stat: { args: [pointer, pointer], returns: u32 },
  file_open: { args: [pointer, u32], returns: i32 },
  fd_chown: { args: [i32, u32, u32], returns: u32 },
  // the container's cgroup
  cgroup_make: { args: [pointer, pointer, u32, u32], returns: u32 },
  cgroup_cleaner: { args: [pointer, pointer, u32, i32, pointer], returns: u32 },
  cgroup_remove: { args: [pointer], returns: u32 },
} as const;

export const native = loadShim(symbols);

/**
 * The shim's description of its side of the boundary (abi.layout in zig/abi.zig): struct
 * sizes and field offsets, modes, flags and step codes, by name. One call at load.
 */
function readLayout(): Record<string, number> {
  const buffer = new Uint8Array(8192);
  const length = native.abi_layout(ptr(buffer), buffer.length);
  if (length > buffer.length) throw new Error(`native library ${libraryPath} describes more than ${buffer.length} bytes of layout`);
  return JSON.parse(new CString(ptr(buffer), 0, length).toString());
}

const layout = readLayout();

/**
 * The numbers the shim gives by name: `names` maps each key to the shim's name for it.
 * Throws, naming it, for a name the shim does not give. One call per table, not per
 * field: a function called fifty times at start is one the JIT compiles, and that costs
 * pseudo a compiler thread and a megabyte (test/startup.test.ts fails if one does).
 */
function describe<const T extends Record<string, string>>(names: T): { readonly [K in keyof T]: number } {
  const values: Record<string, number> = {};
  for (const key in names) {
    const value = layout[names[key]!];
    if (value === undefined) {
      throw new Error(`native library ${libraryPath} does not describe ${names[key]}; rebuild it with \`bun run build:native\``);
    }
    values[key] = value;
  }
  return values as { readonly [K in keyof T]: number };
}

/** Byte offsets of abi.Config's fields, and its size (`size`). */
export const ConfigLayout = describe({
  size: "Config",
  mode: "Config.mode",
  flags: "Config.flags",
  targetPidfd: "Config.target_pidfd",
  stdio: "Config.stdio",
  argv: "Config.argv",
  envp: "Config.envp",
  root: "Config.root",
  console: "Config.console",
  inside: "Config.inside",
  outside: "Config.outside",
  cwd: "Config.cwd",
  initEnvp: "Config.init_envp",
  mounts: "Config.mounts",
  mountCount: "Config.mount_count",
  rootFd: "Config.root_fd",
  lockUidMap: "Config.lock_uid_map",
  lockGidMap: "Config.lock_gid_map",
  nofile: "Config.nofile",
  cgroup: "Config.cgroup",
  cgroupLeave: "Config.cgroup_leave",
});

/** Byte offsets of abi.Mount's fields, and its size (`size`). */
const MountLayout = describe({
  size: "Mount",
  kind: "Mount.kind",
  flags: "Mount.flags",
  source: "Mount.source",
  target: "Mount.target",
  sizeOption: "Mount.size",
});

/** Byte offsets of abi.Result's fields, and its size (`size`). */
const ResultLayout = describe({
  size: "Result",
  pid: "Result.pid",
  pidfd: "Result.pidfd",
  reportFd: "Result.report_fd",
  goFd: "Result.go_fd",
  region: "Result.region",
});

/** Byte offsets of abi.MapHelper's fields, and its size (`size`). */
const MapHelperLayout = describe({
  size: "MapHelper",
  args: "MapHelper.args",
  argsLength: "MapHelper.args_len",
  pidfd: "MapHelper.pidfd",
  stderr: "MapHelper.stderr",
  failure: "MapHelper.failure",
  stdin: "MapHelper.stdin",
});

/** At most this many binds, each an fd of the go message (abi.max_binds); and the bit of a
 *  go tag that says its fd is a detached tree, not a source (abi.go_tree). */
export const { maxBinds: MAX_BINDS, goTree: GO_TREE } = describe({ maxBinds: "max_binds", goTree: "go_tree" });

/** The codes of the steps that TypeScript tells apart (abi.Step). */
export const Step = describe({
  ready: "Step.ready",
  helperOutside: "Step.helper_outside",
  helperInside: "Step.helper_inside",
  exec: "Step.exec",
  resolveMountTarget: "Step.resolve_mount_target",
  bindSource: "Step.bind_source",
  enterWorkingDirectory: "Step.enter_working_directory",
  enterRoot: "Step.enter_root",
  createDev: "Step.create_dev",
  createProc: "Step.create_proc",
  createSys: "Step.create_sys",
  networkReady: "Step.network_ready",
});

/** The words of a step in "Failed to ...", from the shim. Called only on error paths. */
export function stepText(step: number): string {
  const buffer = new Uint8Array(256);
  const length = native.step_text(step, ptr(buffer), buffer.length);
  if (length === 0 || length > buffer.length) return `complete step ${step}`;
  return new TextDecoder().decode(buffer.subarray(0, length));
}

/** An errno from a system call made in this process, with the step that made it. */
export class NativeError extends ContainError {
  constructor(
    readonly call: string,
    errno: number,
  ) {
    super(`Failed to ${call}: ${strerror(errno)}`, { step: call, errno });
  }
}

let libc: { strerror: (errno: number) => unknown } | undefined;

/** The C library's text for an errno, as err(3) prints it. Loaded only on error paths. */
export function strerror(errno: number): string {
  libc ??= dlopen("libc.so.6", { strerror: { args: [i32], returns: FFIType.cstring } }).symbols;
  return String(libc.strerror(errno));
}

export const Mode = describe({ pseudo: "Mode.pseudo", contain: "Mode.contain", inject: "Mode.inject" });
export const Flag = describe({
  console: "flag.console",
  hostNetwork: "flag.host_network",
  ephemeral: "flag.ephemeral",
  defaultShell: "flag.default_shell",
  privateNetwork: "flag.private_network",
});
const MountKind = describe({ bind: "kind.bind", tmpfs: "kind.tmpfs" });
const MountFlag = describe({ readonly: "mount_flag.readonly", directory: "mount_flag.directory" });

/** A mount made under a container's new root (abi.Mount in zig/abi.zig, made by zig/binds.zig). */
export interface NativeMount {
  kind: "bind" | "tmpfs";
  /** bind: the host path. */
  source?: string;
  /** Absolute, inside the container. */
  target: string;
  readonly?: boolean;
  /** bind: the source is a directory (a missing target is made as one). */
  directory?: boolean;
  /** tmpfs: the size option. */
  size?: string;
}

export interface SpawnConfig {
  mode: (typeof Mode)[keyof typeof Mode];
  flags?: number;
  /** inject: a pidfd of the container's init, whose namespaces are joined. */
  targetPidfd?: number;
  /** fds for the child's 0, 1, 2; -1 keeps the parent's. */
  stdio?: [number, number, number];
  argv: readonly Arg[];
  /** NAME=value entries. */
  envp: readonly Arg[];
  root?: Arg;
  console?: string;
  inside?: Arg;
  outside?: Arg;
  cwd?: Arg;
  /** contain: CMD's environment (envp is the helpers'). */
  initEnvp?: readonly Arg[];
  mounts?: NativeMount[];
  /** contain: an O_PATH fd of DIR, which the holder enters. */
  rootFd?: number;
  /** contain: the maps of the nested user namespace that locks the mounts (lock.zig). */
  lockUidMap?: string;
  lockGidMap?: string;
  /** The soft RLIMIT_NOFILE the child starts with (Infinity: unlimited); 0 or none keeps ours. */
  nofile?: number;
  /** contain: the container's cgroup directory, which the holder is born in, and the
   *  supervisor's cgroup.procs, which it goes back to (see abi.Config); -1 for none. */
  cgroup?: number;
  cgroupLeave?: number;
}

/** What spawn_child gives: the first child's pid and pidfd, our ends of its report pipe
 *  and go socket, and its stacks (see ChildProcess in child.ts, which owns them all). */
export interface SpawnResult {
  pid: number;
  pidfd: number;
  reportFd: number;
  goFd: number;
  /** The children's stacks: release with releaseRegion once the first child is reaped. */
  region: number;
  /** The config's buffers, which the children read until CMD is executed. */
  buffers: unknown[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Writes the 64-bit pointer `address` at `offset` as two 32-bit halves. Addresses are
 * below 2^53, so a number holds them; BigInt would cost pseudo's start its first use.
 */
function setPointer(view: DataView, offset: number, address: number): void {
  view.setUint32(offset, address % 2 ** 32, true);
  view.setUint32(offset + 4, Math.floor(address / 2 ** 32), true);
}

/**
 * All of `texts` in one buffer, each NUL-terminated, so that one ptr() gives every
 * address; each text's address is `base + offsets[i]`. Throws for a NUL in one, naming it
 * `label(i)`. Per entry there are only loops and built-ins, no calls of ours: the
 * environment has dozens of entries, and a function of ours called for each would be
 * one the JIT compiles at every start (a compiler thread, a megabyte, most of a ms).
 */
function layOut(texts: readonly Arg[], label: (index: number) => string): { bytes: Uint8Array; length: number; offsets: number[]; base: Pointer } {
  let length = 0;
  for (let index = 0; index < texts.length; index++) {
    const text = texts[index]!;
    const nul = typeof text === "string" ? text.indexOf("\0") >= 0 : text.indexOf(0) >= 0;
    if (nul) throw new ContainError(`Cannot use ${label(index)}: it contains a NUL byte`, { errno: Errno.EINVAL });
    // An upper bound: UTF-16 to UTF-8 takes at most three bytes per code unit.
    length += (typeof text === "string" ? text.length * 3 : text.length) + 1;
  }
  // ptr() takes no empty buffer.
  const bytes = new Uint8Array(Math.max(length, 1));
  const offsets: number[] = new Array(texts.length);
  let at = 0;
  for (let index = 0; index < texts.length; index++) {
    const text = texts[index]!;
    offsets[index] = at;
    if (typeof text === "string") {
      at += encoder.encodeInto(text, bytes.subarray(at)).written + 1;
    } else {
      bytes.set(text, at);
      at += text.length + 1;
    }
  }
  return { bytes, length: at, offsets, base: ptr(bytes) };
}

const OPTIONAL = ["root", "console", "inside", "outside", "cwd", "lockUidMap", "lockGidMap"] as const;

export function encodeConfig(config: SpawnConfig, keep: unknown[]): DataView {
  const argc = config.argv.length;
  const envc = config.envp.length;
  const initEnvp = config.initEnvp ?? [];
  const mounts = config.mounts ?? [];
  // Every string, in this order: argv, envp, CMD's envp, then per mount its target,
  // source and size, then the optional paths; absent ones as "" (never pointed to).
  const texts: Arg[] = config.argv.concat(config.envp, initEnvp);
  const mountsAt = texts.length;
  for (const mount of mounts) texts.push(mount.target, mount.source ?? "", mount.size ?? "");
  const optionalAt = texts.length;
  for (const name of OPTIONAL) texts.push(config[name] ?? "");
  const label = (index: number) => {
    if (index < argc) return `cmd[${index}]`;
    if (index < mountsAt) return `environment variable ${envName(texts[index]!)}`;
    if (index < optionalAt) return `mounts[${Math.floor((index - mountsAt) / 3)}].${["target", "source", "size"][(index - mountsAt) % 3]}`;
    return OPTIONAL[index - optionalAt]!;
  };
  const strings = layOut(texts, label);
  const { base, offsets } = strings;

  // argv, NULL, envp, NULL, CMD's envp, NULL: the pointer arrays in one buffer too.
  const lists = argc + envc + initEnvp.length;
  const pointers = new DataView(new ArrayBuffer((lists + 3) * 8));
  for (let index = 0, slot = 0; index < lists; index++, slot++) {
    // The NULL that ends argv (and then envp) takes a slot of its own.
    if (index === argc || index === argc + envc) slot++;
    const address = base + offsets[index]!;
    pointers.setUint32(slot * 8, address % 2 ** 32, true);
    pointers.setUint32(slot * 8 + 4, Math.floor(address / 2 ** 32), true);
  }
  const pointerBase = ptr(pointers);
  const M = MountLayout;
  const table = new DataView(new ArrayBuffer(Math.max(1, mounts.length) * M.size));
  for (let at = 0; at < mounts.length; at++) {
    const mount = mounts[at]!;
    const row = at * M.size;
    const first = mountsAt + at * 3;
    table.setUint32(row + M.kind, mount.kind === "bind" ? MountKind.bind : MountKind.tmpfs, true);
    table.setUint32(row + M.flags, (mount.readonly ? MountFlag.readonly : 0) | (mount.directory ? MountFlag.directory : 0), true);
    setPointer(table, row + M.target, base + offsets[first]!);
    setPointer(table, row + M.source, mount.source === undefined ? 0 : base + offsets[first + 1]!);
    setPointer(table, row + M.sizeOption, mount.size === undefined ? 0 : base + offsets[first + 2]!);
  }

  const C = ConfigLayout;
  const view = new DataView(new ArrayBuffer(C.size));
  const stdio = config.stdio ?? [-1, -1, -1];
  view.setUint32(C.mode, config.mode, true);
  view.setUint32(C.flags, config.flags ?? 0, true);
  view.setInt32(C.targetPidfd, config.targetPidfd ?? -1, true);
  for (let index = 0; index < 3; index++) view.setInt32(C.stdio + index * 4, stdio[index]!, true);
  setPointer(view, C.argv, pointerBase);
  setPointer(view, C.envp, pointerBase + (argc + 1) * 8);
  for (let at = 0; at < OPTIONAL.length; at++) {
    const given = config[OPTIONAL[at]!] !== undefined;
    setPointer(view, C[OPTIONAL[at]!], given ? base + offsets[optionalAt + at]! : 0);
  }
  setPointer(view, C.initEnvp, pointerBase + (argc + envc + 2) * 8);
  setPointer(view, C.mounts, mounts.length ? ptr(table) : 0);
  view.setUint32(C.mountCount, mounts.length, true);
  view.setInt32(C.rootFd, config.rootFd ?? -1, true);
  // Two halves: a BigInt would cost the commands a megabyte on their way to CMD.
  const nofile = config.nofile ?? 0;
  const finite = Number.isFinite(nofile);
  view.setUint32(C.nofile, finite ? nofile % 2 ** 32 : 0xffffffff, true);
  view.setUint32(C.nofile + 4, finite ? Math.floor(nofile / 2 ** 32) : 0xffffffff, true);
  view.setInt32(C.cgroup, config.cgroup ?? -1, true);
  view.setInt32(C.cgroupLeave, config.cgroupLeave ?? -1, true);
  keep.push(strings.bytes, pointers, view, table);
  return view;
}

/** Forks the first child (see zig/spawn.zig). Throws NativeError, naming the step that
 *  failed (allocating stacks, creating a pipe, the fork itself), on failure. */
export function spawnChild(config: SpawnConfig): SpawnResult {
  const buffers: unknown[] = [];
  const view = encodeConfig(config, buffers);
  const result = new DataView(new ArrayBuffer(ResultLayout.size));
  const failed = native.spawn_child(ptr(view), ptr(result));
  if (failed !== 0) throw new NativeError(stepText(failed >>> 16), failed & 0xffff);
  const R = ResultLayout;
  const field = (offset: number) => result.getInt32(offset, true);
  return { pid: field(R.pid), pidfd: field(R.pidfd), reportFd: field(R.reportFd), goFd: field(R.goFd), region: field(R.region), buffers };
}

/** Starts the shim's watcher thread on the child behind `pidfd` (relaying the console
 *  `master` to and from `input` and `output` when it is >= 0): the fd of a pipe that
 *  gives the relay's errno (4 bytes) and then EOF once the child may be reaped. */
export function watchChild(pidfd: number, master = -1, input = -1, output = -1): number {
  const fd = native.watch_child(pidfd, master, input, output);
  if (fd < 0) throw new NativeError("watch the child", -fd);
  return fd;
}

/** newuidmap or newgidmap, started by startMapHelpers. Reap it (waitChild) and close both
 *  fds whatever happened. */
export interface MapHelper {
  pidfd: number;
  /** The read end of its stderr. */
  stderr: number;
  /** Set when it never ran: the step that failed first (Step.exec for its exec) and the
   *  errno. */
  failed?: { step: number; errno: number };
}

/**
 * Starts a helper for each argv of `commands` (null: none for that entry) at once, with
 * `envp`, stdin and stdout on /dev/null and stderr on a pipe (see zig/map.zig); returns once
 * each has been executed or failed to be. Throws NativeError, with nothing left running or
 * open, when they could not be started at all.
 */
export function startMapHelpers(
  commands: [readonly string[] | null, readonly string[] | null],
  envp: readonly string[],
  stdin = -1,
): (MapHelper | null)[] {
  const M = MapHelperLayout;
  const table = new DataView(new ArrayBuffer(M.size * commands.length));
  // The first helper's stdin (pasta's namespace), else /dev/null.
  commands.forEach((_, index) => table.setInt32(index * M.size + M.stdin, index === 0 ? stdin : -1, true));
  // Each list as one buffer of NUL-terminated strings, which the shim splits.
  const args = commands.map((argv) => (argv === null ? null : layOut(argv, () => `${argv[0]}'s arguments`)));
  args.forEach((list, index) => {
    if (list === null) return;
    setPointer(table, index * M.size + M.args, list.base);
    table.setUint32(index * M.size + M.argsLength, list.length, true);
  });
  const environment = layOut(envp, () => "the environment");
  const failed = native.start_map_helpers(ptr(table), environment.base, environment.length);
  if (failed !== 0) throw new NativeError(stepText(failed >>> 16), failed & 0xffff);
  return commands.map((argv, index) => {
    if (argv === null) return null;
    const at = index * M.size;
    const helper: MapHelper = { pidfd: table.getInt32(at + M.pidfd, true), stderr: table.getInt32(at + M.stderr, true) };
    const failure = table.getUint32(at + M.failure, true);
    if (failure !== 0) helper.failed = { step: failure >>> 16, errno: failure & 0xffff };
    return helper;
  });
}

/** One record of a child's report pipe (abi.Report). */
export interface Report {
  step: number;
  /** An errno, the -o or -i helper's status, or 0 for Step.ready. */
  value: number;
  /** The index in the config's mounts of the mount the step acted on, or NO_OBJECT. */
  object: number;
}

/** The layout of abi.Report, and the object of a report that names none (abi.no_object). */
export const ReportLayout = describe({ size: "Report", step: "Report.step", value: "Report.value", object: "Report.object" });
export const { noObject: NO_OBJECT } = describe({ noObject: "no_object" });

/** The report in the first ReportLayout.size bytes of `bytes`. */
export function decodeReport(bytes: Uint8Array): Report {
  const view = new DataView(bytes.buffer, bytes.byteOffset, ReportLayout.size);
  const R = ReportLayout;
  return { step: view.getUint32(R.step, true), value: view.getUint32(R.value, true), object: view.getUint32(R.object, true) };
}

const reportBuffer = new Uint8Array(ReportLayout.size);

/** The next report from the child, or null at EOF (the command was executed). */
export function readReport(fd: number): Report | null {
  const n = native.read_fd(fd, ptr(reportBuffer), reportBuffer.length);
  if (n < 0) throw new NativeError("read the child's report", -n);
  if (n < reportBuffer.length) return null;
  return decodeReport(reportBuffer);
}

/** Dies of `signal`, as the command we supervised did (core dumps off). */
export function dieOf(signal: number): never {
  native.die_of(signal);
  process.exit(128 + signal);
}

/** The child's status in shell terms, plus 0x100 when a signal killed it (so that
 *  `status & 0xff` is what a shell shows), or null while it runs. */
export function waitChild(pidfd: number, block: boolean): number | null {
  const status = native.wait_child(pidfd, block ? 1 : 0);
  if (status === -1) return null;
  if (status < 0) throw new NativeError("wait for the child", -status);
  return status;
}

/** A pidfd for `pid`; throws NativeError (ESRCH when it is gone). */
export function openPidfd(pid: number): number {
  const fd = native.open_pidfd(pid);
  if (fd < 0) throw new NativeError("open the container's init", -fd);
  return fd;
}

export function sendSignal(pidfd: number, signal: number): void {
  const e = native.send_signal(pidfd, signal);
  // ESRCH: it has just exited, and its status is on its way.
  if (e !== 0 && e !== Errno.ESRCH) throw new NativeError("send a signal", e);
}

/**
 * Catches the signals a supervisor passes on, natively, from now on, and passes them to
 * the next child spawnChild starts (held until then). `terminalReachesChild`: the child
 * shares our process group, so what the terminal sends to the group is not sent again.
 */
export function forwardSignals(terminalReachesChild: boolean): void {
  const e = native.forward_start(terminalReachesChild ? 1 : 0);
  if (e !== 0) throw new NativeError("catch signals", e);
}

export function releaseRegion(region: number): void {
  native.release_region(region);
}

/** The fds that travel with the go message, and the tag of each (abi.go_tree). */
export interface GoFds {
  fds: number[];
  tags: number[];
}

/** The go message for a holder, carrying the binds' fds. */
export function sendGo(fd: number, go: GoFds): void {
  const fds = Int32Array.from(go.fds.length ? go.fds : [-1]);
  const tags = Uint32Array.from(go.tags.length ? go.tags : [0]);
  const e = native.send_go(fd, ptr(fds), ptr(tags), go.fds.length);
  if (e !== 0) throw new NativeError("release the child", e);
}

/** A detached copy of the mount tree at the O_PATH fd `source`, ID-mapped through the
 *  user namespace of `pid` unless it is 0: its fd, or the errno why not. */
export function sourceTree(source: number, pid: number): number | { errno: number } {
  const fd = native.source_tree(source, pid);
  return fd < 0 ? { errno: -fd } : fd;
}

/** An O_PATH fd of what `path` names (links followed), or the errno. */
export function openObject(path: Arg): number | { errno: number } {
  const fd = native.object_open(ptr(path0(path)));
  return fd < 0 ? { errno: -fd } : fd;
}

export interface ObjectStat extends FileStat {
  nlink: number;
}

/** fstat(2) of an fd, or the errno. */
export function statObject(fd: number): ObjectStat | number {
  const out = new Uint32Array(4);
  const e = native.object_stat(fd, ptr(out));
  return e !== 0 ? e : { mode: out[0]!, uid: out[1]!, gid: out[2]!, nlink: out[3]! };
}

/** Whether host users other than root and `containerRoot` can reach the object at `fd`
 *  through its real ancestors, their modes and ACLs (zig/objects.zig), or the errno. */
export function objectReachable(fd: number, containerRoot: number): boolean | number {
  const answer = native.object_reachable(fd, containerRoot >>> 0);
  return answer < 0 ? -answer : answer === 1;
}

/** The real path of the object at `fd`, as the kernel gives it. */
export function objectPath(fd: number): string {
  const buffer = new Uint8Array(4096);
  const length = native.object_path(fd, ptr(buffer), buffer.length);
  return length < 0 ? `(fd ${fd})` : decoder.decode(buffer.subarray(0, length));
}

export function closeFd(fd: number): void {
  native.close_fd(fd);
}

export function makePipe(): [number, number] {
  const fds = new Int32Array(2);
  const e = native.make_pipe(ptr(fds));
  if (e !== 0) throw new NativeError("create a pipe", e);
  return [fds[0]!, fds[1]!];
}

/** Reads `fd` into `buffer` until it is full or at EOF, blocking: the count. */
export function readFd(fd: number, buffer: Uint8Array): number {
  const n = native.read_fd(fd, ptr(buffer), buffer.length);
  if (n < 0) throw new NativeError("read a pipe", -n);
  return n;
}

export interface Console {
  master: number;
  slave: number;
  path: string;
}

export function openConsole(): Console {
  const path = new Uint8Array(64);
  const fds = new Int32Array(2);
  const e = native.console_open(ptr(path), path.length, ptr(fds));
  if (e !== 0) throw new NativeError("allocate a console pseudo-terminal", e);
  const text = new TextDecoder().decode(path.subarray(0, path.indexOf(0)));
  return { master: fds[0]!, slave: fds[1]!, path: text };
}

/** Switches a terminal to raw mode; returns the saved mode for restoreTerminal. */
export function rawTerminal(fd: number): Uint8Array | null {
  const saved = new Uint8Array(native.termios_size());
  return native.terminal_raw(fd, ptr(saved)) === 0 ? saved : null;
}

export function restoreTerminal(fd: number, saved: Uint8Array): void {
  native.terminal_restore(fd, ptr(saved));
}

/** isatty(fd). */
export function isTerminal(fd: number): boolean {
  return native.terminal_is(fd) === 1;
}

export function consoleNoEcho(fd: number): void {
  native.terminal_no_echo(fd);
}

export function copyTerminalSize(from: number, to: number): void {
  native.terminal_copy_size(from, to);
}

/** Copies `from`'s window size to `to` on every SIGWINCH, natively, from now on (for a
 *  process that stays blocked while the console is relayed: the CLI). */
export function followTerminalSize(from: number, to: number): void {
  const e = native.terminal_follow_size(from, to);
  if (e !== 0) throw new NativeError("follow the terminal's size", e);
}


/** The file's bytes, or null if it does not exist. Throws NativeError otherwise. */
export function readBytes(path: string): Uint8Array | null {
  for (let size = 4096; ; size *= 8) {
    const buffer = new Uint8Array(size);
    const n = native.file_read(path0(path), buffer, size);
    if (n === -Errno.ENOENT) return null;
    if (n < 0) throw new NativeError(`read ${path}`, -n);
    if (n < size) return buffer.subarray(0, n);
  }
}

/** The soft (or `hard`) open files limit of process `pid` (0: ours) from /proc/PID/limits:
 *  Infinity for unlimited, null when it cannot be read. */
export function nofileLimit(pid: number, hard: boolean): number | null {
  const value = native.nofile_limit(pid, hard ? 1 : 0);
  return value < 0 ? null : value;
}

/** The file's contents, or null if it does not exist. Throws NativeError otherwise. */
export function readText(path: string): string | null {
  const bytes = readBytes(path);
  return bytes === null ? null : decoder.decode(bytes);
}

/** Writes `text` to an existing file in one write (as /proc's map files need). */
export function writeText(path: string, text: string): void {
  const data = encoder.encode(text);
  const e = native.file_write(ptr(path0(path)), ptr(data), data.length);
  if (e !== 0) throw new NativeError(`write ${path}`, e);
}

/**
 * Writes `text` to `fd` at once, synchronously. For the commands' messages: in Bun the
 * first use of process.stderr costs several milliseconds, more than all of pseudo's own
 * start, and console.error paints a terminal red (test/startup.test.ts holds the bundles to
 * that). Errors are ignored, as a message to a closed stderr has nowhere to go.
 */
export function writeFd(fd: number, text: string): void {
  const data = encoder.encode(text);
  if (data.length > 0) native.fd_write(fd, ptr(data), data.length);
}

export interface FileStat {
  mode: number;
  uid: number;
  gid: number;
}

/** stat(2) of `path`, or the errno. */
export function statPath(path: Arg): FileStat | number {
  const out = new Uint32Array(3);
  const e = native.file_stat(ptr(path0(path)), ptr(out));
  return e !== 0 ? e : { mode: out[0]!, uid: out[1]!, gid: out[2]! };
}

export function openPath(path: string, writable: boolean): number {
  const fd = native.file_open(path0(path), writable ? 1 : 0);
  if (fd < 0) throw new NativeError(`open ${path}`, -fd);
  return fd;
}

export function chownFd(fd: number, uid: number, gid: number): void {
  const e = native.fd_chown(fd, uid, gid);
  if (e !== 0) throw new NativeError("change the console's owner", e);
}


/** Makes cgroup `name` in the directory `parent`, given with its delegated files to
 *  uid:gid (-1: left to us). Returns 0 or the errno. */
export function makeCgroup(parent: string, name: string, uid = -1, gid = -1): number {
  // Typed arrays straight in, not through ptr(): each call of ptr() on the way to CMD
  // brings it nearer the count at which the JIT compiles it, on a thread of its own.
  return native.cgroup_make(path0(parent), path0(name), uid >>> 0, gid >>> 0);
}

/** Removes the empty cgroup at `path` (rmdir). Returns 0 or the errno. */
export function removeCgroup(path: string): number {
  return native.cgroup_remove(path0(path));
}

/** Starts the cleaner of cgroup `name` in `parent` (zig/cgroup.zig), which removes it once
 *  every write end of the pipe whose read end is `lifeline` is closed. Gives its pidfd
 *  and the region of its stack, or throws NativeError. */
export function startCgroupCleaner(parent: string, name: string, lifeline: number): { pidfd: number; region: number } {
  const bytes = encoder.encode(name);
  const out = new Int32Array(2);
  const e = native.cgroup_cleaner(path0(parent), bytes, bytes.length, lifeline, out);
  if (e !== 0) throw new NativeError(`start the cleaner of cgroup ${parent}/${name}`, e);
  return { pidfd: out[0]!, region: out[1]! };
}
