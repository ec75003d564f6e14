// A package whose native library is missing or cannot be loaded: each command says so in
// one line that names the file and the fix, exit 125, and the doctor reports it.
import { afterAll, describe, expect } from "bun:test";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bun, repo, runners, shellStatus, testIf, tree } from "./helpers.ts";

const arch = process.arch === "arm64" ? "aarch64" : "x86_64";
const parent = mkdtempSync(join(tmpdir(), "contain-shim-"));
chmodSync(parent, 0o755);
afterAll(() => rmSync(parent, { recursive: true, force: true }));

/** A copy of the installed package's files, its native library as `library` makes it. */
function copy(name: string, library: (path: string) => void): string {
  const dir = join(parent, name);
  for (const part of ["bin", "dist", "src", "package.json"]) cpSync(join(repo, part), join(dir, part), { recursive: true });
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  symlinkSync(join(repo, "node_modules", "citty"), join(dir, "node_modules", "citty"));
  mkdirSync(join(dir, "zig-out", "lib", arch), { recursive: true });
  library(join(dir, "zig-out", "lib", arch, "libcontain.so"));
  return dir;
}

const missing = copy("missing", () => {});
const broken = copy("broken", (path) => writeFileSync(path, "not a library\n".repeat(20)));

for (const runner of runners) {
  describe(`a package without a usable native library, as ${runner.name}`, () => {
    const run = (dir: string, tool: string, args: string[]) => {
      const result = Bun.spawnSync([...runner.prefix, bun, join(dir, "bin", `${tool}.js`), ...args], { cwd: "/tmp", stdin: "ignore" });
      return { status: shellStatus(result.exitCode, result.signalCode), stdout: result.stdout.toString(), stderr: result.stderr.toString() };
    };
    const library = (dir: string) => join(dir, "zig-out", "lib", arch, "libcontain.so");
    const fix = "reinstall bun-contain (bun add bun-contain), whose package has it";

    testIf(runner.reason, "every command: one line naming the file and the fix, status 125", () => {
      for (const tool of ["contain", "pseudo", "inject", "autopkgtest-virt-contain"]) {
        const args = tool === "inject" ? ["1", "true"] : tool === "contain" ? ["-c", "/", "/bin/true"] : ["/"];
        const gone = run(missing, tool, args);
        expect(gone.stderr).toBe(`${tool}: Cannot load the native library ${library(missing)}: No such file or directory; ${fix}\n`);
        expect(gone.status).toBe(125);
        const bad = run(broken, tool, args);
        expect(bad.stderr).toMatch(new RegExp(`^${tool}: Cannot load the native library \\S+/libcontain\\.so: .*invalid ELF header; ${fix.replace(/[()]/g, "\\$&")}\\n$`));
        expect(bad.status).toBe(125);
      }
    });

    testIf(runner.reason, "contain --doctor reports it and fails", () => {
      const doctor = run(missing, "contain", ["--doctor"]);
      expect(doctor.stdout).toContain(
        `fail  native library: Cannot load the native library ${library(missing)}: No such file or directory\n      fix: ${fix}\n`,
      );
      expect(doctor.status).toBe(1);
      expect(run(tree, "contain", ["--doctor"]).stdout).toContain(`ok    native library: `);
    });
  });
}
