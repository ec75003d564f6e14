import { describe, expect, test } from "bun:test";
import { longName, splitArgv, usage } from "../../src/argv.ts";
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
      version: false,
    });
  });
  test("grouped flags, attached and separate values", () => {
    expect(splitArgv(["-cn", "-u0:1000:1", "-g", "0:1000:1", "dir"], args).options).toEqual({
      noConsole: true,
      hostNetwork: true,
      uidMap: "0:1000:1",
      gidMap: "0:1000:1",
    });
  });
  test("long options: --name, --name=value and --name value, ending at DIR as the short ones do", () => {
    const split = splitArgv(
      ["--no-console", "--host-network", "--uid-map=0:1000:1", "--gid-map", "0:1000:1", "--ephemeral", "--workdir=/w", "--bind", "/a:/x", "--tmpfs=/t", "--env", "A=1", "--inside", "true", "--outside=true", "dir", "--bind", "c"],
      args,
    );
    expect(split.options).toEqual({
      noConsole: true,
      hostNetwork: true,
      uidMap: "0:1000:1",
      gidMap: "0:1000:1",
      ephemeral: true,
      workdir: "/w",
      bind: "/a:/x",
      tmpfs: "/t",
      env: "A=1",
      inside: "true",
      outside: "true",
    });
    expect(split.given.map(([name]) => name)).toEqual(["uidMap", "gidMap", "workdir", "bind", "tmpfs", "env", "inside", "outside"]);
    expect(split.operands).toEqual(["dir", "--bind", "c"]);
    expect(splitArgv(["--env=A=b=c", "--", "--dir"], args)).toMatchObject({ options: { env: "A=b=c" }, operands: ["--dir"] });
    expect(splitArgv(["--env=", "dir"], args).options).toEqual({ env: "" });
  });
  test("long options keep bytes that are not UTF-8", () => {
    const bytes = new Uint8Array([0x2d, 0x2d, 0x69, 0x6e, 0x73, 0x69, 0x64, 0x65, 0x3d, 0xff, 0xfe]);
    const value = new Uint8Array([0xff]);
    const split = splitArgv<Uint8Array>([bytes, new TextEncoder().encode("--outside"), value, new Uint8Array([0x64, 0xff])], args);
    expect(split.options.inside).toEqual(new Uint8Array([0xff, 0xfe]));
    expect(split.options.outside).toEqual(value);
    expect(split.operands).toEqual([new Uint8Array([0x64, 0xff])]);
  });
  test("-- ends options; - is an operand", () => {
    expect(splitArgv(["--", "-c"], args).operands).toEqual(["-c"]);
    expect(splitArgv(["-", "x"], args).operands).toEqual(["-", "x"]);
  });
  test("--no-* and long words are not ours to strip", () => {
    expect(splitArgv(["dir", "--no-color", "--"], args).operands).toEqual(["dir", "--no-color", "--"]);
  });
  test("help, version, unknown options, missing values, as GNU getopt words them", () => {
    expect(splitArgv(["-h", "dir"], args).help).toBe(true);
    expect(splitArgv(["-c", "--help", "dir"], args).help).toBe(true);
    expect(splitArgv(["--version"], args).version).toBe(true);
    expect(splitArgv(["dir", "-h"], args).help).toBe(false);
    expect(splitArgv(["dir", "--version"], args).version).toBe(false);
    expect(() => splitArgv(["-x", "dir"], args)).toThrow("invalid option -- 'x'");
    expect(() => splitArgv(["-u"], args)).toThrow("option requires an argument -- 'u'");
    expect(() => splitArgv(["--uid-map"], args)).toThrow("option '--uid-map' requires an argument");
    expect(() => splitArgv(["--ephemral", "dir"], args)).toThrow("unrecognized option '--ephemral'");
    expect(() => splitArgv(["--ephemeral=yes", "dir"], args)).toThrow("option '--ephemeral' doesn't allow an argument");
    expect(() => splitArgv(["--hostNetwork", "dir"], args)).toThrow("unrecognized option '--hostNetwork'");
  });
  test("a new option is one line of args, with or without a short name", () => {
    const extended = {
      meta: contain.meta,
      args: {
        ...contain.args,
        memory: { type: "string", valueHint: "BYTES", description: "limit memory" },
        forceConsole: { type: "boolean", alias: "C", description: "a console even without a terminal" },
      },
    } as const;
    expect(splitArgv(["--memory=1G", "-C", "--force-console", "dir"], extended).options).toEqual({ memory: "1G", forceConsole: true });
    const text = usage(extended, "contain");
    expect(text).toContain("      --memory BYTES       limit memory\n");
    expect(text).toContain("  -C, --force-console      a console even without a terminal\n");
  });
  test("an option's long name is its key in kebab-case", () => {
    expect(longName("hostNetwork")).toBe("host-network");
    expect(longName("noConsole")).toBe("no-console");
    expect(longName("bind")).toBe("bind");
  });
  test("usage names every option", () => {
    const text = usage(contain, "contain");
    expect(text).toStartWith("Usage: contain [OPTIONS] DIR [CMD [ARG]...]\n");
    for (const flag of ["-c, --no-console", "-C, --console", "-g, --gid-map MAP", "-i, --inside CMD", "-n, --host-network", "-o, --outside CMD", "-u, --uid-map MAP", "-h, --help", "    --version"]) {
      expect(text).toContain(`  ${flag}`);
    }
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
