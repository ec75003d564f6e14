// contain's -b, -t, -e, -w and -E through the CLI, as root and as the unprivileged test
// user, on a busybox root: what CMD sees, and the refusals of bad input.
import { describe, expect } from "bun:test";
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { busyboxFixture, ORIGINAL_ROOT_MAPS, run, runners, scratch, testIf } from "./helpers.ts";

for (const runner of runners) {
  describe(`contain's mounts and environment as ${runner.name}`, () => {
    const { reason, root } = busyboxFixture(runner);
    const [host, removeHost] = reason === null ? scratch(runner) : ["", () => {}];
    // Writable binds as host root must be out of other users' reach (see the test below),
    // so they bind a private directory; :ro binds, plain even as root, an open one.
    const [writable, removeWritable] = reason === null ? scratch(runner) : ["", () => {}];
    if (reason === null) {
      writeFileSync(join(host, "data"), "from the host\n");
      writeFileSync(join(writable, "data"), "from the host\n");
      if (process.getuid!() === 0) chownSync(join(host, "data"), runner.uid, runner.gid);
      if (process.getuid!() === 0) chownSync(join(writable, "data"), runner.uid, runner.gid);
      // A :ro bind is plain even as root: its files must be readable by anyone.
      chmodSync(host, 0o755);
      // Links in the root that lead out of it: one absolute, one through "..".
      run(runner, "pseudo", ["sh", "-c", "ln -s / absolute && ln -s ../../.. up"], { cwd: root });
    }
    const contain = (args: string[]) => run(runner, "contain", ["-c", ...args]);

    testIf(reason, "-E sets CMD's environment beside container=contain, -w its directory", () => {
      const result = contain(["-E", "A=1", "-E", "B=x=y", "-w", "/bin", root, "/bin/sh", "-c", "pwd; echo $container $A $B"]);
      expect(result.stdout).toBe("/bin\ncontain 1 x=y\n");
      expect(result.status).toBe(0);
    });

    testIf(reason, "-b binds a host directory, read-only with :ro; -t mounts a tmpfs; targets are made", () => {
      const script = "cat /mnt/in/data; cat /ro/data; echo no > /ro/x || echo refused; echo t > /new/tmp/f && cat /new/tmp/f";
      const result = contain(["-b", `${writable}:/mnt/in`, "-b", `${host}:/ro:ro`, "-t", "/new/tmp", root, "/bin/sh", "-c", script]);
      expect(result.stdout).toBe("from the host\nfrom the host\nrefused\nt\n");
      expect(result.stderr).toContain("Read-only file system");
      expect(existsSync(join(host, "x"))).toBe(false);
    });

    testIf(reason, "a bind of a file, and later mounts stack on earlier ones", () => {
      const result = contain(["-t", "/a", "-b", `${join(writable, "data")}:/a/file`, root, "/bin/cat", "/a/file"]);
      expect(result.stdout).toBe("from the host\n");
    });

    testIf(reason, "-e: CMD writes anywhere, DIR is left as it was", () => {
      const before = readdirSync(root).sort();
      const script = "echo x > /bin/new && rm /bin/cat && ls /bin/new && ls /bin/cat 2>/dev/null; echo done";
      const result = contain(["-e", root, "/bin/sh", "-c", script]);
      expect(result.stdout).toBe("/bin/new\ndone\n");
      expect(readdirSync(root).sort()).toEqual(before);
      expect(existsSync(join(root, "bin", "new"))).toBe(false);
      expect(existsSync(join(root, "bin", "cat"))).toBe(true);
    });

    testIf(reason, "-b of the caller's own directory is writable, and files keep the caller's IDs", () => {
      // As host root, container root is host UID 4294967294: only an ID-mapped bind lets it
      // write root's directory, and makes what it writes root's.
      const result = contain(["-b", `${writable}:/mnt`, root, "/bin/sh", "-c", "echo w > /mnt/written && ls -ln /mnt/data"]);
      expect(result.stderr).toBe("");
      expect(result.stdout).toMatch(/^-\S+ +1 0 +0 /);
      expect(readFileSync(join(writable, "written"), "utf8")).toBe("w\n");
      expect(statSync(join(writable, "written")).uid).toBe(runner.uid);
    });

    testIf(reason, "as host root, a writable bind other users can reach is refused: no setuid-root files for them", () => {
      const plant = "cp /bin/busybox /mnt/planted && chmod 4755 /mnt/planted";
      const refused = contain(["-b", `${host}:/mnt`, root, "/bin/sh", "-c", plant]);
      if (runner.name === "user") {
        // As a user, container root is the user: nothing to gain.
        expect(refused.status).toBe(0);
        return;
      }
      expect(refused.stderr).toBe(
        `contain: Cannot bind ${host} writable: as host root, container root writes there as host root (setuid files too), and other host users can reach it: make it private (chmod 700), bind it :ro, or choose maps with -u and -g\n`,
      );
      expect(existsSync(join(host, "planted"))).toBe(false);
      // The control: with maps chosen explicitly, the same bind takes a setuid-root file.
      const maps = ORIGINAL_ROOT_MAPS;
      expect(contain([...maps, "-b", `${host}:/mnt`, root, "/bin/sh", "-c", plant]).status).toBe(0);
      const stat = statSync(join(host, "planted"));
      expect([stat.uid, stat.mode & 0o7777]).toEqual([0, 0o4755]);
      rmSync(join(host, "planted"));
    });

    testIf(reason, "a source that cannot be ID-mapped is a plain bind, with one warning as root", () => {
      // Maps chosen explicitly: /proc/sys is open to every host user.
      const maps = runner.name === "root" ? ORIGINAL_ROOT_MAPS : [];
      const result = contain([...maps, "-b", "/proc/sys/kernel:/k", "-b", "/proc/sys/vm:/v", root, "/bin/cat", "/k/ostype"]);
      expect(result.stdout).toBe("Linux\n");
      const warning = /^contain: Cannot ID-map the bind of \/proc\/sys\/kernel \(Invalid argument\): it is a plain bind, which container root may not write\n$/;
      if (runner.name === "root") expect(result.stderr).toMatch(warning);
      else expect(result.stderr).toBe("");
    });

    testIf(reason, "bad input: missing source, escaping targets, unusable -w, malformed -E and -b", () => {
      const marker = `/tmp/contain-escape-${process.pid}-${runner.name}`;
      const cases: [string[], number, RegExp][] = [
        [["-b", "/no/such/dir:/x", root], 125, /^contain: Cannot bind \/no\/such\/dir: No such file or directory\n$/],
        [["-t", `/..${marker}`, root], 125, /^contain: Failed to resolve mount target \/\.\.\/tmp\/\S+: it leads outside the root filesystem\n$/],
        [["-t", `/up${marker}`, root], 125, /^contain: Failed to resolve mount target \/up\/tmp\/\S+: it leads outside the root filesystem\n$/],
        [["-b", `${writable}:/absolute${marker}`, root], 125, /^contain: Failed to resolve mount target \/absolute\/tmp\/\S+: it leads outside/],
        [["-t", "relative", root], 125, /^contain: Cannot mount on relative: the target must be an absolute path\n$/],
        [["-w", "/no/such/dir", root, "/bin/true"], 125, /^contain: Failed to enter working directory \/no\/such\/dir: No such file or directory\n$/],
        [["-w", "/bin/sh", root, "/bin/true"], 125, /^contain: Failed to enter working directory \/bin\/sh: Not a directory\n$/],
        [["-E", "NOEQUALS", root], 64, /^contain: bad environment variable NOEQUALS: expected NAME=VALUE\nTry 'contain --help' for more information\.\n$/],
        [["-E", "=x", root], 64, /^contain: bad environment variable =x: expected NAME=VALUE\nTry 'contain --help' for more information\.\n$/],
        [["-b", "/tmp", root], 64, /^contain: bad bind \/tmp: expected SRC:DST or SRC:DST:ro\nTry 'contain --help' for more information\.\n$/],
        [["-b", "/tmp:/x:rw", root], 64, /^contain: bad bind \/tmp:\/x:rw: expected SRC:DST or SRC:DST:ro\nTry 'contain --help' for more information\.\n$/],
      ];
      for (const [args, status, stderr] of cases) {
        const result = contain(args);
        expect(result.stderr).toMatch(stderr);
        expect(result.status).toBe(status);
      }
      // Refused, and never followed onto the host: nothing was made there.
      expect(existsSync(marker)).toBe(false);
      expect(existsSync(join(root, "tmp"))).toBe(false);
    });

    testIf(reason, "an unwritable working directory is CMD's to find out, not contain's", () => {
      run(runner, "pseudo", ["sh", "-c", "mkdir -p locked && chmod 555 locked"], { cwd: root });
      const result = contain(["-w", "/locked", root, "/bin/sh", "-c", "pwd; echo x > f || echo cannot write"]);
      // Container root may write anywhere in its own namespace's files; a read-only bind
      // is what makes a directory unwritable to it.
      const ro = contain(["-b", `${host}:/locked:ro`, "-w", "/locked", root, "/bin/sh", "-c", "pwd; echo x > f || echo cannot write"]);
      expect(result.stdout.split("\n")[0]).toBe("/locked");
      expect(ro.stdout).toBe("/locked\ncannot write\n");
    });

    testIf(reason, "as root, a :ro bind stays read-only even when container root remounts it", () => {
      // As a user, container root is the user, who may write those files anyway: there a
      // :ro bind guards against mistakes, and the remount is left out.
      const remount = runner.name === "root" ? "/bin/busybox mount -o remount,rw,bind /ro 2>/dev/null; " : "";
      const script = `${remount}echo x > /ro/x 2>/dev/null || echo refused`;
      const result = contain(["-b", `${host}:/ro:ro`, root, "/bin/sh", "-c", script]);
      expect(result.stdout).toBe("refused\n");
      expect(existsSync(join(host, "x"))).toBe(false);
    });

    if (reason === null) {
      // Cleanup of the host-side scratch directory after the block's tests.
      require("bun:test").afterAll(() => (removeHost(), removeWritable()));
    }
  });
}
