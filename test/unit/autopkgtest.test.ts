import { describe, expect, test } from "bun:test";
import { parseServerArgs, UsageError } from "../../src/autopkgtest.ts";

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
