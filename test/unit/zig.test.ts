// The shim's own unit tests (zig build test): PATH search, exec and wait statuses, fd
// closing. Pure, or touching only this process's fds and a temporary directory.
import { expect, test } from "bun:test";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");

test("zig build test", () => {
  const zig = join(root, "node_modules", "@ryoppippi", "zig-linux-x64", "zig");
  const result = Bun.spawnSync([zig, "build", "test", "--summary", "all"], { cwd: root });
  const output = result.stderr.toString();
  expect(output).toMatch(/\d+\/\d+ tests passed/);
  expect(output).not.toContain("failed");
  expect(result.exitCode).toBe(0);
}, 300_000);
