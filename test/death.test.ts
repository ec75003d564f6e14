// Death with contain: whatever the container and the helpers start, and whatever they do to
// their credentials, nothing outlives a SIGKILL of contain (or of inject, for its CMD).
import { describe, expect } from "bun:test";
import { chmodSync } from "node:fs";
import { bun, busyboxFixture, cli, probeReason, runners, sleepers, testIf } from "./helpers.ts";

async function until(check: () => boolean): Promise<void> {
  for (let tries = 0; tries < 500 && !check(); tries++) await Bun.sleep(10);
}

for (const runner of runners) {
  describe(`death with contain, as ${runner.name}`, () => {
    const { reason, root } = busyboxFixture(runner);

    // UID 5 must reach /bin in the root (a scratch directory is 0700). Open to others, the
    // root is refused as host root under the default map unless ephemeral (-e).
    if (root !== "") chmodSync(root, 0o755);

    testIf(reason ?? probeReason, "SIGKILL of contain ends init after it changed its UID, and the helpers' children", async () => {
      const base = 7000 + Math.floor(Math.random() * 1000) * 4;
      const [outside, inside, background, init] = [base, base + 1, base + 2, base + 3];
      const contain = Bun.spawn(
        [
          ...runner.prefix, bun, cli("contain"), "-c", "-e",
          "-o", `sleep ${outside} >/dev/null 2>&1 &`,
          // The pause lets the helper's child load its libraries before init's pivot_root
          // moves the root of every process in the mount namespace, this one's too.
          "-i", `sleep ${inside} >/dev/null 2>&1 & sleep 0.2`,
          // probe become clears the parent-death signal, as su would.
          root, "/bin/probe", "become", "5", "/bin/sh", "-c", `sleep ${background} & echo ready; exec sleep ${init}`,
        ],
        { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
      );
      const first = await contain.stdout.getReader().read();
      if (new TextDecoder().decode(first.value) !== "ready\n") {
        contain.kill("SIGKILL");
        throw new Error(`contain did not start: ${new TextDecoder().decode(first.value)}${await new Response(contain.stderr).text()}`);
      }
      const all = [outside, inside, background, init];
      await until(() => all.every((seconds) => sleepers(seconds).length === 1));
      // The control: every one of them runs before contain is killed.
      expect(all.map((seconds) => sleepers(seconds).length)).toEqual([1, 1, 1, 1]);

      contain.kill("SIGKILL");
      await contain.exited;
      await until(() => all.every((seconds) => sleepers(seconds).length === 0));
      expect(all.map((seconds) => sleepers(seconds).length)).toEqual([0, 0, 0, 0]);
    });

    testIf(reason ?? probeReason, "SIGKILL of inject ends its CMD after it changed its UID", async () => {
      const seconds = 8000 + Math.floor(Math.random() * 1000);
      const container = Bun.spawn([...runner.prefix, bun, cli("contain"), "-c", "-e", root, "/bin/sh", "-c", "echo ready; exec sleep 60"], {
        stdin: "ignore",
        stdout: "pipe",
      });
      await container.stdout.getReader().read();
      try {
        const inject = Bun.spawn(
          [...runner.prefix, bun, cli("inject"), String(container.pid), "/bin/probe", "become", "5", "/bin/sh", "-c", `echo ready; exec sleep ${seconds}`],
          { stdin: "ignore", stdout: "pipe" },
        );
        await inject.stdout.getReader().read();
        await until(() => sleepers(seconds).length === 1);
        expect(sleepers(seconds)).toHaveLength(1);
        inject.kill("SIGKILL");
        await inject.exited;
        await until(() => sleepers(seconds).length === 0);
        expect(sleepers(seconds)).toEqual([]);
      } finally {
        container.kill("SIGKILL");
        await container.exited;
      }
    });
  });
}
