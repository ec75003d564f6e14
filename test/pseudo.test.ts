// pseudo, run through its CLI as root and as the unprivileged test user.
import { describe, expect } from "bun:test";
import { chownSync, readFileSync, writeFileSync } from "node:fs";
import { bun, cli, delegationReason, run, runners, scratch, testIf } from "./helpers.ts";

const childrenOf = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

async function until<T>(probe: () => T | null | undefined | false, what: string): Promise<T> {
  for (let tries = 0; tries < 500; tries++) {
    const value = probe();
    if (value) return value;
    await Bun.sleep(10);
  }
  throw new Error(`gave up waiting for ${what}`);
}

for (const runner of runners) {
  describe(`pseudo as ${runner.name}`, () => {
    testIf(runner.reason, "runs CMD as uid 0 and gid 0, keeping cwd and environment", () => {
      const [dir, done] = scratch(runner);
      const env = { PSEUDO_MARK: "kept through pseudo" };
      const result = run(runner, "pseudo", ["sh", "-c", 'id -u; id -g; pwd; echo "$PSEUDO_MARK"'], { cwd: dir, env });
      done();
      expect(result.stdout).toBe(`0\n0\n${dir}\nkept through pseudo\n`);
      expect(result.status).toBe(0);
    });

    testIf(runner.reason, "maps container root onto the expected host ID", () => {
      const result = run(runner, "pseudo", ["cat", "/proc/self/uid_map"]);
      const first = result.stdout.trim().split("\n")[0]!.trim().split(/\s+/);
      expect(first).toEqual(["0", runner.name === "root" ? "4294967294" : String(runner.uid), "1"]);
    });

    testIf(runner.reason ?? delegationReason(runner), "the default map includes the delegated ranges", () => {
      const [dir, done] = scratch(runner);
      // Host root's container root is host 4294967294, which must own the directory.
      if (runner.name === "root") chownSync(dir, 4294967294, 4294967294);
      const result = run(runner, "pseudo", ["sh", "-c", "touch f; chown 1000:1000 f; stat -c %u:%g f; cat /proc/self/setgroups"], { cwd: dir });
      done();
      expect(result.stdout).toBe("1000:1000\nallow\n");
      expect(result.status).toBe(0);
    });

    testIf(runner.reason, "a custom map of one ID", () => {
      const id = runner.name === "root" ? 12345 : runner.uid;
      const result = run(runner, "pseudo", ["-u", `0:${id}:1`, "-g", `0:${runner.name === "root" ? 12345 : runner.gid}:1`, "sh", "-c", "cat /proc/self/uid_map; id -u"]);
      expect(result.stdout.trim().split(/\s+/)).toEqual(["0", String(id), "1", "0"]);
    });

    testIf(runner.reason, "a map that gives container root no ID runs CMD as the ID it maps", () => {
      const result = run(runner, "pseudo", ["-u", `5:${runner.uid}:1`, "-g", `5:${runner.gid}:1`, "sh", "-c", "id -u; id -g"]);
      expect(result.stderr).toBe("");
      expect(result.stdout).toBe("5\n5\n");
      expect(result.status).toBe(0);
    });

    // As host root, container root is host 4294967294 by default: a tree that host root
    // owns is not container root's. The map of every ID onto itself makes it so.
    if (runner.name === "root") {
      testIf(runner.reason, "as root, -u 0:0:4294967295 -g 0:0:4294967295 writes where host root can", () => {
        const [dir, done] = scratch(runner);
        const plain = run(runner, "pseudo", ["mkdir", "debian"], { cwd: dir });
        const full = ["-u", "0:0:4294967295", "-g", "0:0:4294967295"];
        const mapped = run(runner, "pseudo", [...full, "sh", "-c", "mkdir debian && stat -c %u:%g debian && cat /proc/self/uid_map"], { cwd: dir });
        done();
        // mkdir's quotes follow the locale.
        expect(plain.stderr).toMatch(/^mkdir: cannot create directory .debian.: Permission denied\n$/);
        expect(plain.status).toBe(1);
        expect(mapped.stdout.split(/\s+/).filter(Boolean)).toEqual(["0:0", "0", "0", "4294967295"]);
        expect(mapped.status).toBe(0);
      });
    }

    testIf(runner.reason, "exit statuses: CMD's own, 128+N, 127, 126", () => {
      expect(run(runner, "pseudo", ["sh", "-c", "exit 42"]).status).toBe(42);
      expect(run(runner, "pseudo", ["sh", "-c", "kill -9 $$"]).status).toBe(137);
      expect(run(runner, "pseudo", ["sh", "-c", "kill -SEGV $$"]).status).toBe(139);
      const missing = run(runner, "pseudo", ["no-such-command-here"]);
      expect(missing.status).toBe(127);
      expect(missing.stderr).toBe("pseudo: Failed to execute no-such-command-here: No such file or directory\n");
      const [dir, done] = scratch(runner);
      writeFileSync(`${dir}/plain`, "not a program\n", { mode: 0o644 });
      const denied = run(runner, "pseudo", [`${dir}/plain`]);
      done();
      expect(denied.status).toBe(126);
      expect(denied.stderr).toBe(`pseudo: Failed to execute ${dir}/plain: Permission denied\n`);
    });

    testIf(runner.reason, "the default command is $SHELL, else /bin/sh", () => {
      expect(run(runner, "pseudo", [], { stdin: "echo $((6 * 7))\n" }).stdout).toBe("42\n");
    });

    testIf(runner.reason, "bad input: one line on stderr and a non-zero status", () => {
      const cases: [string[], number, RegExp][] = [
        [["-u", "0:1:1,0:2:1", "true"], 125, /^pseudo: Invalid UID map: container UID 0 is listed twice\n$/],
        [["-g", "zero", "true"], 125, /^pseudo: Invalid GID map item 'zero': expected START:LOWER:COUNT\n$/],
        [["-x"], 64, /^pseudo: invalid option -- 'x'\nTry 'pseudo --help' for more information\.\n$/],
        [["-u"], 64, /^pseudo: option requires an argument -- 'u'\nTry 'pseudo --help' for more information\.\n$/],
        [["--uid-map"], 64, /^pseudo: option '--uid-map' requires an argument\nTry 'pseudo --help' for more information\.\n$/],
        [["--uid"], 64, /^pseudo: unrecognized option '--uid'\nTry 'pseudo --help' for more information\.\n$/],
      ];
      if (runner.name === "user") cases.push([["-u", "0:0:1", "true"], 125, /^pseudo: Cannot map onto IDs that are not delegated to you\n$/]);
      for (const [args, status, stderr] of cases) {
        const result = run(runner, "pseudo", args);
        expect(result.stderr).toMatch(stderr);
        expect(result.status).toBe(status);
      }
    });

    if (runner.name === "user") {
      testIf(runner.reason ?? delegationReason(runner), "what newuidmap says, or why it could not run, is the message", () => {
        const [dir, done] = scratch(runner);
        // A newuidmap first on PATH that asks the real one for IDs not delegated to the user.
        writeFileSync(`${dir}/newuidmap`, `#!/bin/sh\nexec /usr/bin/newuidmap "$1" 0 ${runner.uid} 1 1 1 5\n`, { mode: 0o755 });
        const refused = run(runner, "pseudo", ["true"], { env: { PATH: `${dir}:/usr/bin:/bin` } });
        writeFileSync(`${dir}/newuidmap`, "#!/nonexistent/interpreter\n", { mode: 0o755 });
        const missing = run(runner, "pseudo", ["true"], { env: { PATH: `${dir}:/usr/bin:/bin` } });
        done();
        expect(refused.stderr).toBe("pseudo: Failed to set container UID map: newuidmap said: newuidmap: uid range [1-6) -> [1-6) not allowed\n");
        expect(refused.status).toBe(125);
        expect(missing.stderr).toBe(`pseudo: Failed to set container UID map: cannot execute ${dir}/newuidmap: No such file or directory\n`);
        expect(missing.status).toBe(125);
      });
    }

    testIf(runner.reason, "signals sent to pseudo reach CMD", async () => {
      const child = Bun.spawn([...runner.prefix, bun, cli("pseudo"), "sh", "-c", 'trap "exit 7" TERM; echo ready; while :; do sleep 0.05; done'], {
        stdout: "pipe",
        stderr: "inherit",
      });
      const reader = child.stdout.getReader();
      await reader.read();
      child.kill("SIGTERM");
      expect(await child.exited).toBe(7);
    });

    testIf(runner.reason, "killing pseudo kills CMD", async () => {
      const child = Bun.spawn([...runner.prefix, bun, cli("pseudo"), "sleep", "1000"], { stdout: "ignore" });
      // With a setpriv prefix, pseudo is a grandchild of ours; setpriv execs, so same PID.
      const sleeper = await until(() => childrenOf(child.pid)[0], "pseudo's child");
      child.kill("SIGKILL");
      await child.exited;
      await until(() => !childrenOf(1).includes(sleeper) && !existsPid(sleeper), "CMD to die");
    });
  });
}

function existsPid(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !stat.includes(") Z ");
  } catch {
    return false;
  }
}
