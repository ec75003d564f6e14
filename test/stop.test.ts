// A container stops when it is told to. Its init is a PID 1, which the kernel shields from
// every signal it has no handler for: so contain ends the container itself on INT, TERM,
// HUP or QUIT that init does not handle, and dies of the signal, as the original's
// supervisor does; an init that handles one gets it once and decides. Also what CMD
// keeps of the caller: its own stdio off a terminal, the open files limit, the shell.
import { afterAll, describe, expect } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bun, busyboxFixture, cli, line, onTerminal, run, type Runner, runners, scratch, sleepers, terminalReason, testIf } from "./helpers.ts";

async function until(check: () => boolean): Promise<void> {
  for (let tries = 0; tries < 500 && !check(); tries++) await Bun.sleep(10);
}

/** A sleep duration no other test uses, to find this test's processes by. */
const unique = (base: number) => base + Math.floor(Math.random() * 1000);

/** PATH with `bun` on it, as where the commands are installed: their launcher runs it. */
const bunDir = mkdtempSync(join(tmpdir(), "contain-bun-"));
chmodSync(bunDir, 0o755);
symlinkSync(bun, join(bunDir, "bun"));
afterAll(() => rmSync(bunDir, { recursive: true, force: true }));
const withBun = { PATH: `${bunDir}:/usr/bin:/bin` };

/** Starts `args` of contain and reads its stdout until it says "ready". */
async function started(runner: Runner, args: string[]) {
  const child = Bun.spawn([...runner.prefix, bun, cli("contain"), ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const reader = child.stdout.getReader();
  let output = "";
  while (!output.includes("ready")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`contain did not start: ${output}${await new Response(child.stderr).text()}`);
    output += new TextDecoder().decode(value);
  }
  const rest = async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return output;
      output += new TextDecoder().decode(value);
    }
  };
  return { child, rest };
}

