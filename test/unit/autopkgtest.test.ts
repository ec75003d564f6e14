import { describe, expect, test } from "bun:test";
import { normalUsers, parseServerArgs, UsageError } from "../../src/autopkgtest.ts";

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
    expect(() => parseServerArgs([])).toThrow(UsageError);
    expect(() => parseServerArgs(["a", "b"])).toThrow("too many operands");
    expect(() => parseServerArgs(["-b", "/srv", "relative", "dir"])).toThrow("must be an absolute path");
    expect(() => parseServerArgs(["-b", "/srv"])).toThrow("needs OUTSIDE and INSIDE");
    expect(() => parseServerArgs(["-q", "dir"])).toThrow("unknown option -q");
  });
});

test("suggested normal users: UIDs 1000 to 59999 with a home", () => {
  const passwd = ["root:x:0:0:root:/root:/bin/bash", "test:x:1000:1000::/home/test:/bin/sh", "nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin", "svc:x:1001:1001::/var/lib/svc:/bin/false", ""];
  expect(normalUsers(passwd.join("\n"))).toEqual(["test"]);
});
