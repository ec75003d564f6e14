import { describe, expect, test } from "bun:test";
import { splitArgv } from "../../src/argv.ts";
import { normalUsers } from "../../src/autopkgtest.ts";
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
      network: true,
      debug: true,
    });
    expect(parseServerArgs(["--", "-odd-name"])).toMatchObject({ source: "-odd-name" });
    expect(parseServerArgs(["-d", "-h"])).toBe("help");
  });
  test("mistakes", () => {
    expect(() => parseServerArgs([])).toThrow("missing TARBALL or DIR");
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
});
