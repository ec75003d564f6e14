// The container's cgroup: its own, delegated to container root, rooted in its namespace and
// gone once it ends (SIGKILL of contain included); systemd as init; usage and limits. As
// root, and as the test user in a delegated subtree made the way systemd makes one.
import { afterAll, describe, expect } from "bun:test";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from "node:fs";
import { bun, busyboxFixture, cli, type Runner, runners, testIf, tree } from "./helpers.ts";
import { cgroupPlace, v1Controllers } from "../src/hierarchy.ts";

const mountinfo = readFileSync("/proc/self/mountinfo", "utf8");
const place = cgroupPlace(mountinfo, readFileSync("/proc/self/cgroup", "utf8"));
const isRoot = process.getuid!() === 0;

/** The test set-up's delegated subtree, as systemd's Delegate=yes makes one: a cgroup
 *  given to the test user with its cgroup.procs, cgroup.subtree_control and cgroup.threads. */
function delegate(runner: Runner): { dir: string; reason: string | null } {
  if (runner.reason) return { dir: "", reason: runner.reason };
  if (place.dir === null) return { dir: "", reason: `no cgroup2 hierarchy here (${place.mount ?? "none mounted"})` };
  if (runner.name === "root") return { dir: place.dir, reason: null };
  if (!isRoot) return { dir: "", reason: "making a delegated cgroup for the test user needs the tests to run as root" };
  const dir = `${place.dir}/contain-test-delegated-${process.pid}`;
  try {
    mkdirSync(dir);
    for (const path of [dir, `${dir}/cgroup.procs`, `${dir}/cgroup.subtree_control`, `${dir}/cgroup.threads`]) {
      chownSync(path, runner.uid, runner.gid);
    }
  } catch (error) {
    return { dir: "", reason: `cannot make a delegated cgroup in ${place.dir}: ${(error as Error).message}` };
  }
  afterAll(() => rmdirSync(dir));
  return { dir, reason: null };
}

/** Runs argv as the runner, started inside `dir`: a root-run wrapper writes its own PID
 *  into the cgroup's cgroup.procs and then execs the runner's setpriv (the PID stays). */
