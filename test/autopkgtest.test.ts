// autopkgtest-virt-contain driven over its stdin and stdout as autopkgtest drives it, on a
// busybox root, as root and as the test user.
import { describe, expect } from "bun:test";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { cgroupPlace } from "../src/hierarchy.ts";
import { bun, bunDir, busyboxFixture, busyboxRoot, cli, line, type Runner, run, runners, scratch, terminalReason, testIf } from "./helpers.ts";
import { tarStream } from "./tar-stream.ts";

const server = cli("autopkgtest-virt-contain");

/** Why the testbed cannot have a private network here, or null: pasta and /dev/net/tun. */
const pastaReason = Bun.which("pasta", { PATH: `${process.env.PATH ?? ""}:/usr/bin:/usr/sbin` })
  ? existsSync("/dev/net/tun")
    ? null
    : "/dev/net/tun is missing"
  : "pasta is not installed (package passt)";

/** A running server: send a line, read the reply line. */
function start(runner: Runner, args: string[]) {
  const child = Bun.spawn([...runner.prefix, bun, server, ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe", cwd: "/tmp" });
  const reader = child.stdout.getReader();
  let buffered = "";
  const line = async (): Promise<string> => {
    while (!buffered.includes("\n")) {
      const chunk = await reader.read();
      if (chunk.done) return buffered;
      buffered += new TextDecoder().decode(chunk.value);
    }
    const end = buffered.indexOf("\n");
    const reply = buffered.slice(0, end);
    buffered = buffered.slice(end + 1);
    return reply;
  };
  const send = async (command: string): Promise<string> => {
    child.stdin.write(`${command}\n`);
    await child.stdin.flush();
    return line();
  };
  return { child, line, send, stderr: () => new Response(child.stderr).text() };
}

/** Runs argv through the execute command the server printed, as the runner. */
function execute(runner: Runner, program: string[], argv: string[], stdin?: string) {
  const result = Bun.spawnSync([...runner.prefix, ...program, ...argv], {
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    cwd: "/tmp",
  });
  return { status: result.exitCode ?? 128 + 9, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

/**
 * Runs a bash script on a new pseudo-terminal (util-linux script) and types `keys` once the
 * output after the first "ok /tmp/autopkgtest" shows `prompt`. Returns the output.
 */
async function typed(dir: string, body: string, prompt: string, keys: string): Promise<string> {
  const file = join(dir, "terminal.sh");
  writeFileSync(file, `${body}\n`, { mode: 0o644 });
  const child = Bun.spawn(["script", "-qec", `bash ${file}`, "/dev/null"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let output = "";
  let sent = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    output += decoder.decode(value);
    const opened = output.indexOf("ok /tmp/autopkgtest");
    if (!sent && opened >= 0 && output.slice(opened).includes(prompt)) {
      sent = true;
      child.stdin.write(keys);
      child.stdin.flush();
    }
  }
  child.stdin.end();
  await child.exited;
  return output.replaceAll("\r", "");
}

for (const runner of runners) {
  describe(`autopkgtest-virt-contain as ${runner.name}`, () => {
    const { reason, root } = busyboxFixture(runner);

    testIf(reason, "speaks the protocol: open, execute, copies, errors, revert, close, quit", async () => {
      const [host, done] = scratch(runner);
      const [away, doneAway] = scratch(runner);
      try {
        // Host files to copy down: a file with an unusual mode, a tree with a private file.
        // As root they carry another owner, which the testbed must see too.
        const owner = runner.name === "root" ? 1234 : runner.uid;
        const group = runner.name === "root" ? 2345 : runner.gid;
        writeFileSync(join(host, "tool"), "#!/bin/sh\necho tool\n", { mode: 0o751 });
        mkdirSync(join(host, "tree", "sub"), { recursive: true });
        writeFileSync(join(host, "tree", "sub", "secret"), "s\n", { mode: 0o640 });
        for (const path of ["tool", "tree", "tree/sub", "tree/sub/secret"]) chownSync(join(host, path), owner, group);

        const s = start(runner, ["-d", "--bind", host, "/shared", root]);
        expect(await s.line()).toBe("ok");
        const capabilities = (await s.send("capabilities")).split(" ");
        expect(capabilities[0]).toBe("ok");
        for (const capability of ["revert", "revert-full-system", "root-on-testbed"]) {
          expect(capabilities).toContain(capability);
        }
        // Misuse before open: an error reply, and the server carries on.
        expect(await s.send("print-execute-command")).toBe("error `print-execute-command' when not open");
        expect(await s.send("close")).toBe("error `close' when not open");

        const opened = await s.send("open");
        expect(opened).toMatch(/^ok \/tmp\/autopkgtest\.\w+$/);
        const downtmp = opened.split(" ")[1]!;
        // A busybox root has no systemd to start services: no isolation-container.
        expect(await s.send("capabilities")).toBe("ok revert revert-full-system root-on-testbed");
        expect(await s.send("open")).toBe("error `open' when already open");
        const printed = (await s.send("print-execute-command")).split(" ");
        expect(printed[0]).toBe("ok");
        const program = printed[1]!.split(",").map(decodeURIComponent);

        // Execute: stdio through, status and signal, as root in the testbed.
        const ran = execute(runner, program, ["sh", "-c", 'echo "$(id -u) $(pwd)"; cat; echo err >&2; exit 3'], "in\n");
        expect(ran).toEqual({ status: 3, stdout: "0 /\nin\n", stderr: "err\n" });
        expect(execute(runner, program, ["sh", "-c", "kill -9 $$"]).status).toBe(137);
        expect(execute(runner, program, ["/no/such/program"]).status).toBe(127);
        expect(execute(runner, program, ["stat", "-c", "%a", downtmp]).stdout).toBe("1777\n");
        expect(execute(runner, program, ["cat", "/shared/tool"]).stdout).toBe("#!/bin/sh\necho tool\n");

        // copydown of a file and of a directory, keeping modes and owners.
        expect(await s.send(`copydown ${join(host, "tool")} /tool`)).toBe("ok");
        expect(await s.send(`copydown ${join(host, "tree")}/ ${downtmp}/tree/`)).toBe("ok");
        const inside = runner.name === "root" ? `${owner} ${group}` : "0 0";
        const listed = execute(runner, program, ["sh", "-c", `/tool; cd ${downtmp}/tree && stat -c "%n %a %u %g" . sub sub/secret && cat sub/secret`]);
        expect(listed.stdout).toBe(`tool\n. 755 ${inside}\nsub 755 ${inside}\nsub/secret 640 ${inside}\ns\n`);
        expect(execute(runner, program, ["stat", "-c", "%a %u %g", "/tool"]).stdout).toBe(`751 ${inside}\n`);

        // copyup of what the testbed made, back to the host: modes, but owned by whoever
        // owns the directory it lands in (as a user, the user).
        const made = "mkdir -p /made/d && echo m > /made/d/f && chmod 604 /made/d/f && chown 7:8 /made/d/f && chmod 750 /made/d";
        expect(execute(runner, program, ["sh", "-c", made]).status).toBe(0);
        // Out of the testbed's reach: as host root, a directory the testbed writes through
        // its bind takes no copy (a link swapped in there meanwhile would lead the copy out).
        expect(await s.send(`copyup /made/ ${host}/inbind/`)).toBe(runner.name === "root" ? "copy-failed" : "ok");
        expect(await s.send(`copyup /tool ${host}/tool.inbind`)).toBe(runner.name === "root" ? "copy-failed" : "ok");
        expect(await s.send(`copyup /made/ ${host}/deep/inbind/`)).toBe(runner.name === "root" ? "copy-failed" : "ok");
        expect(["inbind", "tool.inbind", "deep"].map((name) => existsSync(join(host, name)))).toEqual(Array(3).fill(runner.name !== "root"));
        mkdirSync(join(away, "out"));
        chownSync(join(away, "out"), owner, group);
        expect(await s.send(`copyup /made/ ${away}/out/up/`)).toBe("ok");
        expect(await s.send(`copyup /tool ${away}/out/tool.up`)).toBe("ok");
        expect(readFileSync(join(away, "out", "up", "d", "f"), "utf8")).toBe("m\n");
        const up = statSync(join(away, "out", "up", "d", "f"));
        expect(up.mode & 0o7777).toBe(0o604);
        expect(statSync(join(away, "out", "up", "d")).mode & 0o7777).toBe(0o750);
        expect([up.uid, up.gid]).toEqual([owner, group]);
        const tool = statSync(join(away, "out", "tool.up"));
        expect(tool.mode & 0o7777).toBe(0o751);
        expect([tool.uid, tool.gid]).toEqual([owner, group]);
        // A second copy into the same directory merges, as tar would.
        expect(execute(runner, program, ["sh", "-c", "echo n > /made/d/g && rm /made/d/f"]).status).toBe(0);
        expect(await s.send(`copyup /made/ ${away}/out/up/`)).toBe("ok");
        expect(readdirSync(join(away, "out", "up", "d")).sort()).toEqual(["f", "g"]);
        expect(readdirSync(join(away, "out")).sort()).toEqual(["tool.up", "up"]);
        // A clash (a directory where the host has a file) fails the copy and moves nothing.
        expect(execute(runner, program, ["sh", "-c", "rm /made/d/g && mkdir /made/d/g && echo o > /made/d/other"]).status).toBe(0);
        expect(await s.send(`copyup /made/ ${away}/out/up/`)).toBe("copy-failed");
        expect(readdirSync(join(away, "out", "up", "d")).sort()).toEqual(["f", "g"]);
        expect(readdirSync(join(away, "out", "up")).sort()).toEqual(["d"]);

        // Bad commands and failed copies get an error reply; the testbed stays usable.
        expect(await s.send("frobnicate")).toBe("error unknown command `frobnicate'");
        expect(await s.send("copydown /only-one")).toBe("error too few arguments to command `copydown'");
        expect(await s.send("copydown /etc/ /x")).toBe("error copydown paths must agree about directoryness (presence or absence of trailing /)");
        expect(await s.send(`copydown ${host}/missing /x`)).toBe("copy-failed");
        expect(await s.send(`copyup /missing ${host}/missing`)).toBe("copy-failed");
        expect(await s.send("reboot")).toBe("error `reboot' when `reboot' not advertised");
        expect(execute(runner, program, ["sh", "-c", `echo still > /marker && echo x > ${downtmp}/x && cat /marker`]).stdout).toBe("still\n");

        // revert: a new testbed from the source, with the same scratch directory, empty.
        expect(await s.send("revert")).toBe(`ok ${downtmp}`);
        const reverted = (await s.send("print-execute-command")).split(" ")[1]!.split(",").map(decodeURIComponent);
        expect(execute(runner, program, ["true"]).status).toBe(255);
        const after = execute(runner, reverted, ["sh", "-c", `ls /marker /tool ${downtmp}/x 2>&1; stat -c %a ${downtmp}`]);
        expect(after.stdout).toMatch(/\/marker.*No such file[^]*\/tool.*No such file[^]*x.*No such file[^]*1777\n$/);

        expect(await s.send("close")).toBe("ok");
        expect(execute(runner, reverted, ["true"]).status).toBe(255);
        expect(await s.send("quit")).toBe("ok");
        expect(await s.child.exited).toBe(0);
        // The source was never written.
        expect([...(await s.stderr()).matchAll(/testbed on (\S+),/g)].map((match) => match[1])).toEqual([root, root]);
        expect(existsSync(join(root, "marker")) || existsSync(join(root, "tool"))).toBe(false);
      } finally {
        doneAway();
        done();
      }
    }, 60_000);

    testIf(reason, "a reply is one line: a testbed's stderr cannot write the reply to the next command", async () => {
      // A root whose shell (but for PID 1) fails with a reply line of its own in its
      // message, as a testbed would to have print-execute-command name a program of its
      // choosing on the host.
      const [forged, remove] = busyboxRoot(runner);
      try {
        const shell = '#!/bin/ash\n[ $$ = 1 ] && exec /bin/ash "$@"\necho "no\nok /bin/forged" >&2\nexit 1\n';
        const fake = "ln -s busybox bin/ash && rm bin/sh && cat > bin/sh && chmod 755 bin/sh";
        expect(run(runner, "pseudo", ["/bin/sh", "-c", fake], { cwd: forged, stdin: shell }).status).toBe(0);
        // The control: that stderr does hold the forged line.
        const control = run(runner, "contain", ["-c", "-e", forged, "/bin/ash", "-c", "/bin/sh -c true; echo $?"]);
        expect([control.stdout, control.stderr]).toEqual(["1\n", "no\nok /bin/forged\n"]);

        const s = start(runner, [forged]);
        expect(await s.line()).toBe("ok");
        const opened = await s.send("open");
        expect(opened).toStartWith("error cannot prepare the testbed: ");
        expect(opened).toEndWith(": no\\nok /bin/forged");
        expect(await s.send("print-execute-command")).toBe("error `print-execute-command' when not open");
        expect(await s.send("quit")).toBe("ok");
        expect(await s.child.exited).toBe(0);
        const stderr = await s.stderr();
        expect(stderr.split("\n").filter((text) => text !== "" && !text.startsWith("autopkgtest-virt-contain: failure: "))).toEqual([]);
        expect(stderr).toContain("no\\nok /bin/forged\n");
      } finally {
        remove();
      }
    });

    testIf(reason, "copyup makes no setuid file and keeps no testbed owner on the host", async () => {
      const [host, done] = scratch(runner);
      try {
        const [owner, group] = runner.name === "root" ? [1234, 2345] : [runner.uid, runner.gid];
        mkdirSync(join(host, "out"));
        chownSync(join(host, "out"), owner, group);
        const s = start(runner, [root]);
        expect(await s.line()).toBe("ok");
        expect(await s.send("open")).toMatch(/^ok /);
        const program = (await s.send("print-execute-command")).split(" ")[1]!.split(",").map(decodeURIComponent);
        const made = "mkdir -p /art/g && echo x > /art/suid && chmod 4755 /art/suid && chmod 2775 /art/g && echo y > /art/g/f && chmod 6755 /art/g/f && chmod 1777 /art";
        expect(execute(runner, program, ["sh", "-c", made]).status).toBe(0);

        // The control: the testbed's stream, extracted by host tar as copyup used to, makes
        // a setuid file (as host root, a setuid-root one).
        const stream = Bun.spawnSync([...runner.prefix, ...program, "tar", "-c", "-f", "-", "-C", "/art", "."], { cwd: "/tmp" }).stdout;
        mkdirSync(join(host, "control"));
        const owners = runner.name === "root" ? ["--same-owner", "--numeric-owner"] : ["--no-same-owner"];
        expect(Bun.spawnSync(["tar", "-x", "-p", "-f", "-", ...owners, "-C", join(host, "control")], { stdin: stream }).exitCode).toBe(0);
        const control = statSync(join(host, "control", "suid"));
        expect(control.mode & 0o7000).toBe(0o4000);
        if (runner.name === "root") expect(control.uid).toBe(0);

        expect(await s.send(`copyup /art/ ${host}/out/tree/`)).toBe("ok");
        expect(await s.send(`copyup /art/suid ${host}/out/one`)).toBe("ok");
        const mask = process.umask();
        const listed = ["tree", "tree/g", "tree/g/f", "tree/suid", "one"].map((path) => {
          const stat = statSync(join(host, "out", path));
          return `${path} ${(stat.mode & 0o7777).toString(8)} ${stat.uid}:${stat.gid}`;
        });
        const mode = (0o755 & ~mask).toString(8);
        expect(listed).toEqual(["tree", "tree/g", "tree/g/f", "tree/suid", "one"].map((path) => `${path} ${mode} ${owner}:${group}`));
        expect(await s.send("quit")).toBe("ok");
      } finally {
        done();
      }
    });

    testIf(reason, "copyup of a forged stream: no device node, no write through a link, nothing left on failure", async () => {
      const [host, done] = scratch(runner);
      const [forged, remove] = busyboxRoot(runner);
      try {
        for (const dir of ["out", "victim"]) {
          mkdirSync(join(host, dir));
          chownSync(join(host, dir), runner.uid, runner.gid);
        }
        // A testbed whose tar writes what it likes: nodes (one of them the host's first
        // disk, open to all), a FIFO, a setuid file; or a link to a host directory and a
        // file through it.
        const nodes = tarStream([
          { name: "./", type: "5" },
          { name: "./disk", type: "4", mode: 0o666, major: 8, minor: 0 },
          { name: "./null", type: "3", mode: 0o666, major: 1, minor: 3 },
          { name: "./fifo", type: "6", mode: 0o666 },
          { name: "./ok", mode: 0o4755, data: "ok\n" },
        ]);
        const through = tarStream([
          { name: "./", type: "5" },
          { name: "./l", type: "2", link: join(host, "victim") },
          { name: "./l/evil", mode: 0o4755, data: "evil\n" },
        ]);
        const fake = "ln -s busybox bin/ash && rm bin/tar && printf '#!/bin/ash\\ncat \"${5%%/}.tar\"\\n' > bin/tar && chmod 755 bin/tar && cat > nodes.tar";
        const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
        expect(run(runner, "pseudo", ["/bin/sh", "-c", fake], { cwd: forged, stdin: decode(nodes) }).status).toBe(0);
        expect(run(runner, "pseudo", ["/bin/sh", "-c", "cat > through.tar"], { cwd: forged, stdin: decode(through) }).status).toBe(0);

        // The control, as root: host tar as copyup ran it makes the nodes from such a
        // stream (here only /dev/null's, in a private directory).
        if (runner.name === "root") {
          const control = join(host, "control");
          mkdirSync(control);
          const harmless = tarStream([{ name: "./null", type: "3", mode: 0o666, major: 1, minor: 3 }]);
          expect(Bun.spawnSync(["tar", "-x", "-p", "-f", "-", "--same-owner", "-C", control], { stdin: harmless }).exitCode).toBe(0);
          expect(lstatSync(join(control, "null")).isCharacterDevice()).toBe(true);
        }

        const s = start(runner, [forged]);
        expect(await s.line()).toBe("ok");
        expect(await s.send("open")).toMatch(/^ok /);
        expect(await s.send(`copyup /nodes/ ${host}/out/nodes/`)).toBe("ok");
        expect(readdirSync(join(host, "out", "nodes"))).toEqual(["ok"]);
        expect(statSync(join(host, "out", "nodes", "ok")).mode & 0o7000).toBe(0);
        expect(await s.send(`copyup /through/ ${host}/out/through/`)).toBe("copy-failed");
        expect(await s.send(`copyup /missing ${host}/out/missing`)).toBe("copy-failed");
        expect(readdirSync(join(host, "victim"))).toEqual([]);
        expect(readdirSync(join(host, "out"))).toEqual(["nodes"]);
        expect(await s.send("quit")).toBe("ok");
        const stderr = await s.stderr();
        expect(stderr).toContain("copyup /nodes/ left out what is not a file, directory or link: ./disk ./null ./fifo\n");
        expect(stderr).toContain("l is a symlink");
      } finally {
        remove();
        done();
      }
    });

    testIf(reason, "end of file: the testbed is closed and the server says so", async () => {
      const s = start(runner, [root]);
      expect(await s.line()).toBe("ok");
      expect(await s.send("open")).toMatch(/^ok /);
      s.child.stdin.end();
      expect(await s.child.exited).toBe(12);
      expect(await s.stderr()).toBe("autopkgtest-virt-contain: failure: end of file - caller quit?\n");
    });

    testIf(reason, "a tarball: extracted once, removed on SIGTERM", async () => {
      const [dir, done] = scratch(runner);
      try {
        // pseudo writes it as container root, which as host root is 4294967294.
        if (runner.name === "root") chownSync(dir, 4294967294, 4294967294);
        const tarball = join(dir, "root.tar");
        expect(run(runner, "pseudo", ["tar", "-c", "-f", tarball, "-C", root, "."]).status).toBe(0);
        const s = start(runner, ["-d", tarball]);
        expect(await s.line()).toBe("ok");
        expect(await s.send("open")).toMatch(/^ok /);
        expect(await s.send("revert")).toMatch(/^ok /);
        s.child.kill("SIGTERM");
        expect(await s.child.exited).not.toBe(0);
        const copies = [...(await s.stderr()).matchAll(/testbed on (\S+),/g)].map((match) => match[1]!);
        expect(copies.length).toBe(2);
        expect(copies[1]).toBe(copies[0]!);
        expect(existsSync(copies[0]!)).toBe(false);
      } finally {
        done();
      }
    });

    testIf(reason, "usage", () => {
      const help = Bun.spawnSync([...runner.prefix, bun, server, "--help"]);
      expect(help.exitCode).toBe(0);
      expect(help.stdout.toString()).toStartWith("Usage: autopkgtest-virt-contain [OPTIONS] [TARBALL|DIR]\n");
      const wrong = Bun.spawnSync([...runner.prefix, bun, server, "-t", "a.tar", "b.tar"]);
      expect(wrong.exitCode).toBe(64);
      expect(wrong.stderr.toString()).toBe(
        "autopkgtest-virt-contain: -t TARBALL and an operand TARBALL|DIR: give one\nTry 'autopkgtest-virt-contain --help' for more information.\n",
      );
    });

    testIf(reason, "the source is checked before the first ok: one line and a status, no ok", () => {
      const [dir, done] = scratch(runner);
      try {
        writeFileSync(join(dir, "secret.tar"), "", { mode: 0o000 });
        mkdirSync(join(dir, "cache", "sbuild"), { recursive: true });
        writeFileSync(join(dir, "cache", "sbuild", "sid-amd64.tar"), "");
        const check = (args: string[], env: Record<string, string> = {}) => {
          const result = Bun.spawnSync([...runner.prefix, "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), bun, server, ...args], {
            stdin: new TextEncoder().encode("open\n"),
            cwd: "/tmp",
          });
          return [result.exitCode, result.stdout.toString(), result.stderr.toString()];
        };
        const missing = join(dir, "missing.tar");
        expect(check([missing])).toEqual([125, "", `autopkgtest-virt-contain: Cannot read ${missing}: No such file or directory\n`]);
        expect(check(["-t", missing])).toEqual([125, "", `autopkgtest-virt-contain: Cannot read ${missing}: No such file or directory\n`]);
        expect(check(["-b", join(dir, "nowhere"), "/x", root])).toEqual([
          125,
          "",
          `autopkgtest-virt-contain: Cannot read --bind ${join(dir, "nowhere")}: No such file or directory\n`,
        ]);
        // Unreadable: as root only a file root may not read would do, and root reads all.
        if (runner.name === "user") {
          const secret = join(dir, "secret.tar");
          expect(check([secret])).toEqual([125, "", `autopkgtest-virt-contain: Cannot read ${secret}: Permission denied\n`]);
        }
        // Without a source: sbuild's tarball for -r and -a, in $XDG_CACHE_HOME/sbuild.
        const cache = join(dir, "cache");
        expect(check(["-r", "bookworm"], { XDG_CACHE_HOME: cache })).toEqual([
          125,
          "",
          `autopkgtest-virt-contain: Cannot find a tarball bookworm-*.t* in ${cache}/sbuild: give one with -t TARBALL (or TARBALL|DIR)\n`,
        ]);
        // Found (an empty file: the check reads it), it is served: the first ok.
        const found = Bun.spawnSync([...runner.prefix, "env", `XDG_CACHE_HOME=${cache}`, bun, server, "-d", "-r", "sid", "-a", "amd64"], {
          stdin: new TextEncoder().encode("quit\n"),
          cwd: "/tmp",
        });
        expect([found.exitCode, found.stdout.toString()]).toEqual([0, "ok\nok\n"]);
      } finally {
        done();
      }
    });

    testIf(reason, "the testbed is named autopkgtest, in its /etc/hostname and /etc/hosts, and CMD can reopen its stdio pipes", async () => {
      const s = start(runner, [root]);
      expect(await s.line()).toBe("ok");
      expect(await s.send("open")).toMatch(/^ok /);
      const program = (await s.send("print-execute-command")).split(" ")[1]!.split(",").map(decodeURIComponent);
      const named = execute(runner, program, ["sh", "-c", "hostname; cat /etc/hostname; grep -w autopkgtest /etc/hosts"]);
      expect(named.stdout).toBe("autopkgtest\nautopkgtest\n127.0.1.1\tautopkgtest\n");
      // autopkgtest's apt-get update writes through `tee /proc/self/fd/2`: stderr is a pipe
      // of the caller's, which CMD must be able to open again (as host root too).
      const piped = Bun.spawnSync([...runner.prefix, "sh", "-c", `${line(program)} sh -c 'echo x | tee /proc/self/fd/2 >/dev/null; echo "tee:$?"' 2>&1 | cat`], {
        cwd: "/tmp",
      });
      expect(piped.stdout.toString()).toBe("x\ntee:0\n");
      expect(await s.send("quit")).toBe("ok");
    });

    testIf(reason ?? pastaReason, "the network: private by default, the host's with -n, none with --no-network", async () => {
      /** The testbed's interfaces (but loopback) and what -d said of its network. */
      const interfaces = async (args: string[]) => {
        const s = start(runner, ["-d", ...args, root]);
        expect(await s.line()).toBe("ok");
        expect(await s.send("open")).toMatch(/^ok /);
        const program = (await s.send("print-execute-command")).split(" ")[1]!.split(",").map(decodeURIComponent);
        const listed = execute(runner, program, ["sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1"]).stdout;
        expect(await s.send("quit")).toBe("ok");
        const said = /contain PID \d+, (\w+) network/.exec(await s.stderr())?.[1];
        return { said, names: listed.split("\n").map((name) => name.trim()).filter((name) => name !== "" && name !== "lo").sort() };
      };
      const host = readFileSync("/proc/net/dev", "utf8").split("\n").slice(2).map((entry) => entry.split(":")[0]!.trim()).filter((name) => name !== "" && name !== "lo").sort();
      const ours = await interfaces([]);
      expect(ours.said).toBe("private");
      // pasta's one interface, a copy of the host's (its name too), and nothing else of the host's.
      expect(ours.names).toHaveLength(1);
      expect(await interfaces(["-n"])).toEqual({ said: "host", names: host });
      expect(await interfaces(["--network"])).toEqual({ said: "host", names: host });
      expect(await interfaces(["--no-network"])).toEqual({ said: "none", names: [] });
    });

    testIf(reason ?? terminalReason, "shell: an interactive shell on the caller's terminal, in the directory and with the environment asked for", async () => {
      const [dir, done] = scratch(runner);
      try {
        chmodSync(dir, 0o755);
        const protocol = line(["open", "shell /tmp A%3Dfrom%20shell", "quit"]);
        const body = `printf '%s\\n' ${protocol} | ${line([...runner.prefix, bun, server, root])}; echo "server:$?"`;
        const output = await typed(dir, body, "# ", 'echo "in:$A:$(pwd):$(hostname)"; [ -t 0 ] && echo terminal; exit\n');
        expect(output).toContain("in:from shell:/tmp:autopkgtest\n");
        // The shell's end is the reply to shell; then quit's, and the server's status.
        expect(output).toEndWith("\nterminal\nok\nok\nserver:0\n");
      } finally {
        done();
      }
    });
  });
}

// Whole autopkgtest runs on Debian roots, against autopkgtest-virt-unshare on the same
// tarball: a tiny package whose tests pass, fail, need root, and start a service.
const DEBIAN_TARBALL = process.env.CONTAIN_DEBIAN_TARBALL ?? "/var/cache/contain-test/bookworm-apt.tar";
const SYSTEMD_TARBALL = process.env.CONTAIN_SYSTEMD_TARBALL ?? "/var/cache/contain-test/bookworm-systemd.tar";
const autopkgtestReason = Bun.which("autopkgtest") ? null : "autopkgtest is not installed (scripts/setup.sh installs it)";
const debianReason = [DEBIAN_TARBALL, SYSTEMD_TARBALL].map((path) => (existsSync(path) ? null : `no Debian root at ${path} (scripts/setup.sh as root makes it)`)).find(Boolean) ?? null;

/** The package: debian/control, changelog, source format and four tests. */
const PACKAGE: Record<string, string> = {
  "debian/changelog": "hello-contain (1.0) unstable; urgency=medium\n\n  * Test.\n\n -- Test <test@example.org>  Thu, 01 Jan 2026 00:00:00 +0000\n",
  "debian/control":
    "Source: hello-contain\nSection: misc\nPriority: optional\nMaintainer: Test <test@example.org>\nStandards-Version: 4.6.2\n\n" +
    "Package: hello-contain\nArchitecture: all\nDescription: test package\n test\n",
  "debian/source/format": "3.0 (native)\n",
  "debian/tests/control": [
    "Tests: plain\nDepends:\n",
    "Tests: as-root\nDepends:\nRestrictions: needs-root\n",
    "Tests: fails\nDepends:\n",
    "Tests: service\nDepends:\nRestrictions: needs-root, isolation-container\n",
  ].join("\n"),
  "debian/tests/plain": '#!/bin/sh\nset -e\necho "hello from $(id -un)"\n[ "$(id -u)" != 0 ]\n',
  "debian/tests/as-root": '#!/bin/sh\nset -e\n[ "$(id -u)" = 0 ]\ntouch /etc/written-by-test\n',
  "debian/tests/fails": "#!/bin/sh\necho broken >&2\nexit 1\n",
  // A test that starts a service, as tests that need isolation-container may.
  "debian/tests/service":
    "#!/bin/sh\nset -e\nprintf '[Service]\\nExecStart=/bin/sleep infinity\\n' > /run/systemd/system/hello-contain.service\n" +
    "systemctl daemon-reload\nsystemctl start hello-contain.service\nsystemctl is-active hello-contain.service\n",
};

/** Each test's name and verdict from autopkgtest's summary, sorted by name (a skipped
 *  test may be listed twice). Pure. */
function verdicts(summary: string): string[] {
  const lines = summary.split("\n").filter(Boolean);
  return [...new Set(lines.map((entry) => entry.split(/\s+/).slice(0, 2).join(" ")))].sort();
}

/** A cgroup delegated to the test user, as systemd's Delegate=yes makes one (so that the
 *  testbed's systemd can boot as a user), and argv run inside it; root needs none. Only
 *  root can make one: a suite run as the user has none, and its testbed boots no systemd. */
function delegatedCgroup(runner: Runner): { wrap: (argv: string[]) => string[]; remove: () => void; delegated: boolean } {
  const none = { wrap: (argv: string[]) => argv, remove: () => {}, delegated: runner.name === "root" };
  if (runner.name === "root") return none;
  const mountinfo = readFileSync("/proc/self/mountinfo", "utf8");
  const place = cgroupPlace(mountinfo, readFileSync("/proc/self/cgroup", "utf8"));
  if (place.dir === null || process.getuid!() !== 0) return { ...none, delegated: false };
  const dir = `${place.dir}/contain-autopkgtest-${process.pid}`;
  mkdirSync(dir);
  for (const path of [dir, `${dir}/cgroup.procs`, `${dir}/cgroup.subtree_control`, `${dir}/cgroup.threads`]) chownSync(path, runner.uid, runner.gid);
  return {
    delegated: true,
    wrap: (argv) => ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir, ...argv],
    remove: () => {
      try {
        rmdirSync(dir);
      } catch {}
    },
  };
}

for (const runner of runners) {
  describe(`autopkgtest with autopkgtest-virt-contain as ${runner.name}`, () => {
    const reason = runner.reason ?? autopkgtestReason ?? debianReason;

    /** Runs autopkgtest -U on the package with the server's argv; returns its verdicts. */
    async function autopkgtest(dir: string, name: string, server: string[], wrap = (argv: string[]) => argv): Promise<string[]> {
      const out = join(dir, `out-${name}`);
      const path = `${join(dir, "bin")}:${bunDir}:/usr/sbin:/usr/bin:/sbin:/bin`;
      // autopkgtest tees its stderr into its log by opening /dev/stderr again, which fails
      // (ENXIO) where stderr is a socket, as Bun's "pipe" is: a real pipe in between.
      const piped = ["bash", "-c", 'set -o pipefail; "$@" 2>&1 | cat >&2', "bash"];
      const argv = wrap([...runner.prefix, ...piped, "env", `PATH=${path}`, "autopkgtest", "-q", "-U", "-B", `${join(dir, "pkg")}/`, "-o", out, "--", ...server]);
      const child = Bun.spawn(argv, { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const [log, status] = await Promise.all([new Response(child.stderr).text(), child.exited, new Response(child.stdout).text()]);
      let summary = "";
      try {
        summary = readFileSync(join(out, "summary"), "utf8");
      } catch {
        throw new Error(`autopkgtest ${server.join(" ")} gave no summary (status ${status}): ${log.slice(-2000)}`);
      }
      // 4: a test failed (the one that fails); 2: a test was skipped, as a testbed without
      // isolation-container skips it.
      expect([0, 2, 4, 6]).toContain(status);
      return verdicts(summary);
    }

    testIf(
      reason,
      "the same verdicts as autopkgtest-virt-unshare with its options and no network option; a service starts where systemd boots",
      async () => {
        const [dir, done] = scratch(runner);
        const cgroup = delegatedCgroup(runner);
        try {
          chmodSync(dir, 0o755);
          for (const [path, text] of Object.entries(PACKAGE)) {
            mkdirSync(dirname(join(dir, "pkg", path)), { recursive: true });
            writeFileSync(join(dir, "pkg", path), text, { mode: path.startsWith("debian/tests/") && path !== "debian/tests/control" ? 0o755 : 0o644 });
          }
          mkdirSync(join(dir, "bin"));
          symlinkSync(cli("autopkgtest-virt-contain"), join(dir, "bin", "autopkgtest-virt-contain"));
          Bun.spawnSync(["chown", "-R", `${runner.uid}:${runner.gid}`, dir]);

          // The archive is reached without a network option (apt-get update and the
          // install of dpkg-dev need it): both backends at once, on the plain root.
          const [ours, theirs] = await Promise.all([
            autopkgtest(dir, "contain", ["contain", "-t", DEBIAN_TARBALL, "-p", `${dir}/unpack-`]),
            autopkgtest(dir, "unshare", ["unshare", "-t", DEBIAN_TARBALL]),
          ]);
          expect(ours).toEqual(["as-root PASS", "fails FAIL", "plain PASS", "service SKIP"]);
          expect(ours).toEqual(theirs);
          // The -p directory is gone with the testbed.
          expect(readdirSync(dir).filter((name) => name.startsWith("unpack-"))).toEqual([]);

          // On a root with systemd, booted in the container's own cgroup, the service starts;
          // without a cgroup of its own to give, no systemd boots, no isolation-container is
          // claimed, and the service's test is skipped rather than failed.
          const booted = await autopkgtest(dir, "systemd", ["contain", SYSTEMD_TARBALL], cgroup.wrap);
          const service = cgroup.delegated ? "service PASS" : "service SKIP";
          expect(booted).toEqual(["as-root PASS", "fails FAIL", "plain PASS", service]);
        } finally {
          done();
          cgroup.remove();
        }
      },
      600_000,
    );
  });
}
