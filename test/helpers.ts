// Shared by the namespace tiers: who can run the CLI, and how a test that cannot run says
// why. With MUST_WORK=1 (set by CI) such a test fails instead of skipping.
import { afterAll, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const MUST_WORK = process.env.MUST_WORK === "1";
export const repo = resolve(import.meta.dir, "..");
export const TEST_USER = process.env.CONTAIN_TEST_USER ?? "contain-test";

const zig = join(repo, "node_modules", "@ryoppippi", "zig-linux-x64", "zig");
const probeBuild = existsSync(zig)
  ? Bun.spawnSync([zig, "build", "probe", "-Dcpu=baseline"], { cwd: repo, stdout: "ignore", stderr: "pipe" })
  : null;

/**
 * What the tests run: as root, a copy of the built checkout (its commands, library, tests,
 * shim and probe, Bun and citty) in a new directory that every user may read, removed at
 * exit; else the checkout itself. The test user runs its CLI and its library suite from
 * the copy, so that no directory above the checkout has to be opened to other users.
 * Files are hard links where the filesystem allows (Bun is 90 MB).
 */
function testTree(): string {
  if (process.getuid!() !== 0) return repo;
  // test/cleanup.ts removes ours after the last test; these are of runs that were killed.
  for (const name of readdirSync(tmpdir())) {
    const pid = /^contain-tree-(\d+)-/.exec(name)?.[1];
    if (pid !== undefined && !existsSync(`/proc/${pid}`)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  const tree = mkdtempSync(join(tmpdir(), `contain-tree-${process.pid}-`));
  chmodSync(tree, 0o755);
  (globalThis as { containTestTree?: string }).containTestTree = tree;
  const parts = ["bin", "dist", "src", "test", "zig-out", "package.json", "tsconfig.json", "bunfig.toml", "node_modules/citty"];
  for (const part of parts) if (existsSync(join(repo, part))) cpSync(join(repo, part), join(tree, part), { recursive: true });
  mkdirSync(join(tree, "node_modules", ".bin"), { recursive: true });
  const bun = join(tree, "node_modules", ".bin", "bun");
  try {
    linkSync(process.execPath, bun);
  } catch {
    copyFileSync(process.execPath, bun);
  }
  chmodSync(bun, 0o755);
  return tree;
}

export const tree = testTree();
/** Bun, where every runner can run it. */
export const bun = tree === repo ? process.execPath : join(tree, "node_modules", ".bin", "bun");
/** A directory that has Bun by the name `bun`, for a PATH: what `#!/usr/bin/env bun` and the
 *  launchers' `exec bun` look for (process.execPath is named bun.exe in the npm package). */
export const bunDir = join(tree, "node_modules", ".bin");
export const cli = (tool: "contain" | "inject" | "pseudo" | "autopkgtest-virt-contain") => join(tree, "bin", `${tool}.js`);

/** A way to run the CLI: as root, or as the unprivileged test user. */
export interface Runner {
  name: "root" | "user";
  prefix: string[];
  uid: number;
  gid: number;
  /** Why this runner cannot be used here, or null. */
  reason: string | null;
}

function lookup(user: string): { uid: number; gid: number } | null {
  const result = Bun.spawnSync(["id", "-u", user]);
  if (result.exitCode !== 0) return null;
  const gid = Bun.spawnSync(["id", "-g", user]).stdout.toString().trim();
  return { uid: Number(result.stdout.toString().trim()), gid: Number(gid) };
}

function rootRunner(): Runner {
  const reason = process.getuid!() === 0 ? null : "the tests do not run as root";
  return { name: "root", prefix: [], uid: 0, gid: 0, reason };
}

function userRunner(): Runner {
  const uid = process.getuid!();
  if (uid !== 0) return { name: "user", prefix: [], uid, gid: process.getgid!(), reason: null };
  const ids = lookup(TEST_USER);
  if (ids === null) {
    return { name: "user", prefix: [], uid: -1, gid: -1, reason: `no test user ${TEST_USER} (run scripts/setup.sh as root)` };
  }
  const prefix = ["setpriv", `--reuid=${ids.uid}`, `--regid=${ids.gid}`, "--init-groups", "env", `HOME=/tmp`];
  const canRead = Bun.spawnSync([...prefix, "test", "-r", cli("pseudo")]).exitCode === 0;
  const canRun = Bun.spawnSync([...prefix, bun, "-e", "0"]).exitCode === 0;
  const reason = !canRun || !canRead ? `user ${TEST_USER} cannot read ${tree} or run ${bun}` : null;
  return { name: "user", prefix, ...ids, reason };
}

export const runners: Runner[] = [rootRunner(), userRunner()];

/** A test that needs something: skipped with the reason, or failed under MUST_WORK. */
export function testIf(reason: string | null, name: string, body: () => void | Promise<void>, timeout = 30_000) {
  if (reason === null) return test(name, body, timeout);
  if (MUST_WORK) {
    return test(name, () => {
      throw new Error(`cannot run (MUST_WORK=1): ${reason}`);
    });
  }
  return test.skip(`${name} [skipped: ${reason}]`, body);
}

export interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

/** A process's status as a shell shows it: its exit code, or 128 + N for signal N. */
export function shellStatus(exitCode: number | null, signalCode: string | number | null | undefined): number {
  if (exitCode !== null) return exitCode;
  const signal =
    typeof signalCode === "number" ? signalCode : signalCode ? (constants.signals as Record<string, number | undefined>)[signalCode] : undefined;
  if (signal === undefined) throw new Error(`no exit code and no known signal (${signalCode})`);
  return 128 + signal;
}

/** Runs a CLI as `runner` and collects its output. `env` adds to the environment. */
export function run(
  runner: Runner,
  tool: "contain" | "inject" | "pseudo" | "autopkgtest-virt-contain",
  args: string[],
  options: { cwd?: string; stdin?: string; env?: Record<string, string> } = {},
): Result {
  // setpriv passes the environment on, so the test user's CLI sees `env` too.
  const result = Bun.spawnSync([...runner.prefix, bun, cli(tool), ...args], {
    cwd: options.cwd ?? "/tmp",
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    env: { ...process.env, PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", ...options.env },
  });
  const status = shellStatus(result.exitCode, result.signalCode);
  return { status, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

/** A temporary directory owned by the runner, removed by the returned function. */
export function scratch(runner: Runner): [string, () => void] {
  const dir = mkdtempSync(join(tmpdir(), "contain-test-"));
  if (runner.uid > 0 && process.getuid!() === 0) chownSync(dir, runner.uid, runner.gid);
  return [dir, () => rmSync(dir, { recursive: true, force: true })];
}

/** Whether this user has ranges in /etc/subuid and newuidmap can use them. */
export function delegationReason(runner: Runner): string | null {
  if (runner.name === "root") return null;
  if (Bun.which("newuidmap", { PATH: "/usr/bin:/bin" }) === null) return "newuidmap is not installed (package uidmap)";
  const check = Bun.spawnSync([...runner.prefix, "sh", "-c", `grep -q "^$(id -un):" /etc/subuid && grep -q "^$(id -un):" /etc/subgid`]);
  return check.exitCode === 0 ? null : "the test user has no /etc/subuid and /etc/subgid ranges";
}

/** The static probe (test/probe/probe.zig) that tries attacks from inside a container. */
export const PROBE = join(tree, "zig-out", "bin", "contain-probe");
export const probeReason = existsSync(PROBE)
  ? null
  : `the probe could not be built (${probeBuild?.stderr.toString().trim().split("\n")[0] ?? `no ${zig}`})`;

/** Root's default map in the original's terms, spelled out: explicit maps lift contain's
 *  refusal of a DIR or writable bind that other host users can reach. */
export const ORIGINAL_ROOT_MAPS = ["-u", "0:4294967294:1,1:1:4294967293", "-g", "0:4294967294:1,1:1:4294967293"];

export const BUSYBOX = "/bin/busybox";
export const busyboxReason = existsSync(BUSYBOX) ? null : `${BUSYBOX} is missing (package busybox-static)`;
const applets = "sh echo id hostname ls cat ps tty stty sleep head true readlink kill chmod chown mkdir rm stat tar wget nc".split(" ");

/** A busybox root owned by the runner's container root, built with pseudo. */
export function busyboxRoot(runner: Runner): [string, () => void] {
  const [dir, done] = scratch(runner);
  if (runner.name === "root") chownSync(dir, 4294967294, 4294967294);
  const probe = existsSync(PROBE) ? ` && cp ${PROBE} bin/probe` : "";
  const script = `mkdir bin etc && cp ${BUSYBOX} bin/${probe} && for a in ${applets.join(" ")}; do ln -s busybox bin/$a; done`;
  const result = run(runner, "pseudo", ["sh", "-c", script], { cwd: dir });
  if (result.status !== 0) throw new Error(`building the root failed: ${result.stderr}`);
  return [dir, () => (run(runner, "pseudo", ["rm", "-rf", dir]), done())];
}

/**
 * For a describe block: why its tests cannot run here (or null) and, when they can, a
 * busybox root for the runner, built now and removed after the block.
 */
export function busyboxFixture(runner: Runner): { reason: string | null; root: string } {
  const reason = runner.reason ?? busyboxReason;
  if (reason !== null) return { reason, root: "" };
  const [root, cleanup] = busyboxRoot(runner);
  afterAll(() => cleanup());
  return { reason, root };
}

/** Host PIDs of processes running `sleep SECONDS` (a duration unique to one test marks
 *  its processes, wherever they run). */
export function sleepers(seconds: number): number[] {
  const wanted = `sleep\0${seconds}\0`;
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8") === wanted;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Words quoted for sh. */
export const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
export const line = (words: string[]) => words.map(quote).join(" ");

export const terminalReason = Bun.which("script") ? null : "script (util-linux) is missing";

/**
 * Runs a bash script on a new pseudo-terminal (util-linux script), as its controlling
 * terminal. With `interrupt`, types ^C once the output shows "ready".
 */
export async function onTerminal(dir: string, body: string, interrupt = false): Promise<string> {
  // script itself may fail now and then to set a pty up on a busy machine: that is no
  // result, so it is tried again, and its own words kept for the failure.
  let problem = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const result = await onTerminalOnce(dir, body, interrupt);
    if (result.output !== "" || result.status === 0) return result.output;
    problem = result.stderr;
  }
  throw new Error(`script gave no output: ${problem}`);
}

async function onTerminalOnce(dir: string, body: string, interrupt: boolean) {
  const file = join(dir, `terminal-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(file, `set +e\n${body}\n`);
  const child = Bun.spawn(["script", "-qec", `bash ${file}`, "/dev/null"], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, SHELL: "/bin/bash" },
  });
  let output = "";
  const decoder = new TextDecoder();
  const reader = child.stdout.getReader();
  let typed = !interrupt;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    output += decoder.decode(value);
    if (!typed && output.includes("ready")) {
      typed = true;
      child.stdin.write("\x03");
      child.stdin.flush();
    }
  }
  child.stdin.end();
  const status = await child.exited;
  return { output: output.replaceAll("\r", ""), status, stderr: await new Response(child.stderr).text() };
}
