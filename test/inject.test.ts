// inject, through its CLI, into a container started by the same runner.
import { describe, expect } from "bun:test";
import { bun, busyboxFixture, cli, run, runners, testIf } from "./helpers.ts";

for (const runner of runners) {
  describe(`inject as ${runner.name}`, () => {
    const { reason, root } = busyboxFixture(runner);

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
      // The graceful stop: init's trap exits, and the kernel then kills everything left in
      // the PID namespace, which may include kill itself before it has exited.
      expect([0, 137]).toContain(run(runner, "inject", [String(container.pid), "kill", "-TERM", "1"]).status);
      expect(await container.exited).toBe(6);
    });

    testIf(reason, "joins a container that shares the host network (-n)", async () => {
      const container = Bun.spawn([...runner.prefix, bun, cli("contain"), "-c", "-n", root, "/bin/sh", "-c", "echo ready; exec sleep 30"], {
        stdout: "pipe",
      });
      await container.stdout.getReader().read();
      const result = run(runner, "inject", [String(container.pid), "/bin/sh", "-c", 'readlink /proc/self/ns/net; readlink /proc/1/ns/net; id -u']);
      container.kill("SIGKILL");
      await container.exited;
      expect(result.stderr).toBe("");
      const [own, init, uid] = result.stdout.trim().split("\n");
      expect(own).toBe(init!);
      expect(uid).toBe("0");
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

// CVE-2019-5736: inject's child enters the container carrying the host's runtime (Bun)
// until it execs CMD. A watcher inside the container tries to read /proc/PID/exe of every
// process it sees whose name is the runtime's. The window is made observable by giving
// inject a PATH of thousands of missing directories before the real one: the child stays
// in the container, still the host image, while it tries each one. The watcher must see
// the child in that state (or the test proves nothing) and must never resolve its exe.
for (const runner of runners) {
  describe(`inject's child in the container as ${runner.name}`, () => {
    const { reason, root } = busyboxFixture(runner);

    testIf(reason, "no process in the container can open its /proc/PID/exe", async () => {
      const watcher = [
        "exec 2>/dev/null",
        "echo ready",
        "while :; do",
        "  for d in /proc/[0-9]*; do",
        '    read -r c < "$d/comm" 2>/dev/null || continue',
        '    case "$c" in bun*) ;; *) continue ;; esac',
        '    echo "seen ${d#/proc/}"',
        // The child may exec between the two reads: only a link that still names the
        // runtime counts as opened (readlink needs the same access as open).
        '    case "$(readlink "$d/exe")" in *bun*) echo "opened ${d#/proc/}" ;; esac',
        "  done",
        "done",
      ].join("\n");
      const container = Bun.spawn([...runner.prefix, bun, cli("contain"), "-c", root, "/bin/sh", "-c", watcher], {
        stdout: "pipe",
      });
      const reader = container.stdout.getReader();
      await reader.read();
      const padding = Array.from({ length: 10000 }, (_, index) => `/m/${index}`).join(":");
      let output = "";
      const collected = (async () => {
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) output += new TextDecoder().decode(chunk.value);
      })();
      const seen = () => output.split("\n").filter((line) => line.startsWith("seen ")).length;
      // The watcher needs to catch the child in its window at least once; a few tries make
      // that certain on a busy machine without making the window itself longer.
      for (let attempt = 0; attempt < 5 && seen() === 0; attempt++) {
        const injected = Bun.spawnSync([...runner.prefix, bun, cli("inject"), String(container.pid), "true"], {
          env: { ...process.env, PATH: `${padding}:/bin` },
          stderr: "pipe",
        });
        expect(injected.stderr.toString()).toBe("");
        expect(injected.exitCode).toBe(0);
        await Bun.sleep(100);
      }
      container.kill("SIGKILL");
      await container.exited;
      await collected;
      const lines = output.split("\n");
      expect(seen()).toBeGreaterThan(0);
      expect(lines.filter((line) => line.startsWith("opened "))).toEqual([]);
    });
  });
}
