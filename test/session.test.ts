// What a container must not take from the session of whoever started it: the session keyring
// and the power to type into a terminal it shares (TIOCSTI) or to kill it (TIOCSETD); and
// ^C still arriving once.
// Each attack has a control: the same attempt without contain in the way works.
import { describe, expect } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bun, busyboxFixture, cli, line, onTerminal, PROBE, probeReason, quote, type Runner, runners, scratch, terminalReason, testIf } from "./helpers.ts";

function legacyTiocsti(): string | null {
  const path = "/proc/sys/dev/tty/legacy_tiocsti";
  return existsSync(path) ? readFileSync(path, "utf8").trim() : null;
}
const tiocstiReason =
  legacyTiocsti() === "0" ? "this kernel refuses TIOCSTI already (dev.tty.legacy_tiocsti = 0), so the attack cannot be shown" : null;
const nullReason = (existsSync("/proc/tty/ldiscs") ? readFileSync("/proc/tty/ldiscs", "utf8") : "").match(/^n_null\s+27$/m)
  ? null
  : "this kernel has no N_NULL line discipline loaded (/proc/tty/ldiscs), so the attack cannot be shown";

/** The runner's prefix with its program as an absolute path, for execve without PATH. */
function absolute(runner: Runner): string[] {
  if (runner.prefix.length === 0) return [];
  return [Bun.which(runner.prefix[0]!)!, ...runner.prefix.slice(1)];
}

/** Starts `contain -c ROOT sleep 30` in the background and waits until inject reaches it. */
async function background(runner: Runner, root: string) {
  const container = Bun.spawn([...runner.prefix, bun, cli("contain"), "-c", root, "/bin/sleep", "30"], { stdin: "ignore" });
  for (let attempt = 0; attempt < 100; attempt++) {
    const probe = Bun.spawnSync([...runner.prefix, bun, cli("inject"), String(container.pid), "/bin/true"]);
    if (probe.exitCode === 0) break;
    await Bun.sleep(50);
  }
  return container;
}

