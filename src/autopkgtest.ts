// autopkgtest's virtualisation server protocol (README.virtualisation-server.rst in Debian's
// autopkgtest package) over a container: one line in, one reply line out, on stdin and
// stdout. The testbed is an ephemeral container on a root directory or an extracted
// tarball, so the source is never written and `revert` is a new container.
import {
  accessSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { ContainError } from "./errors.ts";
import { contain, fromTarball, inject, type RootFilesystem, type Subprocess } from "./index.ts";
import { strerror } from "./native.ts";
import { findProgram } from "./network.ts";
import type { Stdio } from "./stdio.ts";
import { untar } from "./untar.ts";

export const NAME = "autopkgtest-virt-contain";

/** The testbed's network: "auto" is a private one (through pasta) where this host can
 *  start it, else the host's; "host" shares the host's; "none" is loopback only. */
export type NetworkChoice = "auto" | "host" | "none";

export interface ServerOptions {
  /** A root directory or a tarball of one. */
  source: string;
  /** Host directories bound into the testbed: [outside, inside]. */
  binds: [string, string][];
  network: NetworkChoice;
  debug: boolean;
  /** Where a tarball is extracted: a prefix for the fresh directory's name (-p), or a
   *  directory to make (-u), as autopkgtest-virt-unshare takes them. */
  prefix?: string | undefined;
  unpackDir?: string | undefined;
}

/**
 * The tarball sbuild's unshare mode uses for RELEASE and ARCH (shell patterns, `*` when not
 * given), as autopkgtest-virt-unshare finds it without -t: `RELEASE-ARCH.t*` in
 * `$XDG_CACHE_HOME/sbuild` (default `~/.cache/sbuild`), the first by name. `names` is that
 * directory's listing. Pure.
 */
export function sbuildTarball(names: string[], release: string, arch: string): string | undefined {
  const glob = new Bun.Glob(`${release}-${arch}.t*`);
  return names
    .filter((name) => glob.match(name))
    .sort()
    .at(0);
}

/** The directory sbuild's unshare mode keeps its tarballs in, for this environment. Pure. */
export function sbuildCache(env: Record<string, string | undefined>): string {
  const cache = env.XDG_CACHE_HOME ? env.XDG_CACHE_HOME : join(env.HOME ?? homedir(), ".cache");
  return join(cache, "sbuild");
}

/**
 * Checks, before the server says its first `ok`, that the source is there and readable and
 * that every bind's OUTSIDE exists: a mistake is one line and a status at the start, not a
 * failed `open` later. Throws a ContainError.
 */
export function checkSource(options: ServerOptions): void {
  const fail = (what: string, path: string, error: unknown) => {
    const errno = -((error as NodeJS.ErrnoException).errno ?? 0);
    const why = errno > 0 ? strerror(errno) : (error as Error).message;
    return new ContainError(`Cannot read ${what}${path}: ${why}`, { step: `read ${what || "source"}`, errno: errno > 0 ? errno : 0 });
  };
  let fd: number;
  try {
    fd = openSync(options.source, constants.O_RDONLY);
  } catch (error) {
    throw fail("", options.source, error);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isDirectory() && !stat.isFile()) throw new ContainError(`Cannot use ${options.source}: neither a tarball nor a directory`);
    // A directory's listing, or a tarball's first block: readable, not only openable.
    if (stat.isDirectory()) readdirSync(options.source);
    else readSync(fd, new Uint8Array(512));
  } catch (error) {
    if (error instanceof ContainError) throw error;
    throw fail("", options.source, error);
  } finally {
    closeSync(fd);
  }
  for (const [outside] of options.binds) {
    try {
      statSync(outside);
    } catch (error) {
      throw fail("--bind ", outside, error);
    }
  }
}

/** One reply line and, for a failed command, its message for stderr. */
export interface Reply {
  line: string;
  error?: string;
}

/**
 * TEXT as one line: every control character (a newline or carriage return would end the
 * reply early, and Python's text pipes take a lone CR as a line end too) and the Unicode
 * line separators written as an escape. A message may quote the testbed's stderr, so
 * without this a testbed could write the reply to the caller's next command. Pure.
 */
