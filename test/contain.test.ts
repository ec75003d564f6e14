// contain, run through its CLI as root and as the unprivileged test user, on a busybox root.
import { describe, expect } from "bun:test";
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { bun, BUSYBOX, busyboxFixture, cli, delegationReason, ORIGINAL_ROOT_MAPS, run, type Runner, runners, scratch, testIf } from "./helpers.ts";

for (const runner of runners) {
  describe(`contain as ${runner.name}`, () => {
    const { reason, root } = busyboxFixture(runner);

    testIf(reason, "CMD is PID 1, root, with its own hostname", () => {
      const result = run(runner, "contain", ["-c", root, "/bin/sh", "-c", "echo $$; id -u; hostname x; hostname"]);
      expect(result.stdout).toBe("1\n0\nx\n");
      expect(result.status).toBe(0);
      expect(hostname()).not.toBe("x");
    });

    testIf(reason, "its own /proc, /sys with only lo, /dev and environment", () => {
      const script = "ls /proc | grep -c '^[0-9]'; ls /sys/class/net; ls /dev | tr '\\n' ' '; echo; env";
      const result = run(runner, "contain", ["-c", root, "/bin/sh", "-c", script]);
      const [processes, net, dev, ...env] = result.stdout.trim().split("\n");
      // sh, ls and grep: no host process shows, and with no /proc the count would be 0.
      expect(Number(processes)).toBeGreaterThanOrEqual(2);
      expect(Number(processes)).toBeLessThanOrEqual(3);
      expect(net).toBe("lo");
      expect(dev!.trim().split(" ").sort()).toEqual(
        ["fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"],
      );
      expect(env.filter((line) => !/^(PWD|SHLVL|PATH)=/.test(line))).toEqual(["container=contain"]);
    });

    testIf(reason, "every namespace differs from the host's", () => {
      const kinds = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];
      const result = run(runner, "contain", ["-c", root, "/bin/sh", "-c", kinds.map((k) => `readlink /proc/self/ns/${k}`).join(";")]);
      const inside = result.stdout.trim().split("\n");
      expect(inside).toHaveLength(kinds.length);
      kinds.forEach((kind, index) => expect(inside[index]).not.toBe(readlinkSync(`/proc/self/ns/${kind}`)));
    });

    testIf(reason, "-n shares the host network and mounts no /sys", () => {
      const result = run(runner, "contain", ["-c", "-n", root, "/bin/sh", "-c", "readlink /proc/self/ns/net; ls /sys | wc -l"]);
      expect(result.stdout).toBe(`${readlinkSync("/proc/self/ns/net")}\n0\n`);
    });

    testIf(reason, "-C gives a console at /dev/console off a terminal too, and piped stdin ends", () => {
      expect(run(runner, "contain", ["-C", root, "/bin/sh", "-c", "tty"]).stdout).toBe("/dev/console\r\n");
      const cat = run(runner, "contain", ["-C", root, "/bin/cat"], { stdin: "hi\nthere" });
      expect(cat.stdout).toBe("hi\r\nthere");
      expect(cat.status).toBe(0);
    });

    testIf(reason, "when contain's stdout is gone, the container ends as a pipe writer would", async () => {
      const yes = Bun.spawn([...runner.prefix, bun, cli("contain"), "-C", root, "/bin/sh", "-c", "while :; do echo y; done"], {
        stdin: "ignore",
        stdout: "pipe",
      });
      const reader = yes.stdout.getReader();
      await reader.read();
      await reader.cancel();
      expect(await yes.exited).toBe(141);
    });

    testIf(reason, "only fds 0, 1 and 2 reach CMD", () => {
      expect(run(runner, "contain", ["-c", root, "/bin/ls", "/proc/self/fd"]).stdout).toBe("0\n1\n2\n3\n");
    });

    testIf(reason, "-i runs inside before the pivot, -o outside with $PPID in the container", () => {
      const result = run(runner, "contain", ["-c", "-i", "pwd", "-o", "readlink /proc/$PPID/ns/net", root, "/bin/readlink", "/proc/self/ns/net"]);
      const [outside, inside, net] = result.stdout.trim().split("\n");
      expect(inside).toBe(root);
      expect(outside).toBe(net);
      expect(net).not.toBe(readlinkSync("/proc/self/ns/net"));
    });

    testIf(reason, "exit statuses and bad input", () => {
      expect(run(runner, "contain", ["-c", root, "/bin/sh", "-c", "exit 9"]).status).toBe(9);
      expect(run(runner, "contain", ["-c", root, "/bin/sh", "-c", "sh -c 'kill -9 $$'; exit $?"]).status).toBe(137);
      const cases: [string[], number, RegExp][] = [
        [["-c", "/no/such/dir"], 125, /^contain: Cannot use \/no\/such\/dir as root filesystem: No such file or directory\n$/],
        [["-c", "/etc/hostname"], 125, /^contain: Cannot use \/etc\/hostname as root filesystem: Not a directory\n$/],
        [["-c", root, "/no/such/cmd"], 127, /^contain: Failed to execute \/no\/such\/cmd: No such file or directory\n$/],
        [["-c", root, "/etc"], 126, /^contain: Failed to execute \/etc: Permission denied\n$/],
        [["-c", "-u", "0:1", root], 125, /^contain: Invalid UID map item '0:1': expected START:LOWER:COUNT\n$/],
        [["-c", "-i", "exit 3", root, "/bin/true"], 125, /^contain: The -i helper exited with status 3\n$/],
        [["-c", "-o", "exit 4", root, "/bin/true"], 125, /^contain: The -o helper exited with status 4\n$/],
        [[], 64, /^contain: missing DIR\nTry 'contain --help' for more information\.\n$/],
      ];
      for (const [args, status, stderr] of cases) {
        const result = run(runner, "contain", args);
        expect(result.stderr).toMatch(stderr);
        expect(result.status).toBe(status);
      }
    });

    // As host root, container root is host 4294967294, not the owner of a DIR root made.
    if (runner.name === "root") {
      testIf(reason, "a DIR container root cannot use is explained", () => {
        const [dir, done] = scratch(runner);
        const closed = run(runner, "contain", ["-c", dir, "/bin/true"]);
        chmodSync(dir, 0o755);
        const open = run(runner, "contain", ["-c", dir, "/bin/true"]);
        // Explicit maps take the open DIR; the default map refuses it (see the next test).
        const maps = ORIGINAL_ROOT_MAPS;
        const readOnly = run(runner, "contain", ["-c", ...maps, dir, "/bin/true"]);
        done();
        expect(closed.stderr).toBe(
          `contain: Failed to enter new root filesystem: Permission denied: container root is host UID 4294967294, which cannot enter ${dir}; give it to that ID (chown 4294967294 ${dir}), or build it with pseudo\n`,
        );
        expect(open.stderr).toMatch(new RegExp(`^contain: Cannot use ${dir} as root filesystem: ${dir} is open to other host users.*use -e, or choose maps with -u and -g\n$`));
        expect(readOnly.stderr).toBe(
          `contain: Failed to create /dev in new root filesystem: Permission denied: container root is host UID 4294967294, which cannot write ${dir}; build it with pseudo, or create dev, proc and sys in it\n`,
        );
        expect([closed.status, open.status, readOnly.status]).toEqual([125, 125, 125]);
      });

      testIf(reason, "as host root, a DIR open to other users cannot take setuid files for their IDs", () => {
        const [dir, done] = scratch(runner);
        try {
          // Built by pseudo (owned by container root) but left open to every host user.
          chownSync(dir, 4294967294, 4294967294);
          const built = run(runner, "pseudo", ["sh", "-c", `cp -a ${root}/. ${dir}/ && chmod 755 ${dir}`]);
          expect(built.status).toBe(0);
          const plant = "cp /bin/busybox /bin/planted && chown 1001:42 /bin/planted && chmod 2755 /bin/planted";
          const refused = run(runner, "contain", ["-c", dir, "/bin/sh", "-c", plant]);
          expect(refused.stderr).toMatch(/is open to other host users/);
          expect(existsSync(`${dir}/bin/planted`)).toBe(false);
          // The control: the original's map, chosen explicitly, plants the file for host group 42.
          const maps = ORIGINAL_ROOT_MAPS;
          const planted = run(runner, "contain", ["-c", ...maps, dir, "/bin/sh", "-c", plant]);
          expect(planted.status).toBe(0);
          const stat = statSync(`${dir}/bin/planted`);
          expect([stat.gid, stat.mode & 0o7777]).toEqual([42, 0o2755]);
          // Made private, the default map runs it.
          chmodSync(dir, 0o700);
          expect(run(runner, "contain", ["-c", dir, "/bin/true"]).status).toBe(0);
        } finally {
          run(runner, "pseudo", ["rm", "-rf", dir]);
          done();
        }
      });
    }

    // A root filesystem that mmdebstrap --mode=unshare wrote is owned by the first
    // subordinate ID: contain names the map under which that is container root.
    if (runner.name === "user") {
      testIf(reason ?? delegationReason(runner), "a DIR owned by a subordinate ID gets a warning with the map that fits", () => {
        const [dir, done] = scratch(runner);
        const setup = `mkdir bin dev proc sys && cp ${BUSYBOX} bin/ && ln -s busybox bin/sh && chown -R 1:1 .`;
        expect(run(runner, "pseudo", ["sh", "-c", setup], { cwd: dir }).status).toBe(0);
        const owner = subordinate(runner, "/etc/subuid");
        const group = subordinate(runner, "/etc/subgid");
        const fits = `-u 0:${owner.start}:${owner.count} -g 0:${group.start}:${group.count}`;
        const plain = run(runner, "contain", ["-c", dir, "/bin/busybox", "stat", "-c", "%u:%g", "/bin/busybox"]);
        const mapped = run(runner, "contain", ["-c", ...fits.split(" "), dir, "/bin/busybox", "stat", "-c", "%u:%g", "/bin/busybox"]);
        run(runner, "pseudo", ["rm", "-rf", dir]);
        done();
        expect(plain.stderr).toBe(
          `contain: ${dir} is owned by host UID ${owner.start}, one of your subordinate IDs, not by container root (host UID ${runner.uid}); ` +
            `for a root filesystem made in a user namespace (mmdebstrap --mode=unshare), use ${fits}\n`,
        );
        expect(plain.stdout).toBe("1:1\n");
        expect(mapped.stderr).toBe("");
        expect(mapped.stdout).toBe("0:0\n");
      });
    }

    testIf(reason, "SIGTERM reaches an init that traps it; SIGKILL of contain leaves nothing", async () => {
      const trap = Bun.spawn([...runner.prefix, bun, cli("contain"), "-c", root, "/bin/sh", "-c", 'trap "exit 5" TERM; echo ready; while :; do sleep 0.05; done'], { stdout: "pipe" });
      await trap.stdout.getReader().read();
      trap.kill("SIGTERM");
      expect(await trap.exited).toBe(5);

      const victim = Bun.spawn([...runner.prefix, bun, cli("contain"), "-c", root, "/bin/sh", "-c", "echo ready; sleep 1000"], { stdout: "pipe" });
      await victim.stdout.getReader().read();
      let before = sleepers();
      for (let tries = 0; tries < 300 && before.length === 0; tries++) before = (await Bun.sleep(10), sleepers());
      expect(before.length).toBeGreaterThan(0);
      victim.kill("SIGKILL");
      await victim.exited;
      for (let tries = 0; tries < 300 && sleepers().some((pid) => before.includes(pid)); tries++) await Bun.sleep(10);
      expect(sleepers().filter((pid) => before.includes(pid))).toEqual([]);
    });
  });
}

/** Host PIDs of `sleep 1000` processes. */
function sleepers(): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8") === "sleep\u00001000\u0000";
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The runner's first range in /etc/subuid or /etc/subgid. */
function subordinate(runner: Runner, file: string): { start: number; count: number } {
  const name = Bun.spawnSync([...runner.prefix, "id", "-un"]).stdout.toString().trim();
  const line = readFileSync(file, "utf8").split("\n").find((entry) => entry.startsWith(`${name}:`) || entry.startsWith(`${runner.uid}:`));
  if (line === undefined) throw new Error(`no range for ${name} in ${file}`);
  const [, start, count] = line.split(":");
  return { start: Number(start), count: Number(count) };
}
