import { describe, expect, test } from "bun:test";
import { splitArgv } from "../../src/argv.ts";
import { normalUsers, oneLine } from "../../src/autopkgtest.ts";
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
  // A name that would add words to the capabilities reply is no suggestion.
  const odd = ["a b:x:1002:1002::/home/a:/bin/sh", "c\rok:x:1003:1003::/home/c:/bin/sh", "machine$:x:1004:1004::/home/m:/bin/sh"];
  expect(normalUsers(odd.join("\n"))).toEqual(["machine$"]);
});

test("a reply is one line, whatever its message holds", () => {
  expect(oneLine("plain `text' with spaces")).toBe("plain `text' with spaces");
  expect(oneLine("failed: x\nok /bin/forged")).toBe("failed: x\\nok /bin/forged");
  expect(oneLine("a\rb\tc\u0000d\u001be\u007ff\u0085g\u2028h")).toBe("a\\rb\\tc\\x00d\\x1be\\x7ff\\x85g\\u2028h");
});
