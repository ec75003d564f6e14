// inject: CMD inside a running container, in all the namespaces of its init.
import { ChildProcess } from "./child.ts";
import { ContainError } from "./errors.ts";
import { type Arg, argText } from "./arg.ts";
import { closeFd, Flag, Mode, openPidfd, readText, statPath } from "./native.ts";
import { defaultShell } from "./pseudo.ts";
import { type Environment, environment } from "./stdio.ts";

export interface InjectOptions {
  /** contain's PID (the supervisor), or the PID whose child is the init. */
  pid: number;
  cmd?: readonly Arg[] | undefined;
  env?: Environment | undefined;
}

/** A /proc file, or "" when it cannot be read (the process is gone, or not ours). */
function procText(path: string): string {
  try {
    return readText(path) ?? "";
  } catch {
    return "";
  }
}

function children(pid: number): number[] {
  return procText(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/).filter(Boolean).map(Number);
}

function isInit(pid: number): boolean {
  return procText(`/proc/${pid}/environ`).split("\0").includes("container=contain");
}

/** Whether `init` still has container=contain, looking again for a moment: in the middle
 *  of an exec (a script's interpreter starting, then exec'ing again) its environment reads
 *  empty, or cut short, for a moment. */
function stillInit(init: number): boolean {
  for (let attempt = 0; attempt < 20; attempt++) {
    if (isInit(init)) return true;
    if (typeof statPath(`/proc/${init}`) === "number") return false;
    Bun.sleepSync(2);
  }
  return false;
}

/** The container's init: a child or grandchild of `pid` with container=contain. */
export function findInit(pid: number): number {
  if (typeof statPath(`/proc/${pid}`) === "number") throw new ContainError(`PID ${pid} not found`);
  // An init in the middle of an exec shows no environment for a moment: look again.
  for (let attempt = 0; attempt < 20; attempt++) {
    for (const child of children(pid)) {
      if (isInit(child)) return child;
      for (const grandchild of children(child)) if (isInit(grandchild)) return grandchild;
    }
    if (children(pid).length === 0) break;
    Bun.sleepSync(2);
  }
  const owner = procText(`/proc/${pid}/status`).match(/^Uid:\s+(\d+)/m)?.[1];
  if (process.geteuid!() !== 0 && owner !== String(process.geteuid!())) {
    throw new ContainError(`PID ${pid} does not belong to you`);
  }
  throw new ContainError(`PID ${pid} is not a container supervisor`);
}

/** `fds`: the command's 0, 1 and 2 (-1 keeps ours). */
export function startInject(options: InjectOptions, fds: [number, number, number] = [-1, -1, -1]): ChildProcess {
  if (process.geteuid!() !== process.getuid!() || process.getegid!() !== process.getgid!()) {
    throw new ContainError("setuid or setgid installation is unsafe");
  }
  const init = findInit(options.pid);
  // A pidfd pins the process: if init is still there, with container=contain, once it is
  // open, the namespaces joined through it are that container's, even if init exits and
  // its PID is given to another process before the joiner uses them.
  const gone = () => new ContainError(`PID ${options.pid} is not a container supervisor: its init has exited`);
  let pidfd: number;
  try {
    pidfd = openPidfd(init);
  } catch {
    throw gone();
  }
  try {
    if (!stillInit(init)) throw gone();
    const env = options.env ?? process.env;
    const given = options.cmd?.length ? options.cmd : undefined;
    const argv = given ?? defaultShell(env);
    // $SHELL names a host path: where the container has none there, /bin/sh.
    const flags = given ? 0 : Flag.defaultShell;
    return ChildProcess.start(
      { mode: Mode.inject, flags, targetPidfd: pidfd, argv, envp: environment(env), stdio: fds },
      null,
      argText(argv[0]!),
    );
  } finally {
    closeFd(pidfd);
  }
}
