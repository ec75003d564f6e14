import { describe, expect, test } from "bun:test";
import { splitArgv, usage } from "../../src/argv.ts";
import { command as contain } from "../../src/cli/contain.ts";

const args = contain;

describe("splitArgv", () => {
  test("options end at DIR: CMD's flags stay CMD's", () => {
    expect(splitArgv(["-c", "dir", "/bin/ls", "-la", "-n"], args)).toEqual({
      options: { console: true },
      operands: ["dir", "/bin/ls", "-la", "-n"],
      lists: {},
      given: [],
      help: false,
    });
  });
  test("grouped flags, attached and separate values", () => {
    expect(splitArgv(["-cn", "-u0:1000:1", "-g", "0:1000:1", "dir"], args).options).toEqual({
      console: true,
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
    for (const flag of ["-c", "-g MAP", "-i CMD", "-n", "-o CMD", "-u MAP"]) expect(text).toContain(`  ${flag}`);
  });
});
