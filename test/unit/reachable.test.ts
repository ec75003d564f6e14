// As host root under the default map, DIR must be out of other host users' reach.
import { expect, test } from "bun:test";
import type { FileStat } from "../../src/native.ts";
import { reachableByOthers } from "../../src/contain.ts";

const ROOT = 4294967294;
const dir = (mode: number, uid = 0, gid = 0): FileStat => ({ mode: 0o040000 | mode, uid, gid });
const tree = (entries: Record<string, FileStat>) => (path: string) => entries[path] ?? 2;

test("a private directory above DIR, or DIR itself, keeps other users out", () => {
  const open = { "/": dir(0o755), "/srv": dir(0o755) };
  expect(reachableByOthers("/srv/root", tree({ ...open, "/srv/root": dir(0o700, ROOT, ROOT) }), ROOT)).toBe(false);
  expect(reachableByOthers("/srv/root", tree({ ...open, "/srv": dir(0o700), "/srv/root": dir(0o755) }), ROOT)).toBe(false);
  // Group root may search: still closed to other users.
  expect(reachableByOthers("/srv/root", tree({ ...open, "/srv": dir(0o750, 0, 0), "/srv/root": dir(0o755) }), ROOT)).toBe(false);
});

test("an open path, or a closed directory someone else owns, is refused", () => {
  const open = { "/": dir(0o755), "/srv": dir(0o755), "/srv/root": dir(0o755, ROOT, ROOT) };
  expect(reachableByOthers("/srv/root", tree(open), ROOT)).toBe(true);
  // 0710 with a group other than root's lets that group in.
  expect(reachableByOthers("/srv/root", tree({ ...open, "/srv": dir(0o710, 0, 100) }), ROOT)).toBe(true);
  // A 0700 directory of an ordinary user: that user can plant and run files there.
  expect(reachableByOthers("/srv/root", tree({ ...open, "/srv": dir(0o700, 1001, 1001) }), ROOT)).toBe(true);
});
