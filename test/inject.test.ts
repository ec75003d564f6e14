// inject, through its CLI, into a container started by the same runner.
import { afterAll, describe, expect } from "bun:test";
import { bun, busyboxReason, busyboxRoot, cli, run, runners, testIf } from "./helpers.ts";

for (const runner of runners) {
  describe(`inject as ${runner.name}`, () => {
    const reason = runner.reason ?? busyboxReason;
    let root = "";
    let cleanup = () => {};
    if (reason === null) [root, cleanup] = busyboxRoot(runner);
    afterAll(() => cleanup());

    testIf(reason, "runs CMD in every namespace of the container, with its status", async () => {
      const container = Bun.spawn(
        [...runner.prefix, bun, cli("contain"), "-c", root, "/bin/sh", "-c", 'hostname inside; trap "exit 6" TERM; echo ready; while :; do sleep 0.05; done'],
        { stdout: "pipe" },
      );
      await container.stdout.getReader().read();
      const kinds = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];
      const script = `hostname; echo $$; for k in ${kinds.join(" ")}; do [ "$(readlink /proc/self/ns/$k)" = "$(readlink /proc/1/ns/$k)" ] || echo differs $k; done`;
      const result = run(runner, "inject", [String(container.pid), "/bin/sh", "-c", script]);
      expect(result.stdout.split("\n")[0]).toBe("inside");
      expect(Number(result.stdout.split("\n")[1])).toBeGreaterThan(1);
      expect(result.stdout).not.toContain("differs");
      expect(run(runner, "inject", [String(container.pid), "sh", "-c", "kill -9 $$"]).status).toBe(137);
      expect(run(runner, "inject", [String(container.pid), "kill", "-TERM", "1"]).status).toBe(0);
      expect(await container.exited).toBe(6);
    });

    testIf(reason, "bad PIDs", () => {
      expect(run(runner, "inject", ["abc"]).status).toBe(64);
      const missing = run(runner, "inject", ["999999999", "true"]);
      expect(missing.stderr).toBe("inject: PID 999999999 not found\n");
      expect(missing.status).toBe(125);
      const notContainer = run(runner, "inject", [String(process.pid), "true"]);
      expect(notContainer.stderr).toMatch(/^inject: PID \d+ (is not a container supervisor|does not belong to you)\n$/);
    });
  });
}
