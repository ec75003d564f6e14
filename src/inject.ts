// inject: CMD inside a running container, in all the namespaces of its init.
import { readdirSync, readFileSync } from "node:fs";
import { type Child, startChild } from "./child.ts";
import { ContainError } from "./errors.ts";
import { Mode } from "./native.ts";
import { defaultShell } from "./pseudo.ts";
import { environment, type Stdio, stdioFds } from "./stdio.ts";

export interface InjectOptions {
  /** contain's PID (the supervisor), or the PID whose child is the init. */
  pid: number;
  cmd?: string[];
  env?: Record<string, string | undefined>;
  stdin?: Stdio;
  stdout?: Stdio;
  stderr?: Stdio;
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
  for (const child of children(pid)) {
    if (isInit(child)) return child;
    for (const grandchild of children(child)) if (isInit(grandchild)) return grandchild;
  }
  const owner = readFileSync(`/proc/${pid}/status`, "utf8").match(/^Uid:\s+(\d+)/m)?.[1];
  if (process.geteuid!() !== 0 && owner !== String(process.geteuid!())) {
    throw new ContainError(`PID ${pid} does not belong to you`);
  }
  throw new ContainError(`PID ${pid} is not a container supervisor`);
}

export function startInject(options: InjectOptions): Child {
  if (process.geteuid!() !== process.getuid!() || process.getegid!() !== process.getgid!()) {
    throw new ContainError("setuid or setgid installation is unsafe");
  }
  const init = findInit(options.pid);
  const env = options.env ?? process.env;
  const argv = options.cmd?.length ? options.cmd : defaultShell(env);
  return startChild(
    { mode: Mode.inject, targetPid: init, argv, envp: environment(env), stdio: stdioFds(options) },
    null,
    argv[0]!,
  );
}
