// The library suite again, as the unprivileged test user, when the tests run as root.
import { expect } from "bun:test";
import { join } from "node:path";
import { bun, runners, testIf, tree } from "./helpers.ts";

const user = runners.find((runner) => runner.name === "user")!;
const reason = process.getuid!() !== 0 ? "already running as a user (library.test.ts covers it)" : user.reason;

testIf(reason, "library.test.ts passes as the test user", () => {
  // From the copy of the checkout that the test user can read.
  const result = Bun.spawnSync([...user.prefix, bun, "test", join(tree, "test", "library.test.ts")], {
    cwd: tree,
    env: { ...process.env, HOME: "/tmp" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const output = result.stderr.toString() + result.stdout.toString();
  if (result.exitCode !== 0) console.error(output);
  expect(output).toContain(" 0 fail");
  expect(result.exitCode).toBe(0);
}, 300_000);