for (const runner of runners) {
  describe(`stopping a container, as ${runner.name}`, () => {
    const { reason, root } = busyboxFixture(runner);

    testIf(reason ?? terminalReason, "one ^C stops a loop of containers whose init has no INT handler", async () => {
      const [dir, done] = scratch(runner);
      try {
        const seconds = unique(4000);
        const contain = line([...runner.prefix, bun, cli("contain"), "-c", root, "/bin/sh", "-c", `echo ready; exec sleep ${seconds}`]);
        const output = await onTerminal(dir, `for i in 1 2; do ${contain}; echo "after:$?"; done; echo loop-done`, true);
        // contain died of INT, so bash, which got the ^C too, ended the script.
        expect(output.match(/ready/g)).toHaveLength(1);
        expect(output).not.toContain("after:");
        expect(output).not.toContain("loop-done");
        await until(() => sleepers(seconds).length === 0);
        expect(sleepers(seconds)).toEqual([]);
      } finally {
        done();
      }
    });

    testIf(reason ?? terminalReason, "one ^C runs an init's INT trap once, and its exit 130 stops the loop", async () => {
      const [dir, done] = scratch(runner);
      try {
        const script = `trap "echo trapped; exit 130" INT; echo ready; sleep ${unique(4000)} & wait`;
        const contain = line([...runner.prefix, bun, cli("contain"), "-c", root, "/bin/sh", "-c", script]);
        const output = await onTerminal(dir, `for i in 1 2; do ${contain}; echo "after:$?"; done; echo loop-done`, true);
        expect(output.match(/ready/g)).toHaveLength(1);
        expect(output.match(/trapped/g)).toHaveLength(1);
        expect(output).not.toContain("loop-done");
      } finally {
        done();
      }
    });

    testIf(reason, "timeout 1 contain -c DIR sleep ends it: status 124, nothing left running", async () => {
      const seconds = unique(6000);
      const result = Bun.spawnSync(["timeout", "1", ...runner.prefix, bun, cli("contain"), "-c", root, "sleep", String(seconds)], {
        stdin: "ignore",
      });
      expect(result.exitCode).toBe(124);
      await until(() => sleepers(seconds).length === 0);
      expect(sleepers(seconds)).toEqual([]);
    });

    testIf(reason, "kill -TERM of contain ends a handler-less init, and contain dies of TERM", async () => {
      const seconds = unique(7000);
      const { child } = await started(runner, ["-c", root, "/bin/sh", "-c", `echo ready; exec sleep ${seconds}`]);
      await until(() => sleepers(seconds).length === 1);
      process.kill(child.pid, "SIGTERM");
      await child.exited;
      expect([child.exitCode, child.signalCode]).toEqual([null, "SIGTERM"]);
      await until(() => sleepers(seconds).length === 0);
      expect(sleepers(seconds)).toEqual([]);
    });

    testIf(reason, "an init's TERM trap runs once and its status comes back; exit 143 is a death by TERM", async () => {
      for (const [status, how] of [[3, [3, null]], [143, [null, "SIGTERM"]]] as const) {
        const script = `trap "echo trapped; exit ${status}" TERM; echo ready; sleep ${unique(8000)} & wait`;
        const { child, rest } = await started(runner, ["-c", root, "/bin/sh", "-c", script]);
        process.kill(child.pid, "SIGTERM");
        expect(await rest()).toBe("ready\ntrapped\n");
        await child.exited;
        expect([child.exitCode, child.signalCode]).toEqual([...how]);
      }
    });

    testIf(reason ?? terminalReason, "$(contain DIR echo hi) is hi, with stderr apart; on a terminal, a console", async () => {
      const [dir, done] = scratch(runner);
      try {
        const contain = line([...runner.prefix, bun, cli("contain"), root]);
        const output = await onTerminal(
          dir,
          `v=$(${contain} /bin/sh -c 'echo hi; echo err >&2' 2>/dev/null); echo "v:[$v]"; ${contain} /bin/sh -c tty`,
        );
        expect(output).toBe("v:[hi]\n/dev/console\n");
      } finally {
        done();
      }
    });

    testIf(reason, "CMD gets the caller's open files limit, not the one Bun raised", async () => {
      const hard = Number(Bun.spawnSync(["sh", "-c", "ulimit -Hn"]).stdout.toString());
      const show = `ulimit -Sn; ulimit -Hn`;
      const expected = (soft: number) => `${soft}\n${hard}\n`;
      const caller = (soft: number, command: string[]) =>
        Bun.spawnSync([...runner.prefix, "sh", "-c", `ulimit -Sn ${soft}; ${line(command)}; exit $?`], {
          stdin: "ignore",
          env: { ...process.env, ...withBun },
        });
      // Through the launcher, which the shell executes in its own place (no parent to ask).
      const pseudo = caller(1000, ["exec", cli("pseudo"), "sh", "-c", show]);
      expect(pseudo.stdout.toString()).toBe(expected(1000));
      const contain = caller(900, ["exec", cli("contain"), "-c", root, "/bin/sh", "-c", show]);
      expect(contain.stdout.toString()).toBe(expected(900));
      // Run by Bun directly, from a shell that stays its parent.
      const direct = caller(800, [bun, cli("pseudo"), "sh", "-c", show]);
      expect(direct.stdout.toString()).toBe(expected(800));

      const { child } = await started(runner, ["-c", root, "/bin/sh", "-c", "echo ready; exec sleep 60"]);
      try {
        const inject = caller(700, ["exec", cli("inject"), String(child.pid), "/bin/sh", "-c", show]);
        expect(inject.stdout.toString()).toBe(expected(700));
        // Nor does the launcher's note reach CMD.
        const environment = caller(700, ["exec", cli("inject"), String(child.pid), "/bin/sh", "-c", "env"]);
        expect(environment.stdout.toString()).not.toContain("CONTAIN_CALLER_NOFILE");
      } finally {
        child.kill("SIGKILL");
        await child.exited;
      }
    });

    testIf(reason, "inject's default shell is $SHELL, or /bin/sh where the container has no such file", async () => {
      const { child } = await started(runner, ["-c", root, "/bin/sh", "-c", "echo ready; exec sleep 60"]);
      try {
        const missing = run(runner, "inject", [String(child.pid)], { stdin: 'echo "$0"; exit 5', env: { SHELL: "/bin/bash" } });
        expect([missing.stdout, missing.status]).toEqual(["/bin/sh\n", 5]);
        // The control: a $SHELL the container has is what runs (echo, with no words).
        const present = run(runner, "inject", [String(child.pid)], { stdin: 'echo "$0"', env: { SHELL: "/bin/echo" } });
        expect([present.stdout, present.status]).toEqual(["\n", 0]);
      } finally {
        child.kill("SIGKILL");
        await child.exited;
      }
    });
  });
}
