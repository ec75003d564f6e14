// contain: CMD as PID 1 of a container with DIR as its root (DESIGN.md, process tree).
import { resolve } from "node:path";
import { type Child, follow, type Started, startRaw, startRawAsync, watchExit } from "./child.ts";
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
  Mode,
  openConsole,
  rawTerminal,
  refuseNul,
  restoreTerminal,
  sendSignal,
  type SpawnConfig,
  statPath,
  strerror,
} from "./native.ts";
import { signals } from "./signals.ts";

const EPIPE = 32;
const SIGPIPE = 13;
import { type Environment, environment } from "./stdio.ts";
import { delegatedRanges, hostRoot, type MapPlan, ownerWarning, planMaps } from "./userns.ts";

export interface ContainOptions {
  /** The root filesystem. */
  root: Arg;
  /** Command and arguments, run as PID 1. Default: /bin/sh. */
  cmd?: readonly Arg[];
  /** Relay a pty console at /dev/console (the CLI's default; -c turns it off). */
  console?: boolean;
  uidMap?: string;
  gidMap?: string;
  /** -n: share the host network (and mount no /sys). */
  hostNetwork?: boolean;
  /** -i and -o: /bin/sh -c helpers inside and outside the new namespaces. */
  inside?: Arg;
  outside?: Arg;
  /** The helpers' environment (CMD's is always just container=contain). */
  env?: Environment;
  onWarning?: (message: string) => void;
}

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

/** EACCES while entering DIR or creating /dev, /proc or /sys in it means container root
 *  cannot use DIR: say whose ID that is and how to fix it. */
function explain(error: unknown, root: Arg, uid: MapPlan): unknown {
  if (!(error instanceof ContainError) || error.errno !== 13) return error;
  const entering = /enter new root/.test(error.step);
  if (!entering && !/^create \/(dev|proc|sys) in new root/.test(error.step)) return error;
  const host = hostRoot(uid);
  const what = entering ? "enter" : "write";
  const fix = entering ? "let that ID search it (chmod o+x), or build it with pseudo" : "build it with pseudo, or create dev, proc and sys in it";
  return new ContainError(
    `${error.message}: container root is host UID ${host}, which cannot ${what} ${argText(root)}; ${fix}`,
    error.step,
    error.errno,
    error.status,
  );
}

export interface Contained extends Child {
  /** Set when the console is relayed: restores the terminal (also done on exit). */
  restore?: () => void;
}

type Fds = [number, number, number];

/**
 * `fds`: the holder's 0, 1 and 2 (-1 keeps ours), which init keeps without a console.
 * With a console, the relay reads fds[0] and writes fds[1] instead (0 and 1 for -1), and
 * `relayed` runs once it has stopped using them.
 */
export function startContain(options: ContainOptions, fds: Fds = [-1, -1, -1], relayed: () => void = () => {}): Contained {
  const plan = prepare(options, fds);
  let started;
  try {
    started = startRaw(plan.config, plan.maps, plan.command);
  } catch (error) {
    throw plan.failed(error);
  }
  return plan.finish(started, relayed);
}

/** startContain without blocking the event loop during set-up (startRawAsync). */
export async function startContainAsync(
  options: ContainOptions,
  fds: Fds = [-1, -1, -1],
  relayed: () => void = () => {},
  signal?: AbortSignal,
): Promise<Contained> {
  const plan = prepare(options, fds);
  let started;
  try {
    started = await startRawAsync(plan.config, plan.maps, plan.command, signal);
  } catch (error) {
    throw plan.failed(error);
  }
  return plan.finish(started, relayed);
}

/** Everything before the fork: the checks, the maps, the console. */
function prepare(options: ContainOptions, fds: Fds) {
  const { path: root, ...owner } = checkRoot(options.root);
  const argv = options.cmd?.length ? options.cmd : ["/bin/sh"];
  const maps = planMaps(options.uidMap, options.gidMap);
  for (const plan of maps) if (plan.warning) options.onWarning?.(plan.warning);
  // /etc/subuid is read only for a DIR that container root does not own.
  if (owner.uid !== hostRoot(maps[0])) {
    const warning = ownerWarning(argText(options.root), owner, maps, delegatedRanges());
    if (warning) options.onWarning?.(warning);
  }
  const pty = options.console ? openConsole() : null;
  if (pty && process.geteuid!() === 0) {
    // The pty belongs to host root; the console is container root's, whatever host ID that is.
    chownFd(pty.slave, hostRoot(maps[0]) ?? 0, 0xffffffff);
  }
  let flags = options.hostNetwork ? Flag.hostNetwork : 0;
  if (pty) flags |= Flag.console;
  const config: SpawnConfig = {
    mode: Mode.contain,
    flags,
    argv,
    envp: environment(options.env ?? process.env),
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
    failed(error: unknown): unknown {
      if (pty) closeConsole(pty);
      return explain(error, options.root, maps[0]);
    },
    finish(started: Started, relayed: () => void): Contained {
      if (!pty) return follow(started, watchExit(started));
      const input = fds[0] >= 0 ? fds[0] : 0;
      const output = fds[1] >= 0 ? fds[1] : 1;
      return relayConsole(started, pty, input, output, relayed, options.onWarning);
    },
  };
}

function closeConsole(pty: Console): void {
  closeFd(pty.master);
  closeFd(pty.slave);
}

/** Copies stdin to the console and the console to stdout in a Worker until the holder
 *  exits; the terminal is raw meanwhile and restored on every way out. */
function relayConsole(
  started: Started,
  pty: Console,
  input: number,
  output: number,
  relayed: () => void,
  onWarning?: (message: string) => void,
): Contained {
  const saved = rawTerminal(input);
  const resize = () => copyTerminalSize(input, pty.master);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    if (saved) restoreTerminal(input, saved);
    process.off("SIGWINCH", resize);
    process.off("exit", restore);
  };
  if (saved) {
    resize();
    process.on("SIGWINCH", resize);
    process.on("exit", restore);
  } else {
    consoleNoEcho(pty.slave);
  }
  // From dist/, the bundled relay sits beside the bundled command.
  const relay = import.meta.url.endsWith(".ts") ? "./relay-worker.ts" : "./relay-worker.js";
  const worker = new Worker(new URL(relay, import.meta.url).href);
  const status = new Promise<number>((resolve) => {
    worker.onmessage = async (event: MessageEvent<number>) => {
      restore();
      // The relay stops early only when our stdout is gone (EPIPE). Then the container
      // goes the way of a writer into a closed pipe: killed, and contain reports SIGPIPE.
      const stdoutGone = event.data === EPIPE;
      // Any other error is the relay's own (its poll failed): the container cannot be
      // heard or fed any more, so it ends, and so does contain, as an own failure.
      const broken = event.data !== 0 && !stdoutGone;
      if (stdoutGone || broken) sendSignal(started.pidfd, signals.SIGKILL);
      if (broken) onWarning?.(`Failed to relay the console: ${strerror(event.data)}`);
      closeConsole(pty);
      const closed = new Promise((done) => worker.addEventListener("close", done, { once: true }));
      worker.terminate();
      const status = await watchExit(started);
      const code = stdoutGone ? 128 + SIGPIPE : broken ? Status.failure : status;
      relayed();
      // The Worker's own event loop fds go only when its thread has ended.
      await closed;
      resolve(code);
    };
  });
  worker.postMessage({ master: pty.master, input, output, pidfd: started.pidfd });
  return { ...follow(started, status), restore };
}
