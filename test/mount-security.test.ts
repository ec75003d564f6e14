// What a root-run container may touch is judged by what is mounted, not by the path as
// typed: a :ro bind stays read-only and mounted whatever container root does, a bind
// source and DIR are judged as the objects they are (symbolic links, a `..` in bytes and
// POSIX ACLs change nothing), and -o keeps ID-mapped binds. Each attack has a control
// that shows it works where the protection is absent.
import { describe, expect } from "bun:test";
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { bun, BUSYBOX, busyboxFixture, cli, probeReason, run, type Runner, runners, scratch, testIf } from "./helpers.ts";

const CONTAINER_ROOT = 4294967294;
const refusedBind = /^contain: Cannot bind .* writable: as host root, container root writes there as host root/;
const refusedRoot = /^contain: Cannot use .* as root filesystem: .* is open to other host users/;

/** A busybox root at `dir` (made if missing), built with pseudo as `runner`. */
function buildRoot(runner: Runner, dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir);
  if (runner.name === "root") chownSync(dir, CONTAINER_ROOT, CONTAINER_ROOT);
  else chownSync(dir, runner.uid, runner.gid);
  const script = `mkdir -p bin && cp ${BUSYBOX} bin/ && for a in sh echo cat ls chmod chown true; do ln -sf busybox bin/$a; done`;
  const result = run(runner, "pseudo", ["sh", "-c", script], { cwd: dir });
  if (result.status !== 0) throw new Error(`building the root failed: ${result.stderr}`);
}

/** A directory other host users can reach (0755, in /tmp), removed after the block. */
function publicDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "contain-public-"));
  chmodSync(dir, 0o755);
  return dir;
}

