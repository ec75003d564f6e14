// The library as a test suite uses it: a root from the helpers, containers in-process,
// and nothing left behind. Runs as whoever runs it; library-user.test.ts runs it again as
// the unprivileged test user.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { contain, containAsync, ContainError, fromHost, inject, pseudo, pseudoAsync, type RootFilesystem } from "../src/index.ts";

let root: RootFilesystem;

const text = (stream: ReadableStream<Uint8Array> | undefined) => new Response(stream).text();

/** A hash of a tree: every name, type, mode, owner, size, mtime, link target and content. */
function treeHash(dir: string): string {
  const hash = createHash("sha256");
  const walk = (path: string) => {
    const stat = lstatSync(path);
    hash.update(`${path.slice(dir.length)} ${stat.mode} ${stat.uid} ${stat.gid} ${stat.size} ${stat.mtimeMs}\n`);
    if (stat.isSymbolicLink()) hash.update(readlinkSync(path));
    else if (stat.isFile()) hash.update(readFileSync(path));
    else if (stat.isDirectory()) for (const name of readdirSync(path).sort()) walk(join(path, name));
  };
  walk(dir);
  return hash.digest("hex");
}

function snapshot() {
  const children = readdirSync("/proc/self/task").flatMap((task) => {
    try {
      return readFileSync(`/proc/self/task/${task}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    } catch {
      return []; // a thread that has just ended
    }
  });
  return {
    fds: readdirSync("/proc/self/fd")
      .map((fd) => {
        try {
          return `${fd} ${readlinkSync(`/proc/self/fd/${fd}`)}`;
        } catch {
          return null; // the directory listing's own fd, closed by now
        }
      })
      .filter((entry) => entry !== null)
      .sort(),
    children,
    mounts: readFileSync("/proc/self/mountinfo", "utf8"),
    // Only the library's own names.
    temporary: readdirSync(tmpdir()).filter((name) => /^contain-(root\.|bind-)/.test(name)).sort(),
  };
}

let before: ReturnType<typeof snapshot>;
// The library's temporary directories go to a directory of this file's own while it runs:
// other test runs on this machine share /tmp, and what they make there meanwhile is not a
// leak of ours. Put back afterwards, for the files that run after this one.
const sharedTmpdir = process.env.TMPDIR;
let ownTmpdir = "";

beforeAll(async () => {
  ownTmpdir = mkdtempSync(join(tmpdir(), "contain-library-test-"));
  // Like /tmp: container root, another host ID as host root, makes its directories here.
  chmodSync(ownTmpdir, 0o1777);
  process.env.TMPDIR = ownTmpdir;
  // Warm up what Bun opens on first use (its spawn machinery), so the
  // snapshot sees only what the library itself leaves.
  const warm = await fromHost(["true"]);
  await contain({ root: warm.path, cmd: ["/usr/bin/true"], console: true, stdout: "ignore" }).exited;
  await warm.remove();
  // And Bun's process.stderr, which process.emitWarning opens on first use.
  process.stderr.write("");
  before = snapshot();
  root = await fromHost(["sh", "echo", "cat", "sleep", "hostname", "true", "rm", "ls"], { links: { escape: "../../.." } });
});

afterAll(async () => {
  await root.remove();
  if (sharedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = sharedTmpdir;
  rmSync(ownTmpdir, { recursive: true, force: true });
});

describe("library", () => {
  // As host root, a bind that cannot be ID-mapped (procfs) is a plain one, with a warning
  // (a user's binds are never ID-mapped, so there is none to see).
  if (process.getuid!() === 0) test("a warning goes to process.emitWarning unless onWarning takes it", async () => {
    const seen: string[] = [];
    const listener = (warning: Error) => seen.push(`${warning.name}: ${warning.message}`);
    process.on("warning", listener);
    try {
      const options = {
        root: root.path,
        cmd: ["/bin/true"],
        mounts: [{ type: "bind", source: "/proc/sys/kernel", target: "/k" }],
        uidMap: "0:4294967294:1,1:1:4294967293",
        gidMap: "0:4294967294:1,1:1:4294967293",
      } as const;
      expect(await contain(options).exited).toBe(0);
      const taken: string[] = [];
      expect(await contain({ ...options, onWarning: (message) => taken.push(message) }).exited).toBe(0);
      await Bun.sleep(10); // process.emitWarning emits on a later tick
      expect(seen).toEqual(["ContainWarning: Cannot ID-map the bind of /proc/sys/kernel (Invalid argument): it is a plain bind, which container root may not write"]);
      expect(taken).toEqual(["Cannot ID-map the bind of /proc/sys/kernel (Invalid argument): it is a plain bind, which container root may not write"]);
    } finally {
      process.off("warning", listener);
    }
  });

  test("a container's stdout and status", async () => {
    const c = contain({ root: root.path, cmd: ["/bin/sh", "-c", "echo $$ $container; exit 3"], stdout: "pipe" });
    expect(c.pid).toBeGreaterThan(0);
    expect(await text(c.stdout)).toBe("1 contain\n");
    expect(await c.exited).toBe(3);
    expect(c.exitCode).toBe(3);
    expect(c.signalCode).toBeNull();
  });

  test("signalCode names the signal that killed CMD, as Bun's Subprocess does", async () => {
    const p = pseudo({ cmd: ["sh", "-c", "kill -TERM $$"], stdin: "ignore" });
    expect(await p.exited).toBe(143);
    expect([p.exitCode, p.signalCode]).toEqual([143, "SIGTERM"]);
    const c = contain({ root: root.path, cmd: ["/bin/sh", "-c", "sleep 30"], stdin: "ignore" });
    c.kill("SIGKILL");
    expect(await c.exited).toBe(137);
    expect(c.signalCode).toBe("SIGKILL");
  });

  test("20 containers at once", async () => {
    const all = Array.from({ length: 20 }, (_, index) =>
      contain({ root: root.path, cmd: ["/bin/sh", "-c", `echo ${index}; exit ${index}`], stdout: "pipe" }),
    );
    const results = await Promise.all(all.map(async (c) => [await text(c.stdout), await c.exited]));
    results.forEach(([out, status], index) => {
      expect(out).toBe(`${index}\n`);
      expect(status).toBe(index);
    });
  });

  // Each watcher thread's stack must come back to be used again.
  test("300 containers one after another", async () => {
    for (let index = 0; index < 300; index++) {
      const c = contain({ root: root.path, cmd: ["/bin/echo", String(index)], stdout: "pipe" });
      expect(await text(c.stdout)).toBe(`${index}\n`);
      expect(await c.exited).toBe(0);
    }
  }, 120_000);

  // --network private: pasta from the library, sync and async, reaped with the container
  // (the last test checks that nothing is left behind).
  const pastaMissing = Bun.which("pasta", { PATH: "/usr/bin:/bin:/usr/sbin:/sbin" }) === null;
  const tunClosed = process.getuid!() !== 0 && Bun.spawnSync(["test", "-r", "/dev/net/tun", "-a", "-w", "/dev/net/tun"]).exitCode !== 0;
  const networkReason = pastaMissing ? "pasta is not installed (package passt)" : tunClosed ? "/dev/net/tun is closed to this user" : null;
  (networkReason === null || process.env.MUST_WORK === "1" ? test : test.skip)(
    `network: "private" and ports${networkReason ? ` [${networkReason}]` : ""}`,
    async () => {
      const c = contain({ root: root.path, cmd: ["/bin/cat", "/etc/resolv.conf"], network: "private", stdout: "pipe" });
      expect(await text(c.stdout)).toStartWith("nameserver 169.254.1.1\n");
      expect(await c.exited).toBe(0);
      const port = 30000 + Math.floor(Math.random() * 10000);
      const a = await containAsync({
        root: root.path,
        cmd: ["/bin/sh", "-c", "echo ready; exec sleep 1000"],
        network: "private",
        ports: [{ hostPort: port, port: 80, hostIp: "127.0.0.1" }],
        stdout: "pipe",
      });
      const reader = a.stdout.getReader();
      await reader.read();
      // pasta listens on the host for the published port while the container runs.
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      socket.end();
      a.kill("SIGKILL");
      expect(await a.exited).toBe(137);
      await reader.cancel();
      expect(() => contain({ root: root.path, ports: [{ hostPort: port }] })).toThrow("Cannot publish ports: they need a private network");
    },
  );

  test("console, stdin pipe, inject, kill and abort", async () => {
    const cat = contain({ root: root.path, cmd: ["/bin/cat"], console: true, stdin: "pipe", stdout: "pipe" });
    cat.stdin!.write("hello\n");
    await cat.stdin!.end();
    expect(await text(cat.stdout)).toBe("hello\r\n");
    expect(await cat.exited).toBe(0);

    const long = contain({ root: root.path, cmd: ["/bin/sh", "-c", "hostname box; echo ready; exec sleep 1000"], stdout: "pipe" });
    const reader = long.stdout!.getReader();
    await reader.read();
    const inside = inject({ pid: long.pid, cmd: ["hostname"], stdout: "pipe" });
    expect(await text(inside.stdout)).toBe("box\n");
    expect(await inside.exited).toBe(0);
    long.kill("SIGKILL");
    expect(await long.exited).toBe(137);
    await reader.cancel();

    const controller = new AbortController();
    const aborted = contain({ root: root.path, cmd: ["/bin/sleep", "1000"], signal: controller.signal });
    controller.abort();
    expect(await aborted.exited).toBe(137);
  });

  test("env and cwd for CMD, binds and tmpfs mounts", async () => {
    const host = mkdtempSync(join(tmpdir(), "contain-bind-"));
    writeFileSync(join(host, "data"), "shared\n");
    // A read-only bind is plain even as host root: anyone must be able to read it.
    chmodSync(host, 0o755);
    try {
      const c = contain({
        root: root.path,
        cmd: ["/bin/sh", "-c", "pwd; echo $container $MARK; cat /mnt/host/data; echo t > /scratch/f && cat /scratch/f"],
        env: { MARK: "x" },
        cwd: "/mnt",
        mounts: [
          { type: "bind", source: host, target: "/mnt/host", readonly: true },
          { type: "tmpfs", target: "/scratch", size: "1m" },
        ],
        ephemeral: true,
        stdout: "pipe",
      });
      expect(await text(c.stdout)).toBe("/mnt\ncontain x\nshared\nt\n");
      expect(await c.exited).toBe(0);
      expect(() => contain({ root: root.path, mounts: [{ type: "bind", source: join(host, "nope"), target: "/x" }] })).toThrow(
        `Cannot bind ${join(host, "nope")}: No such file or directory`,
      );
    } finally {
      rmSync(host, { recursive: true });
    }
  });

  test("bad mounts and environment throw a ContainError before CMD runs", () => {
    const marker = `/tmp/contain-escape-library-${process.pid}`;
    const cases: [Parameters<typeof contain>[0], string][] = [
      [{ root: root.path, mounts: [{ type: "tmpfs", target: `/escape${marker}` }] }, `Failed to resolve mount target /escape${marker}: it leads outside the root filesystem`],
      [{ root: root.path, mounts: [{ type: "tmpfs", target: `/..${marker}` }] }, `Failed to resolve mount target /..${marker}: it leads outside the root filesystem`],
      [{ root: root.path, mounts: [{ type: "tmpfs", target: "tmp" }] }, "Cannot mount on tmp: the target must be an absolute path"],
      [{ root: root.path, mounts: [{ type: "tmpfs", target: "/t", size: "lots" }] }, "Cannot mount tmpfs on /t: bad size lots"],
      [{ root: root.path, env: { "A=B": "1" } }, "Cannot set environment variable A=B: bad name"],
      [{ root: root.path, cwd: "/no/such/dir" }, "Failed to enter working directory /no/such/dir: No such file or directory"],
    ];
    for (const [options, message] of cases) {
      let caught: unknown;
      try {
        contain({ ...options, cmd: ["/bin/true"], stdout: "pipe" });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ContainError);
      expect((caught as ContainError).message).toBe(message);
    }
    expect(readdirSync("/tmp").filter((name) => name.startsWith("contain-escape-library-"))).toEqual([]);
  });

  test("20 ephemeral containers writing at once leave DIR byte-identical", async () => {
    const before = treeHash(root.path);
    const script = (index: number) =>
      `echo ${index} > /bin/echo && echo ${index} > /new && rm /bin/hostname && ls / > /dev/null && cat /new /bin/echo`;
    const all = Array.from({ length: 20 }, (_, index) =>
      contain({ root: root.path, cmd: ["/bin/sh", "-c", script(index)], ephemeral: true, stdout: "pipe" }),
    );
    const results = await Promise.all(all.map(async (c) => [await text(c.stdout), await c.exited]));
    results.forEach(([out, status], index) => {
      expect(out).toBe(`${index}\n${index}\n`);
      expect(status).toBe(0);
    });
    expect(treeHash(root.path)).toBe(before);
  });

  test("timeout kills the container whole with killSignal, and says so", async () => {
    const slow = contain({ root: root.path, cmd: ["/bin/sh", "-c", "sleep 1000 & sleep 1000"], timeout: 100 });
    expect(await slow.exited).toBe(137);
    expect(slow.timedOut).toBe(true);
    const trap = "trap 'echo term; exit 7' TERM; echo ready; sleep 1000 & wait";
    const gentle = contain({ root: root.path, cmd: ["/bin/sh", "-c", trap], timeout: 200, killSignal: "SIGTERM", stdout: "pipe" });
    expect(await text(gentle.stdout)).toBe("ready\nterm\n");
    expect(await gentle.exited).toBe(7);
    expect(gentle.timedOut).toBe(true);
    const quick = contain({ root: root.path, cmd: ["/bin/true"], timeout: 60_000 });
    expect(await quick.exited).toBe(0);
    expect(quick.timedOut).toBe(false);
  });

  test("a gentle killSignal ends an init without a handler for it, and names it", async () => {
    // As PID 1, init would never see a signal it does not handle: the container ends.
    const term = contain({ root: root.path, cmd: ["/bin/sh", "-c", "exec sleep 1000"], timeout: 100, killSignal: "SIGTERM" });
    expect(await term.exited).toBe(143);
    expect([term.signalCode, term.timedOut]).toEqual(["SIGTERM", true]);
    const interrupted = contain({ root: root.path, cmd: ["/bin/sh", "-c", "echo ready; exec sleep 1000"], stdout: "pipe" });
    await interrupted.stdout.getReader().read();
    interrupted.kill("SIGINT");
    expect(await interrupted.exited).toBe(130);
    expect(interrupted.signalCode).toBe("SIGINT");
  });

  test("timeout's killSignal is followed by SIGKILL after forceKillAfterDelay", async () => {
    const trap = "trap 'echo term' TERM; echo ready; while :; do sleep 0.1; done";
    const stubborn = contain({
      root: root.path,
      cmd: ["/bin/sh", "-c", trap],
      timeout: 200,
      killSignal: "SIGTERM",
      forceKillAfterDelay: 300,
      stdout: "pipe",
    });
    expect(await text(stubborn.stdout)).toBe("ready\nterm\n");
    expect(await stubborn.exited).toBe(137);
    expect([stubborn.signalCode, stubborn.timedOut]).toEqual(["SIGKILL", true]);
  });

  test("pseudo's cwd is entered as container root: a 0700 directory of its own", async () => {
    const dir = join(tmpdir(), `contain-cwd-${process.pid}-${Date.now()}`);
    expect(await pseudo({ cmd: ["mkdir", "-m", "700", dir] }).exited).toBe(0);
    try {
      const p = pseudo({ cmd: ["sh", "-c", "pwd"], cwd: dir, stdout: "pipe" });
      expect(await text(p.stdout)).toBe(`${dir}\n`);
      expect(await p.exited).toBe(0);
    } finally {
      await pseudo({ cmd: ["rm", "-rf", dir] }).exited;
    }
  });

  test("pseudo with cwd and env", async () => {
    const p = pseudo({ cmd: ["sh", "-c", "pwd; id -u; echo $MARK"], cwd: "/usr", env: { PATH: "/usr/bin:/bin", MARK: "x" }, stdout: "pipe" });
    expect(await text(p.stdout)).toBe("/usr\n0\nx\n");
    expect(await p.exited).toBe(0);
  });

  test("a failure before CMD runs throws a ContainError", () => {
    let caught: unknown;
    try {
      contain({ root: root.path, cmd: ["/no/such/program"], stdout: "pipe" });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ContainError);
    expect((caught as ContainError).message).toBe("Failed to execute /no/such/program: No such file or directory");
    expect((caught as ContainError).errno).toBe(2);
    expect((caught as ContainError).status).toBe(127);
    expect(() => contain({ root: "/no/such/root" })).toThrow("Cannot use /no/such/root as root filesystem");
  });

  test("a NUL byte in any argument is refused, naming it, not cut short", () => {
    const refused = (start: () => unknown) => {
      try {
        start();
      } catch (error) {
        expect(error).toBeInstanceOf(ContainError);
        expect((error as ContainError).code).toBe("EINVAL");
        return (error as ContainError).message;
      }
      return "started";
    };
    const quiet = { stdout: "ignore", stderr: "ignore" } as const;
    expect(refused(() => pseudo({ cmd: ["true", "a\0b"], ...quiet }))).toBe("Cannot use cmd[1]: it contains a NUL byte");
    expect(refused(() => pseudo({ cmd: ["true"], env: { PATH: "/usr/bin:/bin", MARK: "a\0b" }, ...quiet }))).toBe(
      "Cannot use environment variable MARK: it contains a NUL byte",
    );
    expect(refused(() => pseudo({ cmd: ["true"], cwd: "/tmp\0/x", ...quiet }))).toBe("Cannot use cwd: it contains a NUL byte");
    expect(refused(() => contain({ root: `${root.path}\0/x`, ...quiet }))).toBe("Cannot use root: it contains a NUL byte");
    expect(refused(() => contain({ root: root.path, inside: "true\0; false", ...quiet }))).toBe("Cannot use inside: it contains a NUL byte");
    expect(refused(() => contain({ root: root.path, cmd: [new Uint8Array([0x2f, 0, 0x78])], ...quiet }))).toBe(
      "Cannot use cmd[0]: it contains a NUL byte",
    );
    // Control: the same calls without the NUL start.
    expect(refused(() => pseudo({ cmd: ["true", "ab"], env: { PATH: "/usr/bin:/bin", MARK: "ab" }, cwd: "/tmp", ...quiet }))).toBe("started");
  });

  test("bytes that are not UTF-8 reach CMD as they are", async () => {
    const p = pseudo({
      cmd: ["sh", "-c", 'printf %s "$1$MARK"', "sh", new Uint8Array([0xff, 0xfe])],
      env: ["PATH=/usr/bin:/bin", new Uint8Array([0x4d, 0x41, 0x52, 0x4b, 0x3d, 0x80])],
      stdout: "pipe",
    });
    expect([...new Uint8Array(await new Response(p.stdout).arrayBuffer())]).toEqual([0xff, 0xfe, 0x80]);
    expect(await p.exited).toBe(0);
  });

  test("stdin's pipe is closed once the command exits, even if never ended", async () => {
    const ours = (inode: string) =>
      readdirSync("/proc/self/fd").filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === inode;
        } catch {
          return false;
        }
      });
    const p = pseudo({ cmd: ["sh", "-c", "read line; echo $line"], stdin: "pipe", stdout: "pipe" });
    const inode = readlinkSync(`/proc/${p.pid}/fd/0`);
    // Control: while it runs, we hold the write end.
    expect(ours(inode).length).toBeGreaterThan(0);
    p.stdin!.write("hi\n");
    p.stdin!.flush();
    expect(await new Response(p.stdout).text()).toBe("hi\n");
    expect(await p.exited).toBe(0);
    // Bun closes its own copy a moment after the end.
    for (let tries = 0; tries < 100 && ours(inode).length > 0; tries++) await Bun.sleep(20);
    expect(ours(inode)).toEqual([]);
    // The caller's own end() after that is harmless.
    expect(await p.stdin!.end()).toBe(0);
  });

  test("exited resolves when the library runs in a Worker", async () => {
    const worker = new Worker(new URL("./worker-start.ts", import.meta.url).href);
    const message = await new Promise<{ output: string; status: number }>((resolve) => {
      worker.onmessage = (event) => resolve(event.data);
    });
    worker.terminate();
    expect(message).toEqual({ output: "from the worker\n", status: 3 });
  }, 20_000);

  test("an AbortSignal that has fired starts nothing", async () => {
    const controller = new AbortController();
    controller.abort();
    const dir = mkdtempSync(join(tmpdir(), "contain-abort-"));
    // Container root is another host ID when the tests run as root.
    chmodSync(dir, 0o777);
    const marker = join(dir, "ran");
    const cmd = ["sh", "-c", `echo > ${marker}`];
    try {
      let caught: unknown;
      try {
        pseudo({ cmd, signal: controller.signal });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ContainError);
      expect((caught as ContainError).code).toBe("ECANCELED");
      await expect(pseudoAsync({ cmd, signal: controller.signal })).rejects.toThrow("The operation was aborted");
      await expect(containAsync({ root: root.path, signal: controller.signal })).rejects.toThrow("The operation was aborted");
      // And nothing ran.
      expect(existsSync(marker)).toBe(false);
      // Control: without the signal, the same command runs.
      expect(await pseudo({ cmd }).exited).toBe(0);
      expect(existsSync(marker)).toBe(true);
    } finally {
      await pseudo({ cmd: ["rm", "-rf", dir] }).exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("containAsync: a slow -o helper stalls nothing, and an abort meanwhile stops CMD", async () => {
    const dir = mkdtempSync(join(tmpdir(), "contain-helper-"));
    const started = join(dir, "helper-started");
    const outside = `echo > ${started}; exec sleep 3`;
    const cmd = ["/bin/sh", "-c", "echo ran > /ran"];
    const controller = new AbortController();
    const pending = containAsync({ root: root.path, cmd, outside, signal: controller.signal });
    // The event loop goes on while the helper runs (a set-up that blocked it would run
    // CMD before this loop could see the helper start and abort).
    while (!existsSync(started)) await Bun.sleep(10);
    controller.abort();
    let caught: unknown;
    await pending.catch((error) => (caught = error));
    expect(caught).toBeInstanceOf(ContainError);
    expect((caught as ContainError).code).toBe("ECANCELED");
    expect(existsSync(join(root.path, "ran"))).toBe(false);
    // Control: without the abort, the same container runs CMD.
    rmSync(started);
    const c = await containAsync({ root: root.path, cmd, outside: `echo > ${started}` });
    expect(await c.exited).toBe(0);
    expect(existsSync(join(root.path, "ran"))).toBe(true);
    await pseudo({ cmd: ["rm", join(root.path, "ran")] }).exited;
    rmSync(dir, { recursive: true, force: true });
  });

  test("nothing is left behind: fds, children, mounts, temporary directories", async () => {
    // The root itself is removed in afterAll; everything else must already be gone.
    await root.remove();
    root = { path: "", remove: async () => {}, [Symbol.asyncDispose]: async () => {} };
    // Other test files share this process and may close things meanwhile: nothing new
    // may have appeared. Bun reads a pipe through a duplicate of its fd that it closes a
    // moment after the stream ends, so give that moment before calling anything a leak.
    const added = (now: string[], then: string[]) => now.filter((item) => !then.includes(item));
    let after = snapshot();
    for (let tries = 0; tries < 100 && added(after.fds, before.fds).length > 0; tries++) {
      await Bun.sleep(20);
      after = snapshot();
    }
    expect(added(after.fds, before.fds)).toEqual([]);
    expect(added(after.children, before.children)).toEqual([]);
    expect(added(after.mounts.split("\n"), before.mounts.split("\n"))).toEqual([]);
    expect(added(after.temporary, before.temporary)).toEqual([]);
  });
});
