// The npm package: packed from this checkout, added to an empty project with Bun alone
// (no Zig, no dev dependencies), and run through bunx, as root and as the test user.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bun, busyboxReason, busyboxRoot, repo, runners, testIf } from "./helpers.ts";

let project = "";
let packError: string | null = null;

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), "contain-package-"));
  chmodSync(project, 0o755);
  const pack = Bun.spawnSync([bun, "pm", "pack", "--destination", project], { cwd: repo, stderr: "pipe", stdout: "pipe" });
  const tarball = readdirSync(project).find((name) => name.endsWith(".tgz"));
  if (pack.exitCode !== 0 || !tarball) {
    packError = `bun pm pack failed: ${pack.stderr.toString()}`;
    return;
  }
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true }));
  const add = Bun.spawnSync([bun, "add", join(project, tarball)], { cwd: project, stderr: "pipe", stdout: "pipe" });
  if (add.exitCode !== 0) packError = `bun add failed: ${add.stderr.toString()}`;
  // Bun alone: neither Zig nor the dev dependencies came along.
  if (readdirSync(join(project, "node_modules")).some((name) => name.startsWith("@ryoppippi"))) packError = "Zig was installed";
}, 120_000);

afterAll(() => rmSync(project, { recursive: true, force: true }));

for (const runner of runners) {
  describe(`the package as ${runner.name}`, () => {
    const reason = runner.reason ?? busyboxReason;
    testIf(reason, "bunx bun-contain and bunx -p bun-contain pseudo work from a packed tarball", () => {
      expect(packError).toBeNull();
      const [root, done] = busyboxRoot(runner);
      const bunx = (args: string[]) =>
        Bun.spawnSync([...runner.prefix, bun, "x", ...args], {
          cwd: project,
          // As on a machine with Bun installed: bun on PATH, for the commands' #! line.
          env: { ...process.env, HOME: "/tmp", PATH: `${join(repo, "node_modules", ".bin")}:${dirname(bun)}:/usr/bin:/bin` },
          stderr: "pipe",
        });
      // The README's lines, as written.
      const contained = bunx(["bun-contain", "-c", root, "/bin/sh", "-c", "echo $$"]);
      const pseudo = bunx(["-p", "bun-contain", "pseudo", "id", "-u"]);
      done();
      expect(contained.stderr.toString()).toBe("");
      expect(contained.stdout.toString()).toBe("1\n");
      expect(pseudo.stdout.toString()).toBe("0\n");
      expect(pseudo.exitCode).toBe(0);
    });
  });
}