export function oneLine(text: string): string {
  const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (character) => {
    const code = character.charCodeAt(0);
    return named[character] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`);
  });
}

class CommandError extends Error {
  constructor(
    message: string,
    /** The reply word: `error` for misuse, or the protocol's `copy-failed`. */
    readonly word = "error",
  ) {
    super(message);
  }
}

/** Quoted as Python's urllib.parse.quote does, which leaves "/" alone. */
const q = (word: string) => encodeURIComponent(word).replaceAll("%2F", "/");
/** Python's urllib.parse.unquote, which autopkgtest quotes with. */
const unq = (word: string) => decodeURIComponent(word);

/** The environment of every command in the testbed, as autopkgtest-virt-unshare gives. */
export const TESTBED_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", SHELL: "/bin/sh" };

/** Where the program for print-execute-command lives: beside this module, bundled or not. */
function executeProgram(): string[] {
  const bundled = !import.meta.url.endsWith(".ts");
  const path = bundled ? "./autopkgtest-execute.js" : "./cli/autopkgtest-execute.ts";
  return [process.execPath, new URL(path, import.meta.url).pathname];
}

/**
 * The testbed's root: DIR itself, or the tarball extracted once (owned right for the
 * caller). Containers on it are ephemeral, so it is never written and revert is only a
 * new container.
 */
async function baseRoot(options: ServerOptions): Promise<RootFilesystem> {
  if (statSync(options.source).isDirectory()) {
    const path = resolve(options.source);
    return { path, remove: async () => {}, [Symbol.asyncDispose]: async () => {} };
  }
  return fromTarball(options.source, { prefix: options.prefix, directory: options.unpackDir });
}

/**
 * Users in an /etc/passwd that tests may run as: UIDs 1000 to 59999 with a home, and a
 * name that is one word of the capabilities reply (the testbed writes the file). Pure.
 */
export function normalUsers(passwd: string): string[] {
  return passwd
    .split("\n")
    .map((line) => line.split(":"))
    .filter((fields) => Number(fields[2]) >= 1000 && Number(fields[2]) < 60000 && fields[5]?.startsWith("/home/"))
    .map((fields) => fields[0]!)
    .filter((name) => /^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(name));
}

interface Testbed {
  container: Subprocess;
  /** What the testbed's init is: the root's systemd, booted, or our shell. */
  init: "systemd" | "shell";
}

/** The testbed's hostname, in its /etc/hostname and /etc/hosts (127.0.1.1, as Debian's
 *  installer writes it), as lxc and podman name theirs: the host's own name is neither
 *  the testbed's nor resolvable there (sudo warned "unable to resolve host"). */
export const HOSTNAME = "autopkgtest";

/** Whether the testbed's root can boot its systemd: /sbin/init is systemd, and the
 *  container has a cgroup of its own to give it (container root may write its
 *  cgroup.procs; a user without a delegated cgroup gets none, and with the host's network
 *  there is no /sys). */
const BOOTS = 'boots() { case $(readlink -f /sbin/init 2>/dev/null) in */systemd) [ -w /sys/fs/cgroup/cgroup.procs ] ;; *) false ;; esac; }';

/** The testbed's first process: names the testbed ($1; the kernel's name last, which
 *  PREPARE waits for, with the root's own `hostname`), then execs systemd where it boots, else reaps children as PID 1 must, for ever. Its writes are in the ephemeral
 *  layer, so the source is never changed. */
const INIT = `${BOOTS}
h=$1
if [ -d /etc ]; then
  echo "$h" > /etc/hostname
  if ! grep -qsw -- "$h" /etc/hosts; then
    [ -s /etc/hosts ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > /etc/hosts
    printf '127.0.1.1\t%s\n' "$h" >> /etc/hosts
  fi
fi 2>/dev/null
hostname "$h" 2>/dev/null
if boots; then exec /sbin/init; fi
while :; do sleep 3600 & wait; done`;

/** Run in the new testbed ($1 the hostname, $2 the scratch directory): waits until init
 *  has named it and, for systemd, until the boot is over (running or degraded, as
 *  autopkgtest-virt-lxc's testbeds are when a test starts); prints "systemd" or "shell",
 *  makes the scratch directory and prints /etc/passwd. */
const PREPARE = `${BOOTS}
i=0
while command -v hostname >/dev/null && [ "$(hostname)" != "$1" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
if boots; then
  i=0
  until state=$(timeout 100 systemctl is-system-running --wait 2>/dev/null); [ "$state" = running ] || [ "$state" = degraded ]; do
    i=$((i + 1))
    if [ $i -ge 300 ]; then echo "systemd did not finish booting: $state" >&2; exit 1; fi
    sleep 0.1
  done
  echo systemd
else
  echo shell
fi
mkdir -p -m 1777 "$2" && chmod 1777 /tmp "$2" && { cat /etc/passwd 2>/dev/null || true; }`;

/** Whether this host can give the testbed a private network: pasta on PATH, and
 *  /dev/net/tun usable by us (root always may). What else fails shows at the start. */
function privateNetworkUsable(): boolean {
  // The lookup contain makes itself: where it finds no pasta, the start would fail.
  if (findProgram("pasta") === null) return false;
  try {
    accessSync("/dev/net/tun", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Who owns what copyup makes in DIR: as host root, DIR's owner (the host user who
 *  asked for the copy there); as a user, nobody else can be given files. */
function hostOwner(dir: string): [number, number] | undefined {
  if (process.getuid!() !== 0) return undefined;
  const stat = statSync(dir);
  return [stat.uid, stat.gid];
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Gives the top of a tree untar made (which set everything below) its owner and mode. */
function settleTop(tree: string, owner: [number, number] | undefined, mode: number): void {
  const fd = openSync(tree, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    if (owner) fchownSync(fd, ...owner);
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}

/**
 * Moves the tree copyup made to TARGET: renamed there when TARGET does not exist, else
 * merged into it entry by entry. Never through a link: an entry of TARGET that is not a
 * directory is replaced (a link itself, not what it names), and a directory meets only a
 * directory.
 */
function place(tree: string, target: string): void {
  try {
    lstatSync(target);
  } catch {
    renameSync(tree, target);
    return;
  }
  // TARGET itself is the caller's choice, as a link to a directory too.
  if (!isDirectory(target)) throw new Error(`${target} exists and is not a directory`);
  merge(tree, target);
}

function merge(from: string, into: string): void {
  // Checked whole first, so that a clash moves nothing rather than half the copy.
  for (const check of [true, false]) mergeEntries(from, into, check);
}

function mergeEntries(from: string, into: string, check: boolean): void {
  for (const name of readdirSync(from)) {
    const source = join(from, name);
    const destination = join(into, name);
    const directory = lstatSync(source).isDirectory();
    // Only a missing destination is no clash; any other failure to look is the copy's.
    const there = lstatSync(destination, { throwIfNoEntry: false }) ?? null;
    if (there !== null && directory !== there.isDirectory()) {
      throw new Error(`${destination} exists and is ${there.isDirectory() ? "a directory" : "not a directory"}`);
    }
    if (there !== null && directory) mergeEntries(source, destination, check);
    else if (!check) renameSync(source, destination);
  }
}

export class Server {
  private base: RootFilesystem | null = null;
  private testbed: Testbed | null = null;
  /** The scratch directory, kept across reverts (built trees may name it). */
  private downtmp: string | null = null;
  private readonly suggested: string[] = [];

  constructor(readonly options: ServerOptions) {}

  debug(message: string): void {
    if (this.options.debug) process.stderr.write(`${NAME}: DBG: ${message}\n`);
  }

  capabilities(): string[] {
    // isolation-container promises that tests may start services: only with an init that
    // starts them. Asked before open too, when there is no testbed yet to tell.
    const isolation = this.testbed?.init === "systemd" ? ["isolation-container"] : [];
    const capabilities = [...isolation, "revert", "revert-full-system", "root-on-testbed"];
    return capabilities.concat(this.suggested.map((user) => `suggested-normal-user=${user}`));
  }

  /**
   * Answers one protocol line with one reply line, whatever the messages in it hold.
   * Never throws: a failure is a reply the caller can act on.
   */
  async handle(line: string): Promise<Reply> {
    const reply = await this.answer(line);
    return reply.error === undefined ? { line: oneLine(reply.line) } : { line: oneLine(reply.line), error: oneLine(reply.error) };
  }

  private async answer(line: string): Promise<Reply> {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) return { line: "error empty commands are not permitted", error: "empty commands are not permitted" };
    try {
      const args = words.slice(1).map(unq);
      const results = await this.dispatch(words[0]!, args);
      return { line: ["ok", ...results].join(" ") };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const word = error instanceof CommandError ? error.word : "error";
      return { line: word === "error" ? `error ${message}` : word, error: message };
    }
  }

  private async dispatch(command: string, args: string[]): Promise<string[]> {
    const count = (min: number, max = min) => {
      if (args.length < min) throw new CommandError(`too few arguments to command \`${command}'`);
      if (args.length > max) throw new CommandError(`too many arguments to command \`${command}'`);
    };
    const open = () => {
      if (!this.testbed) throw new CommandError(`\`${command}' when not open`);
      return this.testbed;
    };
    switch (command) {
      case "capabilities":
        count(0);
        return this.capabilities();
      case "open":
        count(0);
        if (this.testbed) throw new CommandError("`open' when already open");
        await this.open();
        return [q(this.downtmp!)];
      case "revert":
        count(0);
        open();
        await this.close();
        await this.open();
        return [q(this.downtmp!)];
      case "close":
        count(0);
        open();
        await this.close();
        return [];
      case "print-execute-command":
        count(0);
        return [[...executeProgram(), String(open().container.pid)].map(q).join(",")];
      case "copydown":
      case "copyup":
        count(2);
        open();
        await this.copy(command, args[0]!, args[1]!);
        return [];
      case "shell":
        count(1, Infinity);
        open();
        await this.shell(args[0]!, args.slice(1));
        return [];
      case "auxverb_debug_fail":
        count(0);
        return [];
      case "reboot":
        open();
        throw new CommandError("`reboot' when `reboot' not advertised");
      case "quit":
        count(0);
        await this.finish();
        return [];
      default:
        throw new CommandError(`unknown command \`${command}'`);
    }
  }

  private async open(): Promise<void> {
    this.base ??= await baseRoot(this.options);
    const container = this.start();
    this.testbed = { container, init: "shell" };
    this.debug(`testbed on ${this.base.path}, contain PID ${container.pid}, ${this.network} network`);
    try {
      this.downtmp ??= `/tmp/autopkgtest.${Math.random().toString(36).slice(2, 8)}`;
      // One command for the boot's end, the scratch directory (and /tmp, which a root may
      // lack) and the users: every command in the testbed costs a join.
      const output = await this.run(["/bin/sh", "-c", PREPARE, "sh", HOSTNAME, this.downtmp]);
      const [init, ...passwd] = output.split("\n");
      this.testbed.init = init === "systemd" ? "systemd" : "shell";
      this.suggested.splice(0, this.suggested.length, ...normalUsers(passwd.join("\n")));
      this.debug(`testbed init: ${this.testbed.init}`);
    } catch (error) {
      await this.close();
      throw new CommandError(`cannot prepare the testbed: ${(error as Error).message}`);
    }
  }

  /** The network the testbeds get: "auto" is settled by the first start. */
  private network: "private" | "host" | "none" | "auto" = "auto";

  /**
   * Starts a testbed's container. Its first process names it (HOSTNAME in its /etc/hostname
   * and /etc/hosts) and then becomes its init: the root's systemd where it can boot, else a
   * shell that reaps whatever a test leaves behind.
   */
  private start(): Subprocess {
    if (this.network === "auto") this.network = this.options.network === "auto" ? (privateNetworkUsable() ? "private" : "host") : this.options.network;
    const attempt = (network: "private" | "host" | "none") =>
      contain({
        root: this.base!.path,
        ephemeral: true,
        cmd: ["/bin/sh", "-c", INIT, "sh", HOSTNAME],
        network,
        mounts: this.options.binds.map(([source, target]) => ({ type: "bind" as const, source: resolve(source), target })),
        stdin: "ignore",
        stdout: "ignore",
        stderr: this.options.debug ? 2 : "ignore",
      });
    try {
      try {
        return attempt(this.network);
      } catch (error) {
        if (this.network !== "private" || this.options.network !== "auto") throw error;
        this.debug(`no private network (${(error as Error).message}): the host's instead`);
        this.network = "host";
        return attempt(this.network);
      }
    } catch (error) {
      throw new CommandError(`cannot start the testbed: ${(error as Error).message}`);
    }
  }

  /** Stops the testbed: everything it changed goes with its container. */
  async close(): Promise<void> {
    const testbed = this.testbed;
    if (!testbed) return;
    this.testbed = null;
    this.suggested.splice(0);
    testbed.container.kill("SIGKILL");
    await testbed.container.exited;
  }

  /** Closes the testbed and removes the extracted tarball: for quit, end of file, signals. */
  async finish(): Promise<void> {
    await this.close();
    const base = this.base;
    this.base = null;
    await base?.remove();
  }

  /** Runs CMD in the testbed with its output collected; throws on a non-zero status. */
  private async run(cmd: string[], stdio: { stdin?: Stdio; stdout?: Stdio } = {}): Promise<string> {
    this.debug(`run ${cmd.join(" ")}`);
    const child = inject({
      pid: this.testbed!.container.pid,
      cmd,
      env: TESTBED_ENV,
      stdin: stdio.stdin ?? "ignore",
      stdout: stdio.stdout ?? "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, status] = await Promise.all([
      child.stdout ? new Response(child.stdout).text() : "",
      new Response(child.stderr).text(),
      child.exited,
    ]);
    if (status !== 0) throw new Error(`${cmd.join(" ")} failed with status ${status}: ${stderr.trim()}`);
    return stdout;
  }

  /**
   * copydown HOST TESTBED / copyup TESTBED HOST: files, or directories when both paths end
   * in "/". copydown keeps modes, and owners as far as the testbed sees them. copyup keeps
   * only what cannot hand anyone on the host more than the caller has: see copyUpFile.
   */
  private async copy(command: "copydown" | "copyup", from: string, to: string): Promise<void> {
    if (!from || !to) throw new CommandError(`${command} paths must be nonempty`);
    const directory = from.endsWith("/");
    if (directory !== to.endsWith("/")) {
      throw new CommandError(`${command} paths must agree about directoryness (presence or absence of trailing /)`);
    }
    this.debug(`${command} ${from} ${to}`);
    try {
      if (command === "copydown") await (directory ? this.copyDownDirectory(from, to) : this.copyDownFile(from, to));
      else await (directory ? this.copyUpDirectory(from, to) : this.copyUpFile(from, to));
    } catch (error) {
      throw new CommandError(`${command} ${from} ${to}: ${(error as Error).message}`, "copy-failed");
    }
  }

  private async copyDownFile(host: string, testbed: string): Promise<void> {
    const fd = openSync(host, constants.O_RDONLY);
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new Error(`${host} is not a file`);
      const [uid, gid] = this.inwardOwner(stat.uid, stat.gid);
      const mode = (stat.mode & 0o7777).toString(8);
      const script = 'cat > "$1" && chown "$2:$3" "$1" && chmod "$4" "$1"';
      await this.run(["/bin/sh", "-c", script, "sh", testbed, String(uid), String(gid), mode], { stdin: fd });
    } finally {
      closeSync(fd);
    }
  }

  /**
   * The testbed chooses nothing on the host but contents and permission bits: a copied-up
   * file is a new regular file, owned as host root by the owner of the directory it lands
   * in (as a user, by the user), without setuid, setgid or sticky bits and masked by the
   * umask, as `tar --no-same-owner --no-same-permissions` would make it. It is written
   * beside HOST and renamed onto it when complete, so a failed copy leaves nothing.
   */
  private async copyUpFile(testbed: string, host: string): Promise<void> {
    // -L: the mode of what `cat` reads, not of a link to it.
    const reported = (await this.run(["stat", "-L", "-c", "%a", testbed])).trim();
    if (!/^[0-7]{1,4}$/.test(reported)) throw new Error(`the testbed reported mode "${reported}" for ${testbed}`);
    const mode = Number.parseInt(reported, 8) & 0o777 & ~process.umask();
    this.outOfReach(dirname(resolve(host)));
    const owner = hostOwner(dirname(resolve(host)));
    const partial = join(dirname(resolve(host)), `.${basename(host)}.copyup-${Math.random().toString(36).slice(2, 10)}`);
    const fd = openSync(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      try {
        await this.run(["cat", testbed], { stdout: fd });
        if (owner) fchownSync(fd, ...owner);
        fchmodSync(fd, mode);
      } finally {
        closeSync(fd);
      }
      renameSync(partial, host);
    } catch (error) {
      rmSync(partial, { force: true });
      throw error;
    }
  }

  private async copyDownDirectory(host: string, testbed: string): Promise<void> {
    if (!statSync(host).isDirectory()) throw new Error(`${host} is not a directory`);
    // A user's own files are container root's inside, as pseudo shows them.
    const owner = process.getuid!() === 0 ? [] : ["--owner=0", "--group=0"];
    const tar = Bun.spawn(["tar", "-c", "-f", "-", "--numeric-owner", ...owner, "-C", host, "."], { stdout: "pipe", stderr: "pipe" });
    const script = 'mkdir -p "$1" && tar -x -f - -C "$1" --numeric-owner';
    await this.pipeInto(tar, ["/bin/sh", "-c", script, "sh", testbed]);
  }

  /**
   * The testbed's `tar -c` stream, read by untar (never by host `tar`, which as root takes
   * the stream's owners, setuid bits and device nodes): directories, regular files and
   * symbolic links only, owned and masked as copyUpFile's. It is extracted into a fresh
   * private directory (in HOST when it exists, else beside it) and moved into place when
   * complete (merged into an existing HOST, whose own directories keep their modes); a
   * failed copy leaves nothing.
   */
  private async copyUpDirectory(testbed: string, host: string): Promise<void> {
    const target = resolve(host);
    // The directory the copy lands in: HOST when it exists (a user may not write its
    // parent, /home say), else the parent it is made in. The work directory is made there,
    // on the same filesystem, with a name the testbed cannot know.
    const landing = isDirectory(target) ? target : dirname(target);
    this.outOfReach(landing);
    mkdirSync(landing, { recursive: true });
    const owner = hostOwner(landing);
    const work = mkdtempSync(join(landing, `.${basename(target)}.copyup-`));
    try {
      const tree = join(work, "tree");
      mkdirSync(tree, 0o700);
      const child = inject({
        pid: this.testbed!.container.pid,
        cmd: ["tar", "-c", "-f", "-", "-C", testbed, "."],
        env: TESTBED_ENV,
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
      const stderr = new Response(child.stderr).text();
      let untarred: Awaited<ReturnType<typeof untar>>;
      try {
        untarred = await untar(child.stdout!, { into: tree, owner, umask: process.umask() });
      } catch (error) {
        child.kill("SIGKILL");
        await child.exited;
        throw error;
      }
      const status = await child.exited;
      if (status !== 0) throw new Error(`tar in the testbed failed with status ${status}: ${(await stderr).trim()}`);
      if (untarred.skipped.length > 0) {
        process.stderr.write(`${NAME}: copyup ${testbed} left out what is not a file, directory or link: ${oneLine(untarred.skipped.join(" "))}\n`);
      }
      settleTop(tree, owner, untarred.mode ?? 0o755 & ~process.umask());
      place(tree, target);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  /**
   * As host root, refuses a copyup into a directory the testbed can write through a
   * --bind (or one that holds such a bind): container root writes there as host root, so
   * it could swap a directory the copy is being made in for a link while the server,
   * as host root, works by path. As a user, the testbed is the user already.
   */
  private outOfReach(landing: string): void {
    if (process.getuid!() !== 0) return;
    const inside = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
    // A landing still to be made is checked at the directory it will be made in.
    let existing = landing;
    while (!isDirectory(existing) && dirname(existing) !== existing) existing = dirname(existing);
    const real = realpathSync(existing);
    for (const [outside] of this.options.binds) {
      const bound = realpathSync(resolve(outside));
      if (inside(real, bound) || (existing === landing && inside(bound, real))) {
        throw new Error(`${landing} is within reach of the testbed through --bind ${outside}: copy up elsewhere`);
      }
    }
  }

  /** Feeds a host process's stdout to CMD in the testbed. */
  private async pipeInto(source: Bun.Subprocess<"ignore", "pipe", "pipe">, cmd: string[]): Promise<void> {
    const child = inject({ pid: this.testbed!.container.pid, cmd, env: TESTBED_ENV, stdin: "pipe", stdout: "ignore", stderr: "pipe" });
    const stderr = new Response(child.stderr).text();
    for await (const chunk of source.stdout) child.stdin!.write(chunk);
    await child.stdin!.end();
    const [outside, inside] = await Promise.all([source.exited, child.exited]);
    if (outside !== 0) throw new Error(`tar on the host failed: ${(await new Response(source.stderr).text()).trim()}`);
    if (inside !== 0) throw new Error(`${cmd.join(" ")} failed with status ${inside}: ${(await stderr).trim()}`);
  }

  private async host(cmd: string[]): Promise<void> {
    const result = Bun.spawnSync(cmd, { stderr: "pipe" });
    if (result.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${result.stderr.toString().trim()}`);
  }

  /** The testbed owner of a host file: as a user, the user is container root. */
  private inwardOwner(uid: number, gid: number): [number, number] {
    return process.getuid!() === 0 ? [uid, gid] : [0, 0];
  }

  /** An interactive shell in DIR with ENV, on the controlling terminal, for debugging. */
  private async shell(dir: string, env: string[]): Promise<void> {
    let tty: number;
    try {
      tty = openSync("/dev/tty", "r+");
    } catch (error) {
      process.stderr.write(`${NAME}: Cannot run shell: ${(error as Error).message}\n`);
      return;
    }
    const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
    const exports = env.map((entry) => `export ${quote(entry)}; `).join("");
    const term = process.env.TERM ? `export TERM=${quote(process.env.TERM)}; ` : "";
    const script = `cd ${quote(dir)}; ${exports}${term}if command -v bash >/dev/null; then exec bash -i; fi; exec sh -i`;
    try {
      const child = inject({ pid: this.testbed!.container.pid, cmd: ["sh", "-c", script], env: TESTBED_ENV, stdin: tty, stdout: tty, stderr: tty });
      await child.exited;
    } finally {
      closeSync(tty);
    }
  }
}

/** Reads protocol lines from stdin until quit or end of file. Returns the exit status. */
export async function serve(server: Server): Promise<number> {
  const write = (line: string) => {
    server.debug(`reply ${line}`);
    process.stdout.write(`${line}\n`);
  };
  write("ok");
  for await (const line of console) {
    // Blank lines are skipped, as the Python servers do.
    if (line.trim() === "") continue;
    server.debug(`command ${line}`);
    const reply = await server.handle(line);
    if (reply.error) process.stderr.write(`${NAME}: failure: ${reply.error}\n`);
    write(reply.line);
    if (line.trim() === "quit" && !reply.error) return 0;
  }
  process.stderr.write(`${NAME}: failure: end of file - caller quit?\n`);
  await server.finish();
  return 12;
}