function inCgroup(runner: Runner, dir: string, argv: string[]): string[] {
  if (runner.name === "root") return argv;
  return ["sh", "-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, dir, ...runner.prefix, ...argv];
}

/** The container cgroups that contain `pid` made in `dir`. */
function made(dir: string, pid: number): string[] {
  return readdirSync(dir).filter((name) => name.startsWith(`contain-${pid}-`));
}

async function until(check: () => boolean, tries = 500): Promise<boolean> {
  for (let at = 0; at < tries && !check(); at++) await Bun.sleep(20);
  return check();
}

const TARBALL = process.env.CONTAIN_SYSTEMD_TARBALL ?? "/var/cache/contain-test/bookworm-systemd.tar";
const tarballReason = existsSync(TARBALL) ? null : `no Debian root with systemd at ${TARBALL} (scripts/setup.sh as root makes it)`;

/** The failed units of a boot in a user namespace: debugfs and tracefs cannot be mounted
 *  there (the README says so). Any other is a failure of ours. */
const EXPECTED_FAILED = ["sys-kernel-debug.mount", "sys-kernel-tracing.mount"];

/** The runner's own extraction of the systemd root (fromTarball), and its removal. */
function systemdRoot(runner: Runner): string {
  const script = `const { fromTarball } = await import(${JSON.stringify(`${tree}/src/index.ts`)}); console.log((await fromTarball(${JSON.stringify(TARBALL)})).path);`;
  const result = Bun.spawnSync([...runner.prefix, bun, "-e", script], { cwd: "/tmp", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`fromTarball failed: ${result.stderr}`);
  const path = result.stdout.toString().trim();
  // Its parent, the private directory fromTarball made, goes with it.
  afterAll(() => void Bun.spawnSync([...runner.prefix, bun, cli("pseudo"), "rm", "-rf", path.replace(/\/root$/, "")]));
  return path;
}

for (const runner of runners) {
  describe(`the container's cgroup, as ${runner.name}`, () => {
    const { reason: busyboxReason, root } = busyboxFixture(runner);
    const delegated = delegate(runner);
    const reason = delegated.reason ?? busyboxReason;
    const owner = runner.name === "root" ? 4294967294 : runner.uid;

    testIf(reason, "is the container's own, container root's, the root of its namespace, and gone after a SIGKILL of contain", async () => {
      const contain = Bun.spawn(
        inCgroup(runner, delegated.dir, [bun, cli("contain"), "-c", root, "/bin/sh", "-c", "cat /proc/self/cgroup; exec sleep 60"]),
        { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
      );
      const first = new TextDecoder().decode((await contain.stdout.getReader().read()).value);
      try {
        // The namespace is rooted in the container's cgroup, with init in it.
        expect(first.split("\n").filter((line) => line.startsWith("0::"))).toEqual(["0::/"]);
        const names = made(delegated.dir, contain.pid);
        expect(names).toHaveLength(1);
        const path = `${delegated.dir}/${names[0]}`;
        for (const file of ["", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"]) {
          expect(statSync(`${path}${file}`).uid).toBe(owner);
        }
        // Init, and the holder (contain's child) where there are no controllers to give,
        // since only those make it leave (zig/holder.zig).
        const ppid = (pid: string) => /PPid:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1];
        const member = (pid: string) => {
          try {
            return ppid(pid) === String(contain.pid) ? "holder" : readFileSync(`/proc/${pid}/cmdline`, "utf8");
          } catch {
            return "gone"; // cat, or the shell before its exec
          }
        };
        const members = () => readFileSync(`${path}/cgroup.procs`, "utf8").trim().split("\n").map(member).sort();
        const controllers = readFileSync(`${path}/cgroup.controllers`, "utf8").trim();
        const expected = controllers === "" ? ["holder", "sleep\x0060\x00"] : ["sleep\x0060\x00"];
        await until(() => members().join() === expected.join());
        expect(members()).toEqual(expected);
      } finally {
        contain.kill("SIGKILL");
        await contain.exited;
      }
      // The cleaner removes it: nobody else is left to.
      expect(await until(() => made(delegated.dir, contain.pid).length === 0)).toBe(true);
    });

    testIf(reason, "cgroups container root nests as deep as it likes are removed with it", () => {
      // Deeper than any bounded recursion would go; each level with siblings too.
      const script = "cd /sys/fs/cgroup && i=0 && while [ $i -lt 100 ]; do mkdir a b && cd a || exit 1; i=$((i + 1)); done";
      const result = Bun.spawnSync(inCgroup(runner, delegated.dir, [bun, cli("contain"), "-c", root, "/bin/sh", "-c", script]), {
        stderr: "pipe",
      });
      expect([result.exitCode, result.stderr.toString()]).toEqual([0, ""]);
      expect(made(delegated.dir, result.pid)).toEqual([]);
    });

    testIf(reason, "the library's usage shows the CPU time of a busy loop", () => {
      const script = [
        `const { contain } = await import(${JSON.stringify(`${tree}/src/index.ts`)});`,
        `const c = contain({ root: ${JSON.stringify(root)}, cmd: ["/bin/sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"] });`,
        `console.log(JSON.stringify({ status: await c.exited, usage: c.usage }));`,
      ].join("\n");
      const result = Bun.spawnSync(inCgroup(runner, delegated.dir, [bun, "-e", script]), { cwd: "/tmp", stderr: "pipe" });
      expect(result.stderr.toString()).toBe("");
      const { status, usage } = JSON.parse(result.stdout.toString());
      expect(status).toBe(0);
      // A few hundred thousand shell iterations: tens of milliseconds at the very least.
      expect(usage.userMicroseconds + usage.systemMicroseconds).toBeGreaterThan(10_000);
    });

    // Each limit is tested on whichever side of it this host is: where cgroup2 has the
    // controller, the limit holds inside the container; where it has not, asking for it is
    // one line naming the controller and the host's layout, status 125. (A host with the
    // controllers on cgroup v1, as some CI machines have, tests only the second side.)
    const available = delegated.dir ? readFileSync(`${delegated.dir}/cgroup.controllers`, "utf8").trim().split(/\s+/) : [];
    const option = { memory: ["--memory", "16m"], pids: ["--pids", "20"], cpu: ["--cpus", "0.5"] } as const;
    // What each limit does inside the container, where its controller is there to do it.
    const enforced = {
      memory: "cat /sys/fs/cgroup/memory.max; x=a; while true; do x=$x$x; done",
      pids: "cat /sys/fs/cgroup/pids.max; i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done 2>/dev/null; echo forked",
      cpu: "cat /sys/fs/cgroup/cpu.max",
    } as const;
    for (const controller of ["memory", "pids", "cpu"] as const) {
      const present = available.includes(controller);
      testIf(reason, `${option[controller][0]}: ${present ? "the limit holds in the container" : "one line and status 125, as cgroup2 has no " + controller + " controller here"}`, () => {
        const argv = [bun, cli("contain"), "-c", ...option[controller], root, "/bin/sh", "-c", enforced[controller]];
        const result = Bun.spawnSync(inCgroup(runner, delegated.dir, argv), { stdout: "pipe", stderr: "pipe" });
        const stdout = result.stdout.toString();
        const stderr = result.stderr.toString();
        if (!present) {
          expect(result.exitCode).toBe(125);
          expect(stderr.split("\n")).toHaveLength(2);
          expect(stderr).toContain(`contain: Cannot limit with cgroup2's ${controller} controller: `);
          if (v1Controllers(mountinfo).includes(controller)) expect(stderr).toContain("cgroup v1");
          return;
        }
        if (controller === "memory") {
          expect(stdout).toStartWith(`${16 * 2 ** 20}\n`);
          expect(stderr).toContain("OOM");
        } else if (controller === "pids") {
          expect(stdout).toStartWith("20\n");
        } else {
          expect(stdout).toBe("50000 100000\n");
        }
      });
    }

    const usageReason = ["memory", "pids"].every((name) => available.includes(name))
      ? null
      : `the memory and pids controllers are not in this host's cgroup2 hierarchy (${place.mount ?? "none"}: ${available.join(" ") || "no controllers"})`;
    // Peaks exist only where their controllers do: on a host without them this test is
    // not one that could not run, but one with nothing to test, and it is not registered.
    if (usageReason === null) {
      testIf(reason, "usage has the peaks and the OOM kills", () => {
        const script = [
          `const { contain } = await import(${JSON.stringify(`${tree}/src/index.ts`)});`,
          `const c = contain({ root: ${JSON.stringify(root)}, limits: { memory: "16m", pids: 20 }, stdout: "pipe",`,
          `  cmd: ["/bin/sh", "-c", "x=a; while true; do x=$x$x; done"] });`,
          `await new Response(c.stdout).text();`,
          `console.log(JSON.stringify({ status: await c.exited, usage: c.usage }));`,
        ].join("\n");
        const result = Bun.spawnSync(inCgroup(runner, delegated.dir, [bun, "-e", script]), { cwd: "/tmp", stderr: "pipe" });
        const { usage } = JSON.parse(result.stdout.toString().trim().split("\n").pop()!);
        expect(usage.oomKills).toBeGreaterThan(0);
        expect(usage.memoryPeakBytes).toBeLessThanOrEqual(16 * 2 ** 20);
        expect(usage.pidsPeak).toBeGreaterThan(0);
      });
    }

    const bootReason = reason ?? tarballReason;
    const debian = bootReason === null ? systemdRoot(runner) : "";

    /** Boots systemd in a container; resolves with contain's process once the system is
     *  running or degraded, and what systemctl said. */
    async function boot(): Promise<{ contain: ReturnType<typeof Bun.spawn>; state: string; failed: string[] }> {
      const contain = Bun.spawn(inCgroup(runner, delegated.dir, [bun, cli("contain"), "-c", debian, "/sbin/init"]), {
        stdin: "ignore",
        stdout: "ignore",
        stderr: "pipe",
      });
      const inject = (...argv: string[]) =>
        Bun.spawnSync([...runner.prefix, bun, cli("inject"), String(contain.pid), ...argv], { stderr: "ignore" }).stdout.toString().trim();
      let state = "";
      await until(() => {
        state = inject("systemctl", "is-system-running");
        return state === "running" || state === "degraded";
      }, 3000);
      const failed = inject("systemctl", "--failed", "--plain", "--no-legend").split("\n").filter(Boolean).map((line) => line.split(" ")[0]!);
      return { contain, state, failed };
    }

    testIf(bootReason, "systemd boots, and systemctl poweroff ends contain with 0 and removes the cgroup", async () => {
      const { contain, state, failed } = await boot();
      try {
        expect(["running", "degraded"]).toContain(state);
        for (const unit of failed) expect(EXPECTED_FAILED).toContain(unit);
        expect(made(delegated.dir, contain.pid)).toHaveLength(1);
        Bun.spawnSync([...runner.prefix, bun, cli("inject"), String(contain.pid), "systemctl", "poweroff"]);
        expect(await contain.exited).toBe(0);
      } finally {
        contain.kill("SIGKILL");
      }
      expect(made(delegated.dir, contain.pid)).toEqual([]);
    }, 120_000);

    testIf(bootReason, "kill -TERM of contain halts systemd cleanly", async () => {
      const { contain, state } = await boot();
      try {
        expect(["running", "degraded"]).toContain(state);
        // Through setpriv and the wrapper's exec, contain.pid is contain itself.
        process.kill(contain.pid, "SIGTERM");
        expect(await contain.exited).toBe(0);
        expect(await new Response(contain.stderr as ReadableStream).text()).toBe("");
      } finally {
        contain.kill("SIGKILL");
      }
      expect(made(delegated.dir, contain.pid)).toEqual([]);
    }, 120_000);

    testIf(bootReason, "the library's kill() halts systemd cleanly, and usage has its CPU time", () => {
      const script = [
        `const { contain, inject } = await import(${JSON.stringify(`${tree}/src/index.ts`)});`,
        `const c = contain({ root: ${JSON.stringify(debian)}, cmd: ["/sbin/init"], stdout: "ignore", stderr: "ignore" });`,
        `let state = "";`,
        `for (let tries = 0; tries < 300 && state !== "running" && state !== "degraded"; tries++) {`,
        `  const i = inject({ pid: c.pid, cmd: ["systemctl", "is-system-running"], stdout: "pipe", stderr: "ignore" });`,
        `  state = (await new Response(i.stdout).text()).trim();`,
        `  await i.exited;`,
        `  if (state !== "running" && state !== "degraded") await Bun.sleep(100);`,
        `}`,
        `c.kill();`,
        `console.log(JSON.stringify({ state, status: await c.exited, usage: c.usage }));`,
      ].join("\n");
      const result = Bun.spawnSync(inCgroup(runner, delegated.dir, [bun, "-e", script]), { cwd: "/tmp", stderr: "pipe", timeout: 60_000 });
      expect(result.stderr.toString()).toBe("");
      const { state, status, usage } = JSON.parse(result.stdout.toString());
      expect(["running", "degraded"]).toContain(state);
      expect(status).toBe(0);
      expect(usage.userMicroseconds + usage.systemMicroseconds).toBeGreaterThan(0);
    }, 120_000);
  });
}

