// A signal while contain is still setting up (a slow -i helper) ends the start: CMD never
// runs, nothing the helper started is left, and contain reports the signal at once. A
// failed step after the helpers ran leaves nothing of theirs either. And what inject's
// caller holds (supplementary groups) stays out of the container.
import { describe, expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bun, busyboxFixture, cli, run, runners, scratch, sleepers, testIf } from "./helpers.ts";

const running = (seconds: number) => sleepers(seconds).length;

for (const runner of runners) {
  describe(`a signal during set-up, as ${runner.name}`, () => {
    const { reason, root } = busyboxFixture(runner);

    testIf(reason, "TERM while the -i helper runs: CMD never runs, the helper's children end, status 143", async () => {
      const seconds = 6000 + Math.floor(Math.random() * 1000);
      const contain = Bun.spawn(
        [...runner.prefix, bun, cli("contain"), "-c", "-i", `sleep ${seconds}`, root, "/bin/echo", "CMD ran"],
        { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
      );
      // The control: the helper really is running when the signal comes.
      for (let tries = 0; tries < 500 && running(seconds) === 0; tries++) await Bun.sleep(10);
      expect(running(seconds)).toBe(1);
      contain.kill("SIGTERM");
      expect(await contain.exited).toBe(143);
      expect(await new Response(contain.stdout).text()).toBe("");
      expect(await new Response(contain.stderr).text()).toBe("");
      for (let tries = 0; tries < 500 && running(seconds) > 0; tries++) await Bun.sleep(10);
      expect(running(seconds)).toBe(0);
    });

    // As host root, what the -o helper leaves running is host root's: a failed start that
    // left it would hand it to no one's care.
    testIf(reason, "a failed step after the helpers ran leaves none of their background jobs", async () => {
      const [dir, done] = scratch(runner);
      const base = 8000 + Math.floor(Math.random() * 1000) * 4;
      const marks = [base, base + 1, base + 2, base + 3];
      try {
        // The helpers record their jobs' PIDs: the control that they really started them
        // (the -i helper through a bind, from inside the root before the pivot).
        const job = (seconds: number, record: string) => `sleep ${seconds} >/dev/null 2>&1 & echo $! > ${record}`;
        const cases = [
          // A failing -i helper, after its own job and the -o helper's ran.
          {
            args: ["-o", job(marks[0]!, join(dir, "outside")), "-i", `sleep ${marks[1]} >/dev/null 2>&1 & exit 3`],
            error: /^contain: The -i helper exited with status 3\n$/,
            ran: ["outside"],
          },
          // The same -i, with its job's PID recorded through a bind.
          { args: ["-e", "-b", `${dir}:/record`, "-i", `${job(marks[1]!, "record/inside")}; exit 3`], error: /^contain: The -i helper exited with status 3\n$/, ran: ["inside"] },
          // A working directory that is missing fails in init, after both helpers ran.
          {
            args: ["-o", job(marks[2]!, join(dir, "outside2")), "-i", `sleep ${marks[3]} >/dev/null 2>&1 &`, "-w", "/missing"],
            error: /^contain: Failed to enter working directory \/missing/,
            ran: ["outside2"],
          },
          // A bad -t fails in building the root, which comes before the -o helper runs.
          { args: ["-o", job(marks[2]!, join(dir, "never")), "-t", "/../x"], error: /^contain: Failed to resolve mount target \/\.\.\/x/, ran: [] },
        ];
        for (const { args, error, ran } of cases) {
          const result = run(runner, "contain", ["-c", ...args, root, "/bin/echo", "CMD ran"]);
          expect(result.stderr).toMatch(error);
          expect([result.status, result.stdout]).toEqual([125, ""]);
          for (const name of ran) expect(readFileSync(join(dir, name), "utf8")).toMatch(/^\d+\n$/);
        }
        for (let tries = 0; tries < 100 && marks.some((seconds) => running(seconds) > 0); tries++) await Bun.sleep(10);
        expect(marks.map(running)).toEqual([0, 0, 0, 0]);
      } finally {
        for (const seconds of marks) for (const pid of sleepers(seconds)) process.kill(pid, "SIGKILL");
        done();
      }
    });
  });
}

describe("inject and the caller's groups", () => {
  const [runner] = runners;
  const { reason, root } = busyboxFixture(runner!);
  const setpriv = Bun.which("setpriv");

  testIf(reason ?? (setpriv ? null : "setpriv is missing"), "root's supplementary groups do not reach inject's CMD", async () => {
    const container = Bun.spawn([bun, cli("contain"), "-c", root, "/bin/sh", "-c", "echo ready; exec sleep 60"], {
      stdin: "ignore",
      stdout: "pipe",
    });
    await container.stdout.getReader().read();
    try {
      const groups = [setpriv!, "--groups", "4,42"];
      // The control: with these groups, a process on the host has them.
      const control = Bun.spawnSync([...groups, "grep", "^Groups:", "/proc/self/status"]);
      expect(control.stdout.toString().trim().split(/\s+/).slice(1)).toEqual(["4", "42"]);
      const injected = Bun.spawnSync([...groups, bun, cli("inject"), String(container.pid), "/bin/sh", "-c", "grep ^Groups: /proc/self/status"]);
      expect(injected.stdout.toString().trim()).toBe("Groups:");
    } finally {
      container.kill("SIGKILL");
      await container.exited;
    }
  });
});
