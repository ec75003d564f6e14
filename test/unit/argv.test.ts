import { describe, expect, test } from "bun:test";
import { splitArgv, usage } from "../../src/argv.ts";
import { command as contain, parseBind, parseEnv, parseMounts } from "../../src/cli/contain.ts";

const args = contain;

describe("splitArgv", () => {
  test("options end at DIR: CMD's flags stay CMD's", () => {
    expect(splitArgv(["-c", "dir", "/bin/ls", "-la", "-n"], args)).toEqual({
      options: { noConsole: true },
      operands: ["dir", "/bin/ls", "-la", "-n"],
      lists: {},
      given: [],
      help: false,
    });
  });
  test("grouped flags, attached and separate values", () => {
    expect(splitArgv(["-cn", "-u0:1000:1", "-g", "0:1000:1", "dir"], args).options).toEqual({
      noConsole: true,
      hostNetwork: true,
      uid: "0:1000:1",
      gid: "0:1000:1",
    });
  });
  test("-- ends options; - is an operand", () => {
    expect(splitArgv(["--", "-c"], args).operands).toEqual(["-c"]);
    expect(splitArgv(["-", "x"], args).operands).toEqual(["-", "x"]);
  });
  test("--no-* and long words are not ours to strip", () => {
    expect(splitArgv(["dir", "--no-color", "--"], args).operands).toEqual(["dir", "--no-color", "--"]);
  });
  test("help, unknown options, missing values", () => {
    expect(splitArgv(["-h", "dir"], args).help).toBe(true);
    expect(splitArgv(["dir", "-h"], args).help).toBe(false);
    expect(() => splitArgv(["-x", "dir"], args)).toThrow("unknown option -- 'x'");
    expect(() => splitArgv(["-u"], args)).toThrow("option requires an argument -- 'u'");
  });
  test("usage names every option", () => {
    const text = usage(contain, "contain");
    expect(text).toStartWith("Usage: contain [OPTIONS] DIR [CMD [ARG]...]\n");
    for (const flag of ["-c", "-C", "-g MAP", "-i CMD", "-n", "-o CMD", "-u MAP"]) expect(text).toContain(`  ${flag}`);
  });
});

describe("contain's repeated options", () => {
  test("-b, -t and -E keep every value, in command-line order", () => {
    const split = splitArgv(["-b", "/a:/x", "-t/t", "-E", "A=1", "-b/b:/y:ro", "-EB=2", "dir", "-b", "c"], args);
    expect(split.lists.env).toEqual(["A=1", "B=2"]);
    expect(parseMounts(split)).toEqual([
      { type: "bind", source: "/a", target: "/x", readonly: false },
      { type: "tmpfs", target: "/t" },
      { type: "bind", source: "/b", target: "/y", readonly: true },
    ]);
    expect(parseEnv(split.lists.env!)).toEqual({ A: "1", B: "2" });
    expect(split.operands).toEqual(["dir", "-b", "c"]);
  });
  test("malformed -b and -E", () => {
    for (const bad of ["/a", ":/x", "/a:", "/a:/x:rw", "/a:/x:ro:more"]) {
      expect(parseBind(bad)).toBe(`bad bind ${bad}: expected SRC:DST or SRC:DST:ro`);
    }
    for (const bad of ["A", "=1", ""]) expect(parseEnv([bad])).toBe(`bad environment variable ${bad}: expected NAME=VALUE`);
    expect(parseEnv(["A=", "A=b=c"])).toEqual({ A: "b=c" });
  });
});
