// untar against the streams a hostile testbed could send copyup: each attack next to its
// control, host `tar` extracting the same stream as copyup used to (as root, --same-owner).
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { untar } from "../../src/untar.ts";
import { type Member, tarStream } from "../tar-stream.ts";

const root = process.getuid!() === 0;
const base = mkdtempSync(join(tmpdir(), "contain-untar-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

async function* chunks(bytes: Uint8Array, size = 700): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

/** A fresh place: `into` (empty, for the tree) beside `outside` (with a file in it). */
function place(): { into: string; outside: string } {
  const dir = mkdtempSync(join(base, "case-"));
  mkdirSync(join(dir, "into"));
  mkdirSync(join(dir, "outside"));
  writeFileSync(join(dir, "outside", "victim"), "host\n");
  return { into: join(dir, "into"), outside: join(dir, "outside") };
}

const owner: [number, number] = root ? [1234, 2345] : [process.getuid!(), process.getgid!()];
const extract = (into: string, members: Member[], style?: "long" | "pax") => untar(chunks(tarStream(members, style)), { into, owner, umask: 0o022 });

/** Host tar as copyup ran it as root: owners, modes and node types from the stream. */
function hostTar(into: string, members: Member[]) {
  const owners = root ? ["--same-owner", "--numeric-owner"] : ["--no-same-owner"];
  return Bun.spawnSync(["tar", "-x", "-p", "-f", "-", ...owners, "-C", into], { stdin: tarStream(members), stderr: "pipe" });
}

/** Everything under DIR, as "path type mode uid:gid". */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (relative: string) => {
    for (const name of readdirSync(join(dir, relative)).sort()) {
      const path = join(relative, name);
      const stat = lstatSync(join(dir, path));
      const type = stat.isDirectory() ? "d" : stat.isSymbolicLink() ? "l" : stat.isFile() ? "f" : "other";
      out.push(`${path} ${type} ${(stat.mode & 0o7777).toString(8)} ${stat.uid}:${stat.gid}`);
      if (type === "d") walk(path);
    }
  };
  walk("");
  return out;
}

describe("untar keeps the testbed from choosing host owners, special bits and file types", () => {
  const special: Member[] = [
    { name: "./", type: "5", mode: 0o3777 },
    { name: "./suid", mode: 0o4755, data: "#!/bin/sh\n" },
    { name: "./sgid", type: "5", mode: 0o2775, uid: 0, gid: 0 },
    { name: "./sgid/file", mode: 0o2666, uid: 7, gid: 8, data: "x" },
    { name: "./node", type: "3", mode: 0o666, major: 1, minor: 3 },
    { name: "./disk", type: "4", mode: 0o666, major: 8, minor: 0 },
    { name: "./fifo", type: "6", mode: 0o666 },
  ];

  test("setuid, setgid and sticky bits go, modes are masked, owners are the caller's; no nodes", async () => {
    const { into } = place();
    const result = await extract(into, special);
    expect(result).toEqual({ mode: 0o755, skipped: ["./node", "./disk", "./fifo"] });
    const ids = owner.join(":");
    expect(listing(into)).toEqual([`sgid d 755 ${ids}`, `sgid/file f 644 ${ids}`, `suid f 755 ${ids}`]);
  });

  test("the control: host tar extracting the same stream keeps the setuid bit (and, as root, makes the nodes)", () => {
    const { into } = place();
    // Not the block node of a disk, even in a private place; as a user, no nodes at all.
    const result = hostTar(into, special.filter((member) => member.type !== "4" && (root || member.type !== "3")));
    expect(result.exitCode).toBe(0);
    expect(statSync(join(into, "suid")).mode & 0o7000).toBe(0o4000);
    if (root) {
      expect(statSync(join(into, "suid")).uid).toBe(0);
      expect(lstatSync(join(into, "node")).isCharacterDevice()).toBe(true);
    }
    expect(lstatSync(join(into, "fifo")).isFIFO()).toBe(true);
  });

  const refused: [string, Member[], RegExp][] = [
    ["an absolute name", [{ name: "/etc/evil", data: "x" }], /absolute name/],
    ["a name with ..", [{ name: "./../outside/evil", data: "x" }], /with \.\./],
    ["a write through a planted symbolic link", [{ name: "l", type: "2", link: "../outside" }, { name: "l/evil", data: "x" }], /l is a symlink/],
    ["a write through an absolute link", [{ name: "l", type: "2", link: "/" }, { name: "l/tmp/evil", data: "x" }], /l is a symlink/],
    ["a file over a planted link", [{ name: "l", type: "2", link: "../outside/victim" }, { name: "l", data: "x" }], /comes twice/],
    ["a hard link to a host file", [{ name: "h", type: "1", link: "/etc/passwd" }], /absolute name/],
    ["a hard link out with ..", [{ name: "h", type: "1", link: "../outside/victim" }], /with \.\./],
    ["a hard link through a link", [{ name: "l", type: "2", link: "../outside" }, { name: "h", type: "1", link: "l/victim" }], /not a file in the copy/],
    ["a hard link to a link", [{ name: "l", type: "2", link: "../outside/victim" }, { name: "h", type: "1", link: "l" }], /not a file in the copy/],
    ["a long name with ..", [{ name: `${"d/".repeat(60)}../../${"../".repeat(60)}outside/evil`, data: "x" }], /with \.\./],
    ["a member of an unknown type", [{ name: "s", type: "S" }], /member type "S"/],
  ];
  for (const [what, members, message] of refused) {
    test(`refuses ${what}, writing nothing outside`, async () => {
      const { into, outside } = place();
      await expect(extract(into, members)).rejects.toThrow(message);
      await extract(into, members).catch(() => {});
      expect(readdirSync(outside)).toEqual(["victim"]);
      expect(readFileSync(join(outside, "victim"), "utf8")).toBe("host\n");
      // The link itself may have been made, inside, before the member that used it.
      for (const entry of listing(into)) expect(entry).toMatch(/^l l /);
    });
  }

  test("a pax path with .. is refused too", async () => {
    const { into } = place();
    const members = [{ name: `${"a".repeat(120)}/../../outside/evil`, data: "x" }];
    await expect(extract(into, members, "pax")).rejects.toThrow(/with \.\./);
  });

  test("a bad checksum, and a stream cut short, are refused", async () => {
    const { into } = place();
    const stream = tarStream([{ name: "f", data: "x" }]);
    stream[0] = "g".charCodeAt(0);
    await expect(untar(chunks(stream), { into, umask: 0 })).rejects.toThrow(/bad checksum/);
    const cut = tarStream([{ name: "f", data: "x".repeat(2000) }]).subarray(0, 1024);
    await expect(untar(chunks(cut), { into: place().into, umask: 0 })).rejects.toThrow(/ends inside a member/);
  });

  test("what GNU tar writes comes through: long names, links, hard links, empty and closed directories", async () => {
    const { into } = place();
    const source = join(into, "..", "source");
    const long = `${"long-".repeat(30)}name`;
    mkdirSync(join(source, "empty"), { recursive: true });
    mkdirSync(join(source, "closed"));
    writeFileSync(join(source, "closed", long), "deep\n");
    writeFileSync(join(source, "file"), "data\n", { mode: 0o640 });
    Bun.spawnSync(["ln", "-s", "file", join(source, "link")]);
    Bun.spawnSync(["ln", "-s", "/etc/passwd", join(source, "absolute")]);
    Bun.spawnSync(["ln", join(source, "file"), join(source, "hard")]);
    Bun.spawnSync(["chmod", "500", join(source, "closed")]);
    const stream = Bun.spawnSync(["tar", "-c", "-f", "-", "-C", source, "."]).stdout;
    const result = await untar(chunks(new Uint8Array(stream), 4096), { into, owner, umask: 0o027 });
    expect(result).toEqual({ mode: 0o750, skipped: [] });
    const ids = owner.join(":");
    expect(listing(into)).toEqual([
      `absolute l 777 ${ids}`,
      `closed d 500 ${ids}`,
      `closed/${long} f 640 ${ids}`,
      `empty d 750 ${ids}`,
      `file f 640 ${ids}`,
      `hard f 640 ${ids}`,
      `link l 777 ${ids}`,
    ]);
    expect(readFileSync(join(into, "closed", long), "utf8")).toBe("deep\n");
    expect(readlinkSync(join(into, "absolute"))).toBe("/etc/passwd");
    expect(statSync(join(into, "hard")).ino).toBe(statSync(join(into, "file")).ino);
    expect(existsSync(join(into, "..", "outside", "victim"))).toBe(true);
    for (const dir of [into, source]) chmodSync(join(dir, "closed"), 0o700);
  });
});
