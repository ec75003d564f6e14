// Paths as text (src/paths.ts): made absolute as node:path's resolve makes them, without
// loading node:path.
import { expect, test } from "bun:test";
import { resolve as nodeResolve } from "node:path";
import { realSuffix, resolve } from "../../src/paths.ts";

test("resolve makes a path absolute against the working directory given", () => {
  expect(resolve("root", "/srv")).toBe("/srv/root");
  expect(resolve("./a/../b//c/", "/srv")).toBe("/srv/b/c");
  expect(resolve("/x/./y/../z", "/srv")).toBe("/x/z");
  expect(resolve("../../..", "/srv/a")).toBe("/");
  expect(resolve("", "/srv")).toBe("/srv");
  expect(resolve("/")).toBe("/");
});

test("resolve agrees with node:path's resolve", () => {
  const cases = ["a", "a/b/..", "/a//b/./c", "../x", "./", "..", "/..", "a/../../b", "x/.../y", ".hidden/..."];
  for (const path of cases) expect(resolve(path)).toBe(nodeResolve(path));
});

test("realSuffix names the real path only where it differs", () => {
  expect(realSuffix("/srv/root", "/srv/root")).toBe("");
  expect(realSuffix("/link", "/srv/root")).toBe(" (/srv/root)");
});
