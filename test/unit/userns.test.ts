import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { userName } from "../../src/maps.ts";
import { type PlanInput, planMap, writeMaps } from "../../src/userns.ts";

const full = "0 0 4294967295\n";
const base: PlanInput = {
  kind: "UID",
  text: undefined,
  identity: { id: 1000, root: false, name: "alice" },
  ownMap: full,
  subordinate: "alice:100000:65536\n",
  helper: "/usr/bin/newuidmap",
};

describe("planMap", () => {
  test("root writes directly, default and custom", () => {
    const root = { ...base, identity: { id: 0, root: true, name: "root" } };
    expect(planMap(root).method).toBe("direct");
    expect(planMap(root).items[0]).toEqual({ inside: 0, outside: 4294967294, count: 1 });
    expect(planMap({ ...root, text: "0:0:1" }).items).toEqual([{ inside: 0, outside: 0, count: 1 }]);
  });
  test("a user with ranges goes through newuidmap", () => {
    const plan = planMap(base);
    expect(plan.method).toBe("helper");
    expect(plan.items).toHaveLength(2);
  });
  test("a user without ranges maps their own ID directly", () => {
    const plan = planMap({ ...base, subordinate: "" });
    expect(plan).toEqual({ kind: "UID", items: [{ inside: 0, outside: 1000, count: 1 }], method: "own" });
  });
  test("without newuidmap the default falls back, with a warning naming the package", () => {
    const plan = planMap({ ...base, helper: null });
    expect(plan.method).toBe("own");
    expect(plan.warning).toContain("uidmap package");
  });
  test("a custom map that needs newuidmap fails without it", () => {
    expect(() => planMap({ ...base, text: "0:1000:1,1:100000:5", helper: null })).toThrow("install the uidmap package");
  });
  test("a custom map onto undelegated IDs", () => {
    expect(() => planMap({ ...base, text: "0:0:1" })).toThrow("Cannot map onto IDs that are not delegated to you");
  });
  test("a malformed custom map", () => {
    expect(() => planMap({ ...base, text: "0:x:1" })).toThrow("Invalid UID map item '0:x:1'");
  });
});

describe("userName", () => {
  const passwd = "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
  test("by UID, or the UID itself", () => {
    expect(userName(passwd, 1000)).toBe("alice");
    expect(userName(passwd, 4242)).toBe("4242");
  });
});

describe("writeMaps", () => {
  const proc = mkdtempSync(join(tmpdir(), "contain-proc-"));
  afterAll(() => rmSync(proc, { recursive: true, force: true }));
  const files = (pid: number) => {
    mkdirSync(join(proc, String(pid)));
    for (const name of ["uid_map", "gid_map", "setgroups"]) writeFileSync(join(proc, String(pid), name), "");
    return (name: string) => readFileSync(join(proc, String(pid), name), "utf8");
  };
  test("root writes both maps and leaves setgroups alone", () => {
    const read = files(1);
    const items = [{ inside: 0, outside: 4294967294, count: 1 }];
    writeMaps(1, { kind: "UID", items, method: "direct" }, { kind: "GID", items, method: "direct" }, proc);
    expect(read("uid_map")).toBe("0 4294967294 1\n");
    expect(read("gid_map")).toBe("0 4294967294 1\n");
    expect(read("setgroups")).toBe("");
  });
  test("a user's own GID needs setgroups denied", () => {
    const read = files(2);
    const items = [{ inside: 0, outside: 1000, count: 1 }];
    writeMaps(2, { kind: "UID", items, method: "own" }, { kind: "GID", items, method: "own" }, proc);
    expect(read("setgroups")).toBe("deny");
    expect(read("gid_map")).toBe("0 1000 1\n");
  });
  test("a failed write names the map and keeps the errno text", () => {
    const items = [{ inside: 0, outside: 1000, count: 1 }];
    expect(() => writeMaps(3, { kind: "UID", items, method: "direct" }, { kind: "GID", items, method: "direct" }, proc)).toThrow(
      /^Failed to set container GID map: No such file or directory/,
    );
  });
});
