// As host root under the default map, DIR and writable bind sources must be out of other
// host users' reach: judged as objects, by their real ancestors (zig/objects.zig has the
// pure rule and its unit test; these ask the shim about real directories).
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeFd, objectPath, objectReachable, openObject } from "../../src/native.ts";

const ROOT = 4294967294;
const base = mkdtempSync(join(tmpdir(), "contain-reach-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const reach = (path: string | Uint8Array, owner = process.getuid!()) => {
  const fd = openObject(path);
  if (typeof fd !== "number") throw new Error(`cannot open ${path}: ${fd.errno}`);
  try {
    return objectReachable(fd, owner === 0 ? ROOT : owner);
  } finally {
    closeFd(fd);
  }
};

test("a closed ancestor keeps others out; links and .. are judged where they lead", () => {
  const closed = join(base, "closed");
  const open = join(base, "open");
  mkdirSync(join(closed, "dir"), { recursive: true, mode: 0o755 });
  mkdirSync(join(open, "dir"), { recursive: true, mode: 0o755 });
  chmodSync(closed, 0o700);
  chmodSync(open, 0o755);
  chmodSync(base, 0o755);
  expect(reach(join(closed, "dir"))).toBe(false);
  // /tmp lets everyone in: nothing above closes it.
  expect(reach(join(open, "dir"))).toBe(true);
  symlinkSync(join(open, "dir"), join(closed, "out"));
  expect(reach(join(closed, "out"))).toBe(true);
  expect(reach(new TextEncoder().encode(`${closed}/../open/dir`))).toBe(true);
  const fd = openObject(join(closed, "out")) as number;
  expect(objectPath(fd)).toBe(join(open, "dir"));
  closeFd(fd);
});
