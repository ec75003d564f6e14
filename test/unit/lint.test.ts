// zig fmt and the TypeScript type check are part of the tests.
import { expect, test } from "bun:test";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");

test("zig fmt --check", () => {
  const zig = join(root, "node_modules", "@ryoppippi", "zig-linux-x64", "zig");
  const result = Bun.spawnSync([zig, "fmt", "--check", "zig", "build.zig"], { cwd: root });
  expect(result.stdout.toString()).toBe("");
  expect(result.exitCode).toBe(0);
});

test("tsc --noEmit", () => {
  const result = Bun.spawnSync([process.execPath, join(root, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "-p", root], {
    cwd: root,
    env: { ...process.env, BUN_BE_BUN: "1" },
  });
  expect(result.stdout.toString()).toBe("");
  expect(result.exitCode).toBe(0);
}, 120_000);
