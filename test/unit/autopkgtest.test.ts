import { describe, expect, test } from "bun:test";
import { splitArgv } from "../../src/argv.ts";
import { normalUsers, oneLine, sbuildCache, sbuildTarball } from "../../src/autopkgtest.ts";
import { command, serverOptions } from "../../src/cli/autopkgtest-virt-contain.ts";

/** The server's argv as its command reads it: options, or the first usage problem. */
function parseServerArgs(argv: string[]) {
  const split = splitArgv(argv, command);
  if (split.help) return "help";
  const options = serverOptions(split);
  if (typeof options === "string") throw new Error(options);
  return options;
}

describe("autopkgtest-virt-contain arguments", () => {
  test("options, binds and the source", () => {
    expect(parseServerArgs(["-d", "--network", "-b", "/srv", "/mnt/srv", "--bind", "a", "/b", "root.tar"])).toEqual({
      source: "root.tar",
      binds: [
        ["/srv", "/mnt/srv"],
        ["a", "/b"],
      ],
      network: "host",
      debug: true,
      prefix: undefined,
      unpackDir: undefined,
    });
    expect(parseServerArgs(["--", "-odd-name"])).toMatchObject({ source: "-odd-name" });
    // autopkgtest-virt-unshare's options, and the network's three choices.
    expect(parseServerArgs(["-t", "/c/bookworm.tar", "-p", "/var/tmp/at-", "-u", "/var/tmp/unpacked", "-d"])).toMatchObject({
      source: "/c/bookworm.tar",
      prefix: "/var/tmp/at-",
      unpackDir: "/var/tmp/unpacked",
      network: "auto",
    });
    expect(parseServerArgs(["--tarball=x.tar", "--unpack-dir", "u", "--prefix=p"])).toMatchObject({ source: "x.tar", prefix: "p", unpackDir: "u" });
    expect(parseServerArgs(["-r", "bookworm", "-a", "amd64"])).toMatchObject({ source: "" });
    expect(parseServerArgs(["--no-network", "dir"])).toMatchObject({ network: "none" });
    expect(parseServerArgs(["-n", "dir"])).toMatchObject({ network: "host" });
    expect(parseServerArgs(["-d", "-h"])).toBe("help");
  });
  test("mistakes", () => {
    expect(() => parseServerArgs(["-t", "a.tar", "b.tar"])).toThrow("-t TARBALL and an operand TARBALL|DIR: give one");
    expect(() => parseServerArgs(["-n", "--no-network", "dir"])).toThrow("--network and --no-network: give one");
    expect(() => parseServerArgs(["-t"])).toThrow("option requires an argument -- 't'");
    expect(() => parseServerArgs(["a", "b"])).toThrow("too many operands");
    expect(() => parseServerArgs(["-b", "/srv", "relative", "dir"])).toThrow("must be an absolute path");
    expect(() => parseServerArgs(["-b", "/srv"])).toThrow("option requires an argument -- 'b'");
    expect(() => parseServerArgs(["--bind=/srv"])).toThrow("option '--bind' requires an argument");
    expect(() => parseServerArgs(["-q", "dir"])).toThrow("invalid option -- 'q'");
    expect(() => parseServerArgs(["--quiet", "dir"])).toThrow("unrecognized option '--quiet'");
  });
});

test("suggested normal users: UIDs 1000 to 59999 with a home", () => {
  const passwd = ["root:x:0:0:root:/root:/bin/bash", "test:x:1000:1000::/home/test:/bin/sh", "nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin", "svc:x:1001:1001::/var/lib/svc:/bin/false", ""];
  expect(normalUsers(passwd.join("\n"))).toEqual(["test"]);
  // A name that would add words to the capabilities reply is no suggestion.
  const odd = ["a b:x:1002:1002::/home/a:/bin/sh", "c\rok:x:1003:1003::/home/c:/bin/sh", "machine$:x:1004:1004::/home/m:/bin/sh"];
  expect(normalUsers(odd.join("\n"))).toEqual(["machine$"]);
});

test("a reply is one line, whatever its message holds", () => {
  expect(oneLine("plain `text' with spaces")).toBe("plain `text' with spaces");
  expect(oneLine("failed: x\nok /bin/forged")).toBe("failed: x\\nok /bin/forged");
  expect(oneLine("a\rb\tc\u0000d\u001be\u007ff\u0085g\u2028h")).toBe("a\\rb\\tc\\x00d\\x1be\\x7ff\\x85g\\u2028h");
});

test("sbuild's tarball without -t: RELEASE-ARCH.t* in $XDG_CACHE_HOME/sbuild, the first by name", () => {
  expect(sbuildCache({ XDG_CACHE_HOME: "/x/cache", HOME: "/home/u" })).toBe("/x/cache/sbuild");
  expect(sbuildCache({ HOME: "/home/u" })).toBe("/home/u/.cache/sbuild");
  const names = ["trixie-amd64.tar.zst", "bookworm-arm64.tar", "bookworm-amd64.tar.gz", "bookworm-amd64.tar", "notes.txt"];
  expect(sbuildTarball(names, "*", "*")).toBe("bookworm-amd64.tar");
  expect(sbuildTarball(names, "trixie", "*")).toBe("trixie-amd64.tar.zst");
  expect(sbuildTarball(names, "*", "arm64")).toBe("bookworm-arm64.tar");
  expect(sbuildTarball(names, "sid", "*")).toBeUndefined();
});