for (const runner of runners) {
  describe(`what a container may touch, judged by objects, as ${runner.name}`, () => {
    const { reason, root } = busyboxFixture(runner);
    const probeWhy = reason ?? probeReason;
    const asRoot = runner.name === "root";
    const cleanups: (() => void)[] = [];
    const contain = (args: string[]) => run(runner, "contain", ["-c", ...args]);
    // The busybox applets these tests need beyond the fixture's.
    const tools = ["mount", "umount", "touch"].map((name) => `${name}() { /bin/busybox ${name} "$@"; }`).join("; ");
    // As host root, one that container root owns, as `pseudo mkdir -m 700` makes: it
    // may pass through, so that what contain accepts would really run.
    const privateDir = (owner = CONTAINER_ROOT) => {
      const [dir, done] = scratch(runner);
      if (asRoot) chownSync(dir, owner, owner);
      cleanups.push(done);
      return dir;
    };
    const open = () => {
      const dir = publicDir();
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      return dir;
    };
    require("bun:test").afterAll(() => cleanups.forEach((done) => done()));

    testIf(probeWhy, "a :ro bind stays read-only and mounted whatever container root does", () => {
      // Files of a host user other than root, in a bind any user may read: under the
      // default map container root could write them once the bind was writable.
      const shared = open();
      const owner = asRoot ? 1002 : runner.uid;
      writeFileSync(join(shared, "f"), "host\n");
      mkdirSync(join(shared, "d"));
      chownSync(join(shared, "f"), owner, owner);
      chownSync(join(shared, "d"), owner, owner);
      const attack = [
        "mount -o remount,rw,bind /p 2>/dev/null && echo remounted",
        "echo container >> /p/f 2>/dev/null && echo wrote",
        "(touch /p/d/x && chown 1002:42 /p/d/x && chmod 2755 /p/d/x) 2>/dev/null && echo planted",
        "umount /p 2>/dev/null && echo unmounted",
        "umount -l /p 2>/dev/null && echo detached",
        "/bin/probe unlock /p",
      ].join("; ");
      const result = contain(["-b", `${shared}:/p:ro`, root, "/bin/sh", "-c", `${tools}; ${attack}`]);
      expect(result.stdout).toBe("unlock: in place errno 1, copy errno 1\n");
      expect(readFileSync(join(shared, "f"), "utf8")).toBe("host\n");
      expect(existsSync(join(shared, "d", "x"))).toBe(false);
      // The control: the same steps on a read-only bind the container made itself.
      const control = [
        "mkdir -p /q && mount -o bind /bin /q && mount -o remount,ro,bind /q",
        "/bin/probe unlock /q",
        "mount -o remount,rw,bind /q && echo remounted",
        "umount /q && echo unmounted",
      ].join("; ");
      const own = contain([root, "/bin/sh", "-c", `${tools}; ${control}`]);
      expect(own.stdout).toBe("unlock: in place errno 0, copy errno 0\nremounted\nunmounted\n");
    });

    testIf(reason, "-o keeps a writable bind of a private directory writable", () => {
      // Host root's: through the ID-mapped bind, container root's.
      const writable = privateDir(0);
      const script = "echo w > /mnt/written && ls -ln /mnt/written";
      for (const extra of [[], ["-o", "true"]]) {
        const result = contain([...extra, "-b", `${writable}:/mnt`, root, "/bin/sh", "-c", script]);
        expect(result.stderr).toBe("");
        // As host root the bind is ID-mapped: root's file is container root's.
        expect(result.stdout).toMatch(/^-\S+ +1 0 +0 /);
        expect(statSync(join(writable, "written")).uid).toBe(runner.uid);
        rmSync(join(writable, "written"));
      }
    });

    testIf(reason, "a writable bind's source is judged where its symbolic links lead", () => {
      const shared = open();
      const hidden = privateDir();
      const inside = join(hidden, "inside");
      mkdirSync(inside);
      if (!asRoot) chownSync(inside, runner.uid, runner.gid);
      // Root's own link in a private directory, to a public one; and a link a container
      // left in its own (private) root, to a host path.
      symlinkSync(shared, join(hidden, "out"));
      symlinkSync(inside, join(hidden, "in"));
      expect(contain([root, "/bin/busybox", "ln", "-sf", shared, "/leak"]).status).toBe(0);
      const plant = "/bin/busybox cp /bin/busybox /mnt/planted && chmod 4755 /mnt/planted";
      for (const source of [join(hidden, "out"), join(root, "leak")]) {
        const result = contain(["-b", `${source}:/mnt`, root, "/bin/sh", "-c", asRoot ? plant : "true"]);
        if (asRoot) {
          expect(result.stderr).toMatch(refusedBind);
          expect(result.stderr).toContain(`(${shared})`);
          expect(result.status).toBe(125);
          expect(existsSync(join(shared, "planted"))).toBe(false);
        } else {
          // As a user, container root is the user: there is nothing to judge.
          expect(result.stderr).toBe("");
          expect(result.status).toBe(0);
        }
      }
      // The control: a link that leads into a private directory is taken, and written.
      const control = contain(["-b", `${join(hidden, "in")}:/mnt`, root, "/bin/sh", "-c", plant]);
      expect(control.stderr).toBe("");
      expect(control.status).toBe(0);
      expect(statSync(join(inside, "planted")).mode & 0o4000).toBe(0o4000);
    });

    testIf(reason, "a writable bind of a file is judged from its directory, and by its other links", () => {
      const shared = open();
      const hidden = privateDir(0);
      writeFileSync(join(shared, "f"), "host\n");
      // The same file under a private name: through its public one, anyone runs it.
      linkSync(join(shared, "f"), join(hidden, "linked"));
      symlinkSync(join(shared, "f"), join(hidden, "pointed"));
      writeFileSync(join(hidden, "own"), "host\n");
      if (!asRoot) chownSync(join(hidden, "own"), runner.uid, runner.gid);
      const plant = "/bin/busybox cp /bin/busybox /mnt/f && chmod 4755 /mnt/f";
      for (const source of ["linked", "pointed"]) {
        const result = contain(["-b", `${join(hidden, source)}:/mnt/f`, root, "/bin/sh", "-c", asRoot ? plant : "true"]);
        if (asRoot) {
          expect(result.stderr).toMatch(refusedBind);
          expect(result.status).toBe(125);
        } else {
          expect(result.status).toBe(0);
        }
      }
      expect(readFileSync(join(shared, "f"), "utf8")).toBe("host\n");
      // The control: a file with no other name, in a private directory, is taken.
      const control = contain(["-b", `${join(hidden, "own")}:/mnt/f`, root, "/bin/sh", "-c", "echo container > /mnt/f"]);
      expect(control.stderr).toBe("");
      expect(readFileSync(join(hidden, "own"), "utf8")).toBe("container\n");
    });

    testIf(reason, "DIR is judged by its real ancestors: a link or a `..` in bytes changes nothing", () => {
      const shared = open();
      const exposed = join(shared, "root");
      buildRoot(runner, exposed);
      const hidden = privateDir();
      symlinkSync(exposed, join(hidden, "out"));
      symlinkSync(root, join(hidden, "in"));
      // Any word that is not UTF-8 makes the CLI take every word as bytes.
      const bytes = (dir: string) =>
        Bun.spawnSync([...runner.prefix, "sh", "-c", `exec "$0" "$1" -c -E "X=$(printf '\\377')" "$2" /bin/true`, bun, cli("contain"), dir], {
          cwd: "/tmp",
        });
      const viaDots = `${hidden}/../${basename(shared)}/root`;
      const attempts = [contain([join(hidden, "out"), "/bin/true"]), bytes(viaDots)].map((result) =>
        "exitCode" in result ? { status: result.exitCode, stderr: result.stderr.toString() } : result,
      );
      for (const result of attempts) {
        if (asRoot) {
          expect(result.stderr).toMatch(refusedRoot);
          expect(result.status).toBe(125);
        } else {
          expect(result.stderr).toBe("");
          expect(result.status).toBe(0);
        }
      }
      // The control: the same forms that lead to a private root are taken.
      expect(contain([join(hidden, "in"), "/bin/true"]).status).toBe(0);
      const controlDots = `${hidden}/../${basename(root)}`;
      const control = bytes(controlDots);
      expect(control.stderr.toString()).toBe("");
      expect(control.exitCode).toBe(0);
    });

    testIf(reason, "an ACL that lets another user into DIR's parent opens DIR", () => {
      const parent = privateDir(0);
      chmodSync(parent, 0o750);
      const dir = join(parent, "root");
      buildRoot(runner, dir);
      const acl = (entry: string) => {
        const result = Bun.spawnSync(["setfacl", "-m", entry, parent]);
        if (result.exitCode !== 0) throw new Error(`setfacl failed: ${result.stderr}`);
      };
      // Group root's 0750, but a named user may search it (and container root, so that
      // the container would run).
      acl(`u:${CONTAINER_ROOT}:r-x`);
      acl("u:nobody:r-x");
      const result = contain([dir, "/bin/true"]);
      if (asRoot) {
        expect(result.stderr).toMatch(refusedRoot);
        expect(result.status).toBe(125);
      } else {
        expect(result.status).toBe(0);
      }
      // The control: the same entry without search permission keeps the directory closed.
      acl("u:nobody:r--");
      acl("m::r-x");
      const control = contain([dir, "/bin/true"]);
      expect(control.stderr).toBe("");
      expect(control.status).toBe(0);
    });
  });
}
