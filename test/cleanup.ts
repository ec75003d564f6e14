// Preloaded by bun test (bunfig.toml): after the last test of the run, remove the copy of
// the checkout that test/helpers.ts made for the test user, if it made one.
import { afterAll } from "bun:test";
import { rmSync } from "node:fs";

afterAll(() => {
  const tree = (globalThis as { containTestTree?: string }).containTestTree;
  if (tree) rmSync(tree, { recursive: true, force: true });
});
