// The start-up economies that the README's figures rest on, held as tests rather than
// comments: one added call on the way to CMD would otherwise undo them unnoticed.
// - No JIT tier compiles anything on pseudo's and `contain -c`'s way, as root or as a user: every
//   function of ours runs fewer times than JSC's threshold (0.7 ms and 1.4 MB when one does).
// - The command bundles load neither node:path (1.5 MB) nor process.stderr (7 ms):
//   messages go out through one native write.
import { describe, expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bun, busyboxFixture, cli, repo, type Runner, runners, testIf } from "./helpers.ts";

const JIT_REPORTS = { BUN_JSC_reportBaselineCompileTimes: "1", BUN_JSC_reportDFGCompileTimes: "1" };

/** What JSC says it compiled while `tool args` ran, one line per compilation. */
function compiled(runner: Runner, tool: "contain" | "pseudo", args: string[]): { status: number | null; lines: string[] } {
  const result = Bun.spawnSync([...runner.prefix, bun, cli(tool), ...args], {
    cwd: "/tmp",
    stdin: "ignore",
    env: { ...process.env, ...JIT_REPORTS },
  });
  const lines = result.stderr.toString().split("\n").filter((line) => line.startsWith("Optimized "));
  return { status: result.exitCode, lines };
}

describe("start-up economies", () => {
  for (const runner of runners) {
    describe(`as ${runner.name}`, () => {
      testIf(runner.reason, "pseudo /bin/true compiles nothing", () => {
        expect(compiled(runner, "pseudo", ["/bin/true"])).toEqual({ status: 0, lines: [] });
      });
      const fixture = busyboxFixture(runner);
      testIf(fixture.reason, "contain -c DIR /bin/true compiles nothing", () => {
        expect(compiled(runner, "contain", ["-c", fixture.root, "/bin/true"])).toEqual({ status: 0, lines: [] });
      });
    });
  }

  // The control: the same report does name a function that runs past the threshold.
  testIf(null, "the JIT report names a function that runs often", () => {
    const script = "function twice(x) { return x * 2 } let s = 0; for (let i = 0; i < 1e5; i++) s += twice(i);";
    const result = Bun.spawnSync([bun, "-e", script], { env: { ...process.env, ...JIT_REPORTS } });
    expect(result.stderr.toString()).toContain("Optimized twice");
  });

  for (const tool of ["contain", "inject", "pseudo"]) {
    testIf(null, `dist/${tool}.js loads neither node:path nor process.stderr`, () => {
      const bundle = readFileSync(join(repo, "dist", `${tool}.js`), "utf8");
      expect(bundle).not.toMatch(/["'](node:)?path["']/);
      expect(bundle).not.toContain("process.stderr");
    });
  }
});
