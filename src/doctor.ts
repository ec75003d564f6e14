// contain --doctor: what makes containers fail on this host, and how to fix each problem.
// Each check is a pure function of plain data (file contents, stat results, probe output),
// so unit tests need no privileges; runDoctor gathers the data and runs the probes.
//
// This module imports neither native.ts nor userns.ts (which load the shim on import):
// the doctor must still run on a host where the native library cannot be built or loaded,
// and says so (shim.ts only tries it).
import { cgroupPlace } from "./hierarchy.ts";
import { accessSync, constants, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { ContainError } from "./errors.ts";
import { type IdKind, type IdRange, parseProcMap, parseSubordinate, parseSubordinateAll, userName } from "./maps.ts";
import { libraryPath, shimProblem } from "./shim.ts";

export type CheckStatus = "ok" | "warn" | "fail" | "info";

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

/** The outcome of running a probe command: its exit code (-1 when it died of a signal or
 *  timed out) and what it wrote to stderr. */
export interface Probe {
  exitCode: number;
  stderr: string;
}

/** What /dev/ptmx is on the host. */
export type Ptmx =
  | { kind: "link"; target: string }
  | { kind: "char"; major: number; minor: number }
  | { kind: "other"; what: string }
  | { kind: "missing" };

export interface DoctorOptions {
  /** PATH to search for newuidmap and newgidmap (default: $PATH, then /usr/bin:/bin:/usr/sbin:/sbin). */
  path?: string;
  /** Paths of the subordinate ID files (default /etc/subuid and /etc/subgid). */
  subuid?: string;
  subgid?: string;
  /** Check for this user instead of the real one (the probes still run as this process). */
  identity?: { uid: number; name: string };
}

/** The namespaces contain creates; pseudo needs only the user namespace. */
export const NAMESPACES = ["cgroup", "ipc", "mnt", "net", "pid", "time", "uts"] as const;

const KERNEL_OPTION: Record<string, string> = {
  cgroup: "CONFIG_CGROUPS, Linux 4.6 or later",
  ipc: "CONFIG_IPC_NS",
  mnt: "always built in",
  net: "CONFIG_NET_NS",
  pid: "CONFIG_PID_NS",
  time: "CONFIG_TIME_NS, Linux 5.6 or later",
  uts: "CONFIG_UTS_NS",
};

const DEFAULT_RANGE = { start: 100000, count: 65536 };
const SECCOMP_FIX = "run outside the restricted container, or with a seccomp profile that allows unshare/clone with namespace flags";

const firstLine = (text: string) => text.trim().split("\n")[0] ?? "";
const showRange = (range: IdRange) => `${range.start}-${range.start + range.count - 1}`;
const fileOf = (kind: IdKind) => (kind === "UID" ? "/etc/subuid" : "/etc/subgid");
const helperOf = (kind: IdKind) => (kind === "UID" ? "newuidmap" : "newgidmap");

// ---------------------------------------------------------------------------------------
// Pure checks

/** 1. The kernel has user namespaces and allows some to be created. `max` is the contents of
 *  /proc/sys/user/max_user_namespaces and `unprivilegedClone` of Debian's
 *  /proc/sys/kernel/unprivileged_userns_clone, null when missing. */
export function checkUserNamespaces(input: {
  nsUser: boolean;
  max: string | null;
  unprivilegedClone?: string | null;
  root: boolean;
}): Check {
  const name = "user namespaces";
  if (!input.nsUser) {
    const detail = "/proc/self/ns/user is missing: this kernel has no user namespaces";
    return { name, status: "fail", detail, fix: "use a kernel built with CONFIG_USER_NS=y" };
  }
  const max = input.max?.trim();
  if (max !== undefined && max !== "" && Number(max) === 0) {
    const detail = "max_user_namespaces = 0: the kernel allows no user namespaces";
    return { name, status: "fail", detail, fix: "sysctl -w user.max_user_namespaces=15000" };
  }
  const shown = max === undefined ? "no max_user_namespaces limit (kernel before 4.9)" : `max_user_namespaces = ${max}`;
  if (input.unprivilegedClone?.trim() === "0") {
    if (input.root) return { name, status: "ok", detail: `${shown}; unprivileged_userns_clone = 0 does not limit root` };
    const detail = `${shown}, but unprivileged_userns_clone = 0: only root may create user namespaces`;
    return { name, status: "fail", detail, fix: "sysctl -w kernel.unprivileged_userns_clone=1" };
  }
  return { name, status: "ok", detail: shown };
}

/** 1. Every namespace kind contain creates exists under /proc/self/ns. */
export function checkNamespaceKinds(present: string[]): Check {
  const name = "namespace kinds";
  const missing = NAMESPACES.filter((kind) => !present.includes(kind));
  if (missing.length === 0) return { name, status: "ok", detail: NAMESPACES.join(" ") };
  const detail = `missing from /proc/self/ns: ${missing.join(" ")} (contain needs them all; pseudo needs only user)`;
  const fix = `use a kernel with ${missing.map((kind) => `${kind} (${KERNEL_OPTION[kind]})`).join(", ")}`;
  return { name, status: "fail", detail, fix };
}

/** 2. Ubuntu's AppArmor restriction on unprivileged user namespaces. `restrict` is the contents
 *  of /proc/sys/kernel/apparmor_restrict_unprivileged_userns, null when missing. */
export function checkAppArmor(input: { restrict: string | null; root: boolean; bun?: string }): Check {
  const name = "apparmor";
  if (input.restrict === null) return { name, status: "ok", detail: "no AppArmor restriction on user namespaces" };
  const value = input.restrict.trim();
  if (value === "0") return { name, status: "ok", detail: "apparmor_restrict_unprivileged_userns = 0" };
  if (input.root) return { name, status: "info", detail: `apparmor_restrict_unprivileged_userns = ${value}: root is not restricted` };
  const bun = input.bun ?? "/path/to/bun";
  // Ubuntu 23.10 and later (24.04 included): a user namespace made by a program that no
  // AppArmor profile allows gets no capabilities in it, so every map and mount fails.
  const detail =
    `kernel.apparmor_restrict_unprivileged_userns = ${value} (Ubuntu's default since 23.10): ` +
    "user namespaces made by programs without an AppArmor profile that allows them, Bun among them, get no capabilities, so containers fail";
  const profile = `abi <abi/4.0>,\\ninclude <tunables/global>\\nprofile bun ${bun} flags=(unconfined) {\\n  userns,\\n}\\n`;
  const fix =
    "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for bun: " +
    `printf '${profile}' > /etc/apparmor.d/bun && apparmor_parser -r /etc/apparmor.d/bun`;
  return { name, status: "fail", detail, fix };
}

/** 0. The native library loads and speaks this code's ABI. `problem` is why not, or null. */
export function checkShim(input: { path: string; problem: string | null }): Check {
  const name = "native library";
  if (input.problem === null) return { name, status: "ok", detail: `${input.path} loads` };
  const [detail, fix] = input.problem.split("; ");
  return { name, status: "fail", detail: detail!, ...(fix ? { fix } : {}) };
}

/** The Seccomp: mode in /proc/self/status contents (0 none, 1 strict, 2 filter), or null. */
export function seccompMode(status: string | null): number | null {
  const match = status?.match(/^Seccomp:\s*(\d+)/m);
  return match ? Number(match[1]) : null;
}

/** 3. A seccomp filter that blocks unshare. `status` is /proc/self/status; `probe` is the result of
 *  `unshare -U true`, or null when util-linux unshare is not installed. */
export function checkSeccomp(input: { status: string | null; probe: Probe | null }): Check {
  const name = "seccomp";
  const mode = seccompMode(input.status);
  const filtered = mode === 2;
  const shown = mode === null ? "no Seccomp: line in /proc/self/status" : `Seccomp: ${mode}`;
  if (input.probe === null) {
    if (!filtered) return { name, status: "ok", detail: `${shown}; unshare (util-linux) not installed to test` };
    const detail = `${shown} (a filter is set) and unshare (util-linux) is not installed to test whether it blocks user namespaces`;
    return { name, status: "warn", detail, fix: "install util-linux and run the doctor again" };
  }
  if (input.probe.exitCode === 0) {
    const note = filtered ? " (the seccomp filter allows it)" : "";
    return { name, status: "ok", detail: `${shown}; unshare -U true works${note}` };
  }
  const error = firstLine(input.probe.stderr) || `exit status ${input.probe.exitCode}`;
  const blocked = /Operation not permitted|Function not implemented/.test(input.probe.stderr);
  if (filtered && blocked) {
    return { name, status: "fail", detail: `unshare -U true failed under a seccomp filter (${shown}): ${error}`, fix: SECCOMP_FIX };
  }
  const fix =
    "see the user namespaces and apparmor checks; unshare of a user namespace also fails with EPERM " +
    `in a chroot${filtered ? `, or: ${SECCOMP_FIX}` : ""}`;
  return { name, status: "fail", detail: `unshare -U true failed (${shown}): ${error}`, fix };
}

/** Whether `getcap PATH` output gives the capability (cap_setuid or cap_setgid) effective. */
export function hasCapability(getcap: string, capability: string): boolean {
  return new RegExp(`${capability}\\b\\S*?[=+][ip]*e`).test(getcap);
}

/** 4. newuidmap or newgidmap is installed and can write maps: setuid root or with the file
 *  capability. `caps` is `getcap PATH` output, or null when getcap is not installed. `ranges`
 *  says whether the user has delegated ranges for this kind (the helper matters only then). */
export function checkHelper(input: {
  kind: IdKind;
  path: string | null;
  stat: { mode: number; uid: number } | null;
  caps: string | null;
  root: boolean;
  ranges: boolean;
}): Check {
  const name = helperOf(input.kind);
  const fix = "apt-get install uidmap (Debian/Ubuntu; the shadow-utils package elsewhere)";
  if (input.root) {
    const found = input.path === null ? "not installed" : `at ${input.path}`;
    return { name, status: "info", detail: `${found}; not needed as root, which writes its maps itself` };
  }
  if (input.path === null) {
    if (!input.ranges) {
      const detail = `not found; needed only to map IDs delegated in ${fileOf(input.kind)}`;
      return { name, status: "info", detail, fix };
    }
    const detail = `not found: containers map only your own ${input.kind}, not the ranges in ${fileOf(input.kind)}`;
    return { name, status: "warn", detail, fix };
  }
  const setuid = input.stat !== null && (input.stat.mode & 0o4000) !== 0;
  if (setuid && input.stat!.uid === 0) return { name, status: "ok", detail: `${input.path} is setuid root` };
  const capability = input.kind === "UID" ? "cap_setuid" : "cap_setgid";
  if (input.caps !== null && hasCapability(input.caps, capability)) {
    return { name, status: "ok", detail: `${input.path} has ${capability}` };
  }
  const severity = input.ranges ? "fail" : "info";
  const permissions = `chmod u+s ${input.path} (owned by root), or setcap ${capability}+ep ${input.path}`;
  if (setuid) {
    const detail = `${input.path} is setuid but owned by UID ${input.stat!.uid}, not root`;
    return { name, status: severity, detail, fix: `chown root ${input.path} && ${permissions}` };
  }
  if (input.caps === null) {
    const detail = `${input.path} is not setuid, and whether it has ${capability} cannot tell (getcap is not installed)`;
    return { name, status: input.ranges ? "warn" : "info", detail, fix: `install getcap (libcap2-bin), or ${permissions}` };
  }
  const detail = `${input.path} is neither setuid root nor has ${capability}: it cannot write maps`;
  return { name, status: severity, detail, fix: `reinstall uidmap, or ${permissions}` };
}


const overlapOf = (a: IdRange, b: IdRange): IdRange | null => {
  const start = Math.max(a.start, b.start);
  const end = Math.min(a.start + a.count, b.start + b.count);
  return start < end ? { start, count: end - start } : null;
};

/** The first block of `count` IDs from 100000 up that no entry uses. */
function freeRange(entries: IdRange[]): IdRange {
  let start = DEFAULT_RANGE.start;
  for (const range of [...entries].sort((a, b) => a.start - b.start)) {
    if (overlapOf({ start, count: DEFAULT_RANGE.count }, range) !== null) start = range.start + range.count;
  }
  return { start, count: DEFAULT_RANGE.count };
}

/** 5. This user's ranges in /etc/subuid or /etc/subgid. `text` is the file's contents, null when
 *  missing; `file` is its path, for the messages. */
export function checkSubordinate(input: {
  kind: IdKind;
  file: string;
  text: string | null;
  name: string;
  uid: number;
  root: boolean;
}): Check {
  const { kind, file, name: user, uid } = input;
  const name = kind === "UID" ? "subuid" : "subgid";
  const text = input.text ?? "";
  const mine = parseSubordinate(text, user, uid);
  const others = parseSubordinateAll(text).filter((entry) => entry.owner !== user && entry.owner !== String(uid));
  const shown = mine.map(showRange).join(", ");
  const lines = mine.length === 1 ? "1 line" : `${mine.length} lines`;
  if (input.root) {
    const detail = mine.length === 0 ? `no entry for ${user} in ${file}` : `${user} has ${shown} in ${file} (${lines})`;
    return { name, status: "info", detail: `${detail}; root maps any ${kind} without delegated ranges` };
  }
  if (mine.length === 0) {
    const missing = input.text === null ? `${file} is missing` : `no entry for ${user} (UID ${uid}) in ${file}`;
    const free = showRange(freeRange(others.map((entry) => entry.range)));
    const option = kind === "UID" ? "--add-subuids" : "--add-subgids";
    return {
      name,
      status: "warn",
      detail: `${missing}: containers map only your own ${kind}`,
      fix: `usermod ${option} ${free} ${user}`,
    };
  }
  const problems: string[] = [];
  for (let i = 0; i < mine.length; i++) {
    for (let j = i + 1; j < mine.length; j++) {
      const shared = overlapOf(mine[i]!, mine[j]!);
      if (shared === null) continue;
      problems.push(`your ranges ${showRange(mine[i]!)} and ${showRange(mine[j]!)} overlap at ${showRange(shared)}`);
    }
  }
  for (const range of mine) {
    for (const other of others) {
      const shared = overlapOf(range, other.range);
      if (shared !== null) problems.push(`${showRange(shared)} is also delegated to ${other.owner}`);
    }
  }
  const detail = `${user} has ${shown} in ${file} (${lines})`;
  if (problems.length === 0) return { name, status: "ok", detail };
  const used = [...mine, ...others.map((entry) => entry.range)];
  const option = kind === "UID" ? "subuids" : "subgids";
  const free = showRange(freeRange(used));
  const fix = `give each range to one user only, once: usermod --del-${option} START-END ${user}, then --add-${option} ${free} ${user}`;
  return { name, status: "fail", detail: `${detail}: ${problems.join("; ")}`, fix };
}

/** 8. Whose files container root can write. As root, pseudo's container root is the top ID of
 *  root's own map (4294967294 on a host), so a tree owned by host root (a package's source,
 *  for dpkg-buildpackage -rpseudo) is not writable under the default map. `uidMap` and
 *  `gidMap` are /proc/self/uid_map and gid_map contents. */
export function checkPseudoRoot(input: { root: boolean; uidMap: string; gidMap: string }): Check {
  const name = "pseudo";
  if (!input.root) {
    const detail = "container root is your own UID: pseudo writes where you can, and chowns into your subordinate IDs";
    return { name, status: "info", detail };
  }
  const top = (text: string, kind: string) => {
    const items = parseProcMap(text, `/proc/self/${kind}_map`);
    return Math.max(...items.map((item) => item.inside + item.count - 1));
  };
  const uid = top(input.uidMap, "uid");
  const gid = top(input.gidMap, "gid");
  const detail =
    `as root, container root is UID ${uid} (the top of root's own map), not root: files owned by root that others may not ` +
    "write (a source tree for dpkg-buildpackage -rpseudo) give Permission denied under pseudo";
  const fix = `to act as host root on them, map container root onto it: pseudo -u 0:0:${uid + 1} -g 0:0:${gid + 1} CMD`;
  return { name, status: "info", detail, fix };
}

/** What lstat of /dev/ptmx says, as a Ptmx. */
export function describePtmx(
  stat: { isSymbolicLink: boolean; isCharacterDevice: boolean; rdev: number } | null,
  target?: string,
): Ptmx {
  if (stat === null) return { kind: "missing" };
  if (stat.isSymbolicLink) return { kind: "link", target: target ?? "" };
  if (stat.isCharacterDevice) {
    // glibc's dev_t encoding (major in bits 8-19 and 32-43, minor in 0-7 and 20-31).
    const rdev = BigInt(stat.rdev);
    const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
    const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
    return { kind: "char", major, minor };
  }
  return { kind: "other", what: "neither a device nor a link" };
}

/** 6. devpts instances: `probe` is the result of mounting a new devpts instance in a new user and
 *  mount namespace (null when unshare is not installed); `ptmx` is what the host's /dev/ptmx is,
 *  and `ptmxDenied` the error from opening it read-write (null when allowed). */
export function checkDevpts(input: { probe: Probe | null; ptmx: Ptmx; ptmxDenied?: string | null }): Check {
  const name = "devpts";
  const { ptmx } = input;
  const ptmxFix =
    "make the host's /dev/ptmx a link to pts/ptmx (with devpts mounted ptmxmode=666) or the device: mknod -m 666 /dev/ptmx c 5 2";
  let ptmxProblem: string | null = null;
  if (ptmx.kind === "missing") ptmxProblem = "/dev/ptmx is missing";
  else if (ptmx.kind === "other") ptmxProblem = `/dev/ptmx is ${ptmx.what}`;
  else if (ptmx.kind === "char" && (ptmx.major !== 5 || ptmx.minor !== 2)) {
    ptmxProblem = `/dev/ptmx is the device ${ptmx.major}:${ptmx.minor}, not 5:2`;
  } else if (ptmx.kind === "link" && !/^(\/dev\/)?pts\/ptmx$/.test(ptmx.target)) {
    ptmxProblem = `/dev/ptmx is a link to ${ptmx.target}, not pts/ptmx`;
  } else if (input.ptmxDenied) ptmxProblem = `/dev/ptmx cannot be opened read-write: ${input.ptmxDenied}`;
  const ptmxShown = ptmx.kind === "link" ? `/dev/ptmx -> ${ptmx.target}` : "/dev/ptmx is the device 5:2";

  const mountFix =
    "the kernel must allow a new devpts instance (CONFIG_DEVPTS_MULTIPLE_INSTANCES=y on kernels before 4.7); " +
    "the host's /dev/ptmx should be a link to pts/ptmx or a real device (c 5 2)";
  if (input.probe !== null && input.probe.exitCode !== 0) {
    const error = firstLine(input.probe.stderr) || `exit status ${input.probe.exitCode}`;
    // unshare's own messages start "unshare:"; mount's come from inside the new namespaces.
    if (error.startsWith("unshare:")) {
      return { name, status: "info", detail: `not tested: unshare -Urm failed (see the checks above): ${error}` };
    }
    const detail = `mounting a new devpts instance in a user namespace failed: ${error}`;
    return { name, status: "fail", detail, fix: mountFix };
  }
  const tested =
    input.probe === null ? "not tested (unshare from util-linux is not installed)" : "a new devpts instance mounts in a user namespace";
  if (ptmxProblem !== null) {
    return { name, status: "warn", detail: `${tested}; ${ptmxProblem}: the console cannot be opened`, fix: ptmxFix };
  }
  return { name, status: input.probe === null ? "info" : "ok", detail: `${tested}; ${ptmxShown}` };
}

/** 7. cgroup2, and whether each container can have a cgroup of its own under ours (`dir`):
 *  `denied` is the error from checking that `dir` and its cgroup.procs are writable (null
 *  when they are), `controllers` what `dir`'s cgroup.controllers lists. */
export function checkCgroup(input: { mount: string | null; dir: string | null; denied: string | null; controllers?: string[] }): Check {
  const name = "cgroup2";
  const fix =
    "run contain in a delegated cgroup, as systemd gives one: systemd-run --user --scope -p Delegate=yes contain ... " +
    "(or from a service with Delegate=yes)";
  const without = "containers share your cgroup: systemd cannot be their init (it needs a cgroup it may write), and --memory, --pids and --cpus are refused";
  if (input.mount === null) {
    return { name, status: "info", detail: `no cgroup2 mounted (cgroup v1 only): ${without}` };
  }
  const where =
    input.mount === "/sys/fs/cgroup"
      ? "/sys/fs/cgroup is cgroup2"
      : `cgroup2 is at ${input.mount}, not /sys/fs/cgroup (a hybrid host, its controllers on cgroup v1)`;
  if (input.dir === null) {
    return { name, status: "info", detail: `${where}; this process's cgroup is not under it: ${without}`, fix };
  }
  if (input.denied !== null) {
    return { name, status: "info", detail: `${where}; ${input.dir} is not writable by you (${input.denied}): ${without}`, fix };
  }
  const limits = ["memory", "pids", "cpu"].filter((controller) => input.controllers?.includes(controller));
  const limitText = limits.length === 3 ? "--memory, --pids and --cpus can be set" : `of --memory, --pids and --cpus, ${limits.length ? `only the ${limits.join(" and ")} controllers are there` : "none can be set (no memory, pids or cpu controller there)"}`;
  const status = input.mount === "/sys/fs/cgroup" ? "ok" : "info";
  return { name, status, detail: `${where}; each container gets a cgroup of its own in ${input.dir}, delegated to container root (systemd can be init); ${limitText}` };
}

export { cgroupPlace };

// ---------------------------------------------------------------------------------------
// Gathering and output

/** The errno text of node:fs's error, as strerror words it ("Permission denied", where
 *  node:fs says "EACCES: permission denied, open '/x'"). The doctor loads no native
 *  library, so the text is libuv's, with strerror's capital. */
function fsReason(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  const text = code !== undefined && message.startsWith(`${code}: `) ? message.slice(code.length + 2).replace(/, \w+ '.*'$/, "") : message;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** node:fs's error as the project's rule words one: a ContainError `Cannot VERB PATH: TEXT`
 *  with the errno. */
function fsError(error: unknown, verb: string, path: string): ContainError {
  const errno = (error as NodeJS.ErrnoException).errno;
  return new ContainError(`Cannot ${verb} ${path}: ${fsReason(error)}`, { errno: errno === undefined ? 0 : -errno, cause: error });
}

/** A file's contents, or null when it does not exist; other errors are thrown as ContainErrors. */
function read(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw fsError(error, "read", path);
  }
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Runs a check; a failure to gather its data becomes a warning that keeps the error's text. */
function guard(name: string, check: () => Check): Check {
  try {
    return check();
  } catch (error) {
    return { name, status: "warn", detail: `cannot check: ${message(error)}` };
  }
}

/** Runs a probe command; a failure to start it is reported as its stderr. */
function probe(argv: string[]): Probe {
  let result;
  try {
    result = Bun.spawnSync(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe", timeout: 10_000 });
  } catch (error) {
    return { exitCode: -1, stderr: `cannot run ${argv[0]}: ${message(error)}` };
  }
  const exitCode = result.exitCode ?? -1;
  const stderr = result.stderr.toString();
  return { exitCode, stderr: exitCode === -1 && stderr === "" ? `killed (${result.signalCode ?? "timeout"})` : stderr };
}

function helperCheck(kind: IdKind, search: string, root: boolean, ranges: boolean): Check {
  const path = Bun.which(helperOf(kind), { PATH: search });
  let stat: { mode: number; uid: number } | null = null;
  let caps: string | null = null;
  if (path !== null) {
    const info = statSync(path);
    stat = { mode: info.mode, uid: info.uid };
    const getcap = Bun.which("getcap", { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin:/usr/bin:/bin` });
    if (getcap !== null && !((stat.mode & 0o4000) !== 0 && stat.uid === 0)) {
      const result = Bun.spawnSync([getcap, path], { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
      caps = result.exitCode === 0 ? result.stdout.toString() : null;
    }
  }
  return checkHelper({ kind, path, stat, caps, root, ranges });
}

function writableError(dir: string): string | null {
  for (const path of [dir, `${dir}/cgroup.procs`]) {
    try {
      accessSync(path, constants.W_OK);
    } catch (error) {
      return `${path}: ${fsReason(error)}`;
    }
  }
  return null;
}

/** Runs every check on this host. */
/** 7. Whether the kernel lets a process push input into its terminal (TIOCSTI). `legacy` is
 *  /proc/sys/dev/tty/legacy_tiocsti, null on kernels before 6.2, which always allow it.
 *  Information only: contain refuses TIOCSTI inside containers either way. */
export function checkTiocsti(legacy: string | null): Check {
  const name = "tiocsti";
  const what = "containers cannot use it: a seccomp filter refuses TIOCSTI and TIOCLINUX to init, inject's CMD and all they start";
  if (legacy === null) return { name, status: "info", detail: `the kernel allows TIOCSTI (before Linux 6.2); ${what}` };
  if (legacy.trim() === "0") return { name, status: "info", detail: `dev.tty.legacy_tiocsti = 0: the kernel refuses TIOCSTI too` };
  return {
    name,
    status: "info",
    detail: `dev.tty.legacy_tiocsti = ${legacy.trim()}: other programs may still type into terminals they share; ${what}`,
  };
}

/** 9. --network private: pasta (Debian package passt) on PATH, and /dev/net/tun, which a
 *  user's pasta opens (`tunDenied`: the error opening it for reading and writing, or null).
 *  Only that mode needs them, so a problem is a warning. */
export function checkPrivateNetwork(input: { pasta: string | null; tun: boolean; tunDenied: string | null; root: boolean }): Check {
  const name = "private network";
  if (input.pasta === null) {
    return { name, status: "warn", detail: "pasta is not installed: --network private cannot start", fix: "apt-get install passt" };
  }
  if (!input.tun) {
    return { name, status: "warn", detail: "/dev/net/tun is missing: pasta cannot make the container's interface", fix: "modprobe tun" };
  }
  if (input.tunDenied !== null && !input.root) {
    return {
      name,
      status: "warn",
      detail: `/dev/net/tun is not usable by you (${input.tunDenied}): --network private fails as a user`,
      fix: "as root: chmod 0666 /dev/net/tun (Debian's own mode; a udev rule keeps it: KERNEL==\"tun\", MODE=\"0666\")",
    };
  }
  return { name, status: "ok", detail: `${input.pasta} and /dev/net/tun are usable: --network private works` };
}

/** 8. As root, what the default map asks of DIR. Information only. */
export function checkRootMap(root: boolean): Check | null {
  if (!root) return null;
  const detail =
    "as root, container IDs other than 0 are the host IDs of the same number, so contain takes a DIR " +
    "under that map only if other host users cannot reach it (DIR inside a directory that only container " +
    "root may enter: pseudo mkdir -m 700 PARENT), or with -e; -u and -g choose other maps";
  return { name: "root map", status: "info", detail };
}

export function runDoctor(options: DoctorOptions = {}): Check[] {
  const uid = options.identity?.uid ?? process.getuid!();
  const root = uid === 0;
  let passwd = "";
  try {
    passwd = read("/etc/passwd") ?? "";
  } catch {
    // Unreadable, it leaves the UID standing for the name, as a missing entry does.
  }
  const user = options.identity?.name ?? (root ? "root" : userName(passwd, uid));
  const files = { UID: options.subuid ?? "/etc/subuid", GID: options.subgid ?? "/etc/subgid" };
  const tools = `${process.env.PATH ?? ""}:/usr/bin:/bin:/usr/sbin:/sbin`;
  const unshare = Bun.which("unshare", { PATH: tools });
  const checks: Check[] = [];

  checks.push(guard("native library", () => checkShim({ path: libraryPath, problem: shimProblem() })));
  checks.push(
    guard("user namespaces", () =>
      checkUserNamespaces({
        nsUser: lstatSync("/proc/self/ns/user", { throwIfNoEntry: false }) !== undefined,
        max: read("/proc/sys/user/max_user_namespaces"),
        unprivilegedClone: read("/proc/sys/kernel/unprivileged_userns_clone"),
        root,
      }),
    ),
  );
  checks.push(guard("namespace kinds", () => checkNamespaceKinds(readdirSync("/proc/self/ns"))));
  checks.push(
    guard("apparmor", () =>
      checkAppArmor({ restrict: read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"), root, bun: process.execPath }),
    ),
  );
  const userns = unshare === null ? null : probe([unshare, "-U", "true"]);
  checks.push(guard("seccomp", () => checkSeccomp({ status: read("/proc/self/status"), probe: userns })));

  const ranges = (kind: IdKind) => {
    try {
      return parseSubordinate(read(files[kind]) ?? "", user, uid).length > 0;
    } catch {
      // The subordinate check below reports the error; judge the helper as if without ranges.
      return false;
    }
  };
  for (const kind of ["UID", "GID"] as const) {
    const search = options.path ?? tools;
    checks.push(guard(helperOf(kind), () => helperCheck(kind, search, root, ranges(kind))));
  }
  for (const kind of ["UID", "GID"] as const) {
    checks.push(
      guard(kind === "UID" ? "subuid" : "subgid", () => {
        const text = read(files[kind]);
        return checkSubordinate({ kind, file: files[kind], text, name: user, uid, root });
      }),
    );
  }

  checks.push(
    guard("devpts", () => {
      // -n: do not write /etc/mtab where it is still a file; -m makes the mount private.
      const mount = "mount -n -t devpts -o newinstance,ptmxmode=666 devpts /dev/pts";
      const tested = unshare === null || userns?.exitCode !== 0 ? null : probe([unshare, "-Urm", "sh", "-c", mount]);
      const found = lstatSync("/dev/ptmx", { throwIfNoEntry: false });
      const stat =
        found === undefined
          ? null
          : { isSymbolicLink: found.isSymbolicLink(), isCharacterDevice: found.isCharacterDevice(), rdev: found.rdev };
      const ptmx = describePtmx(stat, stat?.isSymbolicLink ? readlinkSync("/dev/ptmx") : undefined);
      let ptmxDenied: string | null = null;
      try {
        if (found !== undefined) accessSync("/dev/ptmx", constants.R_OK | constants.W_OK);
      } catch (error) {
        ptmxDenied = fsReason(error);
      }
      if (unshare !== null && tested === null) {
        return { name: "devpts", status: "info", detail: "not tested: unshare -U fails (see the seccomp check)" };
      }
      return checkDevpts({ probe: tested, ptmx, ptmxDenied });
    }),
  );

  checks.push(guard("tiocsti", () => checkTiocsti(read("/proc/sys/dev/tty/legacy_tiocsti"))));
  const rootMap = checkRootMap(root);
  if (rootMap) checks.push(rootMap);

  checks.push(
    guard("cgroup2", () => {
      const place = cgroupPlace(read("/proc/self/mountinfo") ?? "", read("/proc/self/cgroup") ?? "");
      const controllers = place.dir === null ? [] : (read(`${place.dir}/cgroup.controllers`) ?? "").trim().split(/\s+/);
      return checkCgroup({ ...place, denied: place.dir === null ? null : writableError(place.dir), controllers });
    }),
  );
  checks.push(
    guard("private network", () => {
      const tun = lstatSync("/dev/net/tun", { throwIfNoEntry: false }) !== undefined;
      let tunDenied: string | null = null;
      try {
        if (tun) accessSync("/dev/net/tun", constants.R_OK | constants.W_OK);
      } catch (error) {
        tunDenied = message(error);
      }
      return checkPrivateNetwork({ pasta: Bun.which("pasta", { PATH: tools }), tun, tunDenied, root });
    }),
  );
  checks.push(
    guard("pseudo", () =>
      checkPseudoRoot({ root, uidMap: read("/proc/self/uid_map") ?? "", gidMap: read("/proc/self/gid_map") ?? "" }),
    ),
  );
  return checks;
}

/** One line per check, `STATUS NAME: DETAIL`, and an indented `fix:` line where there is one. */
export function formatDoctor(checks: Check[]): string {
  return checks
    .map((check) => {
      const line = `${check.status.padEnd(6)}${check.name}: ${check.detail}`;
      return check.fix === undefined ? line : `${line}\n${" ".repeat(6)}fix: ${check.fix}`;
    })
    .join("\n");
}

/** 0 when no check failed, else 1. */
export function doctorStatus(checks: Check[]): number {
  return checks.some((check) => check.status === "fail") ? 1 : 0;
}