for (const runner of runners) {
  describe(`the host's session, as ${runner.name}`, () => {
    const { reason, root } = busyboxFixture(runner);
    const ready = reason ?? probeReason;

    testIf(ready ?? terminalReason ?? tiocstiReason, "TIOCSTI from contain -c and from inject reaches no host terminal", async () => {
      const [dir, done] = scratch(runner);
      try {
        const push = ["tiocsti", "echo INJECTED\n"];
        const control = await onTerminal(dir, `${line([...runner.prefix, PROBE, ...push])}; read -t 2 got; echo "read:[$got]"`);
        expect(control).toContain("tiocsti: pushed");
        expect(control).toContain("read:[echo INJECTED]");

        const contained = await onTerminal(
          dir,
          `${line([...runner.prefix, bun, cli("contain"), "-c", root, "/bin/probe", ...push])}; echo "status:$?"; read -t 1 got; echo "read:[$got]"`,
        );
        expect(contained).toContain("tiocsti: refused, errno 1\n");
        expect(contained).toContain("status:1\n");
        expect(contained).toContain("read:[]");

        const container = await background(runner, root);
        const injected = await onTerminal(
          dir,
          `${line([...runner.prefix, bun, cli("inject"), String(container.pid), "/bin/probe", ...push])}; read -t 1 got; echo "read:[$got]"`,
        );
        container.kill("SIGKILL");
        await container.exited;
        expect(injected).toContain("tiocsti: refused, errno 1\n");
        expect(injected).toContain("read:[]");
      } finally {
        done();
      }
    });

    testIf(ready ?? terminalReason ?? nullReason, "TIOCSETD from contain -c and from inject cannot kill the host terminal", async () => {
      const [dir, done] = scratch(runner);
      try {
        // The control: outside contain, N_NULL takes the terminal's line discipline, and
        // nothing written to it after arrives (the probe's own line goes to a file).
        const out = join(dir, "control");
        const control = await onTerminal(dir, `echo before; ${line([...runner.prefix, PROBE, "tiocsetd"])} > ${out}; echo "after:$?"`);
        expect(readFileSync(out, "utf8")).toBe("tiocsetd: set, line discipline now 27\n");
        expect(control).toContain("before\n");
        expect(control).not.toContain("after");

        const contained = await onTerminal(
          dir,
          `${line([...runner.prefix, bun, cli("contain"), "-c", root, "/bin/probe", "tiocsetd"])}; echo "status:$?"; echo after; stty -g >/dev/null && echo "stty:ok"`,
        );
        expect(contained).toContain("tiocsetd: refused, errno 1\nstatus:1\nafter\nstty:ok\n");

        const container = await background(runner, root);
        const injected = await onTerminal(
          dir,
          `${line([...runner.prefix, bun, cli("inject"), String(container.pid), "/bin/probe", "tiocsetd"])}; echo "status:$?"; echo after`,
        );
        container.kill("SIGKILL");
        await container.exited;
        expect(injected).toContain("tiocsetd: refused, errno 1\nstatus:1\nafter\n");
      } finally {
        done();
      }
    });

    testIf(ready, "a key in the host's session keyring is not readable from a container or inject", async () => {
      const add = [PROBE, "key-add", "secretkey", "hunter2"];
      const control = Bun.spawnSync([...add, ...absolute(runner), PROBE, "key-read", "secretkey"]);
      expect(control.stdout.toString()).toBe("key-read: hunter2\n");

      const contained = Bun.spawnSync([...add, ...absolute(runner), bun, cli("contain"), "-c", root, "/bin/probe", "key-read", "secretkey"]);
      expect(contained.stdout.toString()).toMatch(/^key-read: not found/);
      expect(contained.exitCode).toBe(1);

      const console = Bun.spawnSync([...add, ...absolute(runner), bun, cli("contain"), "-C", root, "/bin/probe", "key-read", "secretkey"], {
        stdin: "ignore",
      });
      expect(console.stdout.toString()).toMatch(/^key-read: not found/);

      const container = await background(runner, root);
      const injected = Bun.spawnSync([...add, ...absolute(runner), bun, cli("inject"), String(container.pid), "/bin/probe", "key-read", "secretkey"]);
      container.kill("SIGKILL");
      await container.exited;
      expect(injected.stdout.toString()).toMatch(/^key-read: not found/);
    });

    // A copy the supervisor forwards needlessly lands within microseconds of the terminal's
    // own and the kernel may merge the two, so one run can miss it: short sleeps in a loop
    // and a trap that takes a while widen the window, and three runs make a miss unlikely.
    const trap = `trap "echo trapped; sleep 0.2" INT; echo ready; i=0; while [ $i -lt 20 ]; do sleep 0.05; i=$((i+1)); done; echo end`;

    testIf(reason ?? terminalReason, "one ^C on the terminal runs CMD's INT trap once, under contain -c and pseudo", async () => {
      const [dir, done] = scratch(runner);
      try {
        const control = await onTerminal(dir, `sh -c ${quote(trap)}; echo "status:$?"`, true);
        expect(control.match(/trapped/g)).toHaveLength(1);
        for (const command of [[cli("contain"), "-c", root, "/bin/sh"], [cli("pseudo"), "sh"]]) {
          for (let run = 0; run < 3; run++) {
            const output = await onTerminal(dir, `${line([...runner.prefix, bun, ...command, "-c", trap])}; echo "status:$?"`, true);
            expect(output.match(/trapped/g)).toHaveLength(1);
            expect(output).toContain("end\nstatus:0\n");
          }
        }
      } finally {
        done();
      }
    });

    testIf(reason, "signals the caller ignored stay ignored in CMD, and are not passed on", () => {
      const hup = "kill -HUP $$; kill -INT $$; echo alive; grep ^SigIgn: /proc/self/status";
      for (const command of [[cli("pseudo"), "sh", "-c", hup], [cli("contain"), "-c", root, "/bin/sh", "-c", hup]]) {
        const ignored = Bun.spawnSync(["bash", "-c", `trap '' HUP INT; exec ${line([...runner.prefix, bun, ...command])}`], { stdin: "ignore" });
        const [alive, mask] = ignored.stdout.toString().trim().split("\n");
        expect(alive).toBe("alive");
        // HUP and INT (bits 0 and 1) still ignored in CMD.
        expect(BigInt(`0x${mask!.split(/\s+/)[1]}`) & 3n).toBe(3n);
        expect(ignored.exitCode).toBe(0);
      }
      // The control: not ignored, HUP ends CMD (pseudo dies of it in turn).
      const plain = Bun.spawnSync([...runner.prefix, bun, cli("pseudo"), "sh", "-c", hup], { stdin: "ignore" });
      expect(plain.stdout.toString()).toBe("");
      expect(plain.signalCode).toBe("SIGHUP");
    });

    testIf(reason, "kill -INT of the supervisor runs CMD's INT trap once", async () => {
      const script = `trap "echo trapped" INT; echo ready; sleep 5 >/dev/null & wait; echo end`;
      for (const command of [[cli("contain"), "-c", root, "/bin/sh"], [cli("pseudo"), "sh"]]) {
        const child = Bun.spawn([...runner.prefix, bun, ...command, "-c", script], { stdin: "ignore", stdout: "pipe" });
        const reader = child.stdout.getReader();
        let output = "";
        while (!output.includes("ready")) output += new TextDecoder().decode((await reader.read()).value);
        process.kill(child.pid, "SIGINT");
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          output += new TextDecoder().decode(value);
        }
        expect(await child.exited).toBe(0);
        expect(output).toBe("ready\ntrapped\nend\n");
      }
    });
  });
}
