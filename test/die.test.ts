// When CMD (pseudo, inject) or init (contain) is killed by a signal, the command dies of
// that signal too, as if CMD had run in its place: a caller that looks at how it ended
// (WIFSIGNALED, Bun's signalCode) sees the signal, not an exit with 128 + N.
import { describe, expect } from "bun:test";
import { bun, busyboxFixture, cli, runners, sleepers, testIf } from "./helpers.ts";

const findSleep = (seconds: number): number | undefined => sleepers(seconds)[0];

for (const runner of runners) {
  describe(`death by signal passes through, as ${runner.name}`, () => {
    const { reason, root } = busyboxFixture(runner);

    testIf(reason, "pseudo and inject die of the signal that killed CMD; an exit stays an exit", async () => {
      const pseudo = Bun.spawn([...runner.prefix, bun, cli("pseudo"), "sh", "-c", "kill -TERM $$"], { stdin: "ignore" });
      await pseudo.exited;
      expect([pseudo.exitCode, pseudo.signalCode]).toEqual([null, "SIGTERM"]);
      // The control: an exit with 143 is an exit.
      const exits = Bun.spawn([...runner.prefix, bun, cli("pseudo"), "sh", "-c", "exit 143"], { stdin: "ignore" });
      await exits.exited;
      expect([exits.exitCode, exits.signalCode]).toEqual([143, null]);

      const container = Bun.spawn([...runner.prefix, bun, cli("contain"), "-c", root, "/bin/sh", "-c", "echo ready; exec sleep 60"], {
        stdin: "ignore",
        stdout: "pipe",
      });
      await container.stdout.getReader().read();
      try {
        const inject = Bun.spawn([...runner.prefix, bun, cli("inject"), String(container.pid), "/bin/sh", "-c", "kill -TERM $$"], { stdin: "ignore" });
        await inject.exited;
        expect([inject.exitCode, inject.signalCode]).toEqual([null, "SIGTERM"]);
      } finally {
        container.kill("SIGKILL");
        await container.exited;
      }
    });

    testIf(reason, "contain dies of the signal that killed init", async () => {
      const seconds = 5000 + Math.floor(Math.random() * 1000);
      const container = Bun.spawn([...runner.prefix, bun, cli("contain"), "-c", root, "sleep", String(seconds)], { stdin: "ignore" });
      try {
        let init: number | undefined;
        for (let tries = 0; tries < 500 && init === undefined; tries++) init = (await Bun.sleep(10), findSleep(seconds));
        expect(init).toBeDefined();
        // From the host, SIGKILL reaches even a PID 1.
        process.kill(init!, "SIGKILL");
        await container.exited;
        expect([container.exitCode, container.signalCode]).toEqual([null, "SIGKILL"]);
      } finally {
        container.kill("SIGKILL");
      }
    });
  });
}
