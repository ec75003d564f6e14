// runDoctor with injected identities, PATH and subordinate ID files: what it makes of them,
// not whether this host has problems. The simulations check for a made-up user, so they
// need no test user.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Check, doctorStatus, formatDoctor, runDoctor } from "../src/doctor.ts";

const dir = mkdtempSync(join(tmpdir(), "contain-doctor-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const identity = { uid: 4242, name: "doctor-test" };
const entries = `${identity.name}:300000:65536\n`;
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const find = (checks: Check[], name: string) => {
  const check = checks.find((item) => item.name === name);
  if (check === undefined) throw new Error(`no ${name} check in:\n${formatDoctor(checks)}`);
  return check;
};

describe("runDoctor", () => {
  test("for root, the helpers and subordinate ranges are information only, and pseudo's map is explained", () => {
    const empty = mkdtempSync(join(dir, "path-"));
    const none = file("subuid-none", "");
    const checks = runDoctor({ path: empty, subuid: none, subgid: none, identity: { uid: 0, name: "root" } });
    for (const name of ["newuidmap", "newgidmap", "subuid", "subgid", "pseudo"]) expect(find(checks, name).status).toBe("info");
    expect(find(checks, "newuidmap").detail).toContain("not needed as root");
    expect(find(checks, "pseudo").fix).toMatch(/^to act as host root on them, map container root onto it: pseudo -u 0:0:\d+ -g 0:0:\d+ CMD$/);
    // The status follows the checks alone: a fail makes it 1 whatever the rest.
    expect(doctorStatus(checks)).toBe(checks.some((check) => check.status === "fail") ? 1 : 0);
  });

  test("every check is there, one line each", () => {
    const checks = runDoctor();
    // "root map" explains root's default map, and is there only for root.
    const rootOnly = process.getuid!() === 0 ? ["root map"] : [];
    const names = ["native library", "user namespaces", "namespace kinds", "apparmor", "seccomp", "newuidmap", "newgidmap", "subuid", "subgid", "devpts", "tiocsti", ...rootOnly, "cgroup2", "private network", "pseudo"];
    expect(checks.map((check) => check.name)).toEqual(names);
    const lines = formatDoctor(checks).split("\n");
    expect(lines.filter((line) => !line.startsWith("      fix: "))).toHaveLength(names.length);
  });

  test("a user without newuidmap on PATH is told to install uidmap", () => {
    const empty = mkdtempSync(join(dir, "path-"));
    const subuid = file("subuid-with", entries);
    const subgid = file("subgid-with", entries);
    const checks = runDoctor({ path: empty, subuid, subgid, identity });
    for (const name of ["newuidmap", "newgidmap"]) {
      const check = find(checks, name);
      expect(check.status).toBe("warn");
      expect(check.detail).toContain("not found");
      expect(check.fix).toContain("apt-get install uidmap");
    }
    expect(find(checks, "subuid").status).toBe("ok");
    expect(formatDoctor(checks)).toContain("warn  newuidmap: not found");
  });

  test("a user without an entry in /etc/subuid is told to add one", () => {
    const subuid = file("subuid-without", "someone-else:100000:65536\n");
    const subgid = file("subgid-with-2", entries);
    const checks = runDoctor({ subuid, subgid, identity });
    const check = find(checks, "subuid");
    expect(check.status).toBe("warn");
    expect(check.detail).toContain(`no entry for ${identity.name} (UID ${identity.uid}) in ${subuid}`);
    expect(check.fix).toBe(`usermod --add-subuids 165536-231071 ${identity.name}`);
    expect(find(checks, "subgid").status).toBe("ok");
    expect(formatDoctor(checks)).toContain(`      fix: usermod --add-subuids 165536-231071 ${identity.name}`);
  });
});
