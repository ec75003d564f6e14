// inject: CMD inside a running container, in all the namespaces of its init.
import { readdirSync, readFileSync } from "node:fs";
import { type Child, startChild } from "./child.ts";
import { ContainError } from "./errors.ts";
import { Mode } from "./native.ts";
import { defaultShell } from "./pseudo.ts";
import { environment } from "./stdio.ts";

export interface InjectOptions {
  /** contain's PID (the supervisor), or the PID whose child is the init. */
  pid: number;
  cmd?: string[];
  env?: Record<string, string | undefined>;
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function isInit(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes("container=contain");
  } catch {
    return false;
  }
}

/** The container's init: a child or grandchild of `pid` with container=contain. */
export function findInit(pid: number): number {
  try {
    readdirSync(`/proc/${pid}/task`);
  } catch {
    throw new ContainError(`PID ${pid} not found`);
  }
  // An init in the middle of an exec shows no environment for a moment: look again.
  for (let attempt = 0; attempt < 20; attempt++) {
    for (const child of children(pid)) {
      if (isInit(child)) return child;
      for (const grandchild of children(child)) if (isInit(grandchild)) return grandchild;
    }
    if (children(pid).length === 0) break;
    Bun.sleepSync(2);
  }
  const owner = readFileSync(`/proc/${pid}/status`, "utf8").match(/^Uid:\s+(\d+)/m)?.[1];
  if (process.geteuid!() !== 0 && owner !== String(process.geteuid!())) {
    throw new ContainError(`PID ${pid} does not belong to you`);
  }
  throw new ContainError(`PID ${pid} is not a container supervisor`);
}

/** `fds`: the command's 0, 1 and 2 (-1 keeps ours). */
export function startInject(options: InjectOptions, fds: [number, number, number] = [-1, -1, -1]): Child {
  if (process.geteuid!() !== process.getuid!() || process.getegid!() !== process.getgid!()) {
    throw new ContainError("setuid or setgid installation is unsafe");
  }
  const init = findInit(options.pid);
  const env = options.env ?? process.env;
  const argv = options.cmd?.length ? options.cmd : defaultShell(env);
  return startChild(
    { mode: Mode.inject, targetPid: init, argv, envp: environment(env), stdio: fds },
    null,
    argv[0]!,
  );
}
