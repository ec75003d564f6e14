// A signal while contain is still setting up (a slow -i helper) ends the start: CMD never
// runs, nothing the helper started is left, and contain reports the signal at once. And
// what inject's caller holds (supplementary groups) stays out of the container.
import { describe, expect } from "bun:test";
import { bun, busyboxFixture, cli, runners, sleepers, testIf } from "./helpers.ts";

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
