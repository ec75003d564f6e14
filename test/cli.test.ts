// The commands' habits, as root and as the test user: long options for every option,
// --help and --version on every command, and a usage error of one line and a pointer to
// --help (GNU's shape), with status 64.
import { describe, expect } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bun, busyboxFixture, cli as cliOf, repo, runners, scratch, shellStatus, testIf } from "./helpers.ts";

const version = (await Bun.file(join(repo, "package.json")).json()).version as string;
const tools = ["contain", "inject", "pseudo", "autopkgtest-virt-contain"] as const;

for (const runner of runners) {
  describe(`the commands as ${runner.name}`, () => {
    const cli = (tool: (typeof tools)[number], args: string[]) => {
      const result = Bun.spawnSync([...runner.prefix, bun, cliOf(tool), ...args], {
        cwd: "/tmp",
        stdin: "ignore",
        env: { ...process.env, PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" },
      });
      return { status: shellStatus(result.exitCode, result.signalCode), stdout: result.stdout.toString(), stderr: result.stderr.toString() };
    };

    testIf(runner.reason, "--help, -h and --version on every command", () => {
      for (const tool of tools) {
        for (const flag of ["--help", "-h"]) {
          const help = cli(tool, [flag]);
          expect(help.stderr).toBe("");
          expect(help.stdout).toStartWith(`Usage: ${tool} [OPTIONS] `);
          expect(help.stdout).toContain("  -h, --help ");
          expect(help.status).toBe(0);
        }
        expect(cli(tool, ["--version"])).toEqual({ status: 0, stdout: `${tool} (bun-contain) ${version}\n`, stderr: "" });
      }
      const help = cli("contain", ["--help"]).stdout;
      for (const option of ["--bind SRC:DST[:ro]", "--tmpfs DST", "--ephemeral", "--workdir DIR", "--env NAME=VALUE", "--host-network", "--no-console", "--uid-map MAP", "--gid-map MAP", "--inside CMD", "--outside CMD"]) {
        expect(help).toContain(option);
      }
      expect(cli("pseudo", ["--help"]).stdout).toContain("-u, --uid-map MAP");
      expect(cli("autopkgtest-virt-contain", ["--help"]).stdout).toContain("-b, --bind OUTSIDE INSIDE");
    });

    testIf(runner.reason, "a usage error is one line and a pointer to --help, status 64", () => {
      const cases: [(typeof tools)[number], string[], string][] = [
        ["contain", ["-x", "dir"], "invalid option -- 'x'"],
        ["contain", ["--ephemral", "dir"], "unrecognized option '--ephemral'"],
        ["contain", ["--bind"], "option '--bind' requires an argument"],
        ["contain", ["--no-console=yes", "dir"], "option '--no-console' doesn't allow an argument"],
        ["contain", [], "missing DIR"],
        ["inject", ["--pid", "1"], "unrecognized option '--pid'"],
        ["inject", ["one"], "PID must be a number"],
        ["pseudo", ["--gid-map"], "option '--gid-map' requires an argument"],
        ["autopkgtest-virt-contain", ["--bind", "/a"], "option '--bind' requires an argument"],
      ];
      for (const [tool, args, message] of cases) {
        expect(cli(tool, args)).toEqual({ status: 64, stdout: "", stderr: `${tool}: ${message}\nTry '${tool} --help' for more information.\n` });
      }
    });

    const fixture = busyboxFixture(runner);
    testIf(fixture.reason, "contain's long options do what the short ones do", () => {
      const [source, done] = scratch(runner);
      try {
        // Readable by container root, who is not host root (a read-only bind is not ID-mapped).
        chmodSync(source, 0o755);
        writeFileSync(join(source, "marker"), "bound\n");
        const script = 'echo "$A $B"; pwd; cat /b/marker; echo x > /t/x && cat /t/x; echo y > /y && cat /y; readlink /proc/self/ns/net';
        const result = cli("contain", [
          "--no-console", "--ephemeral", "--env", "A=1", "--env=B=2", "--workdir=/bin", "--bind", `${source}:/b:ro`, "--tmpfs=/t",
          "--host-network", "--inside", "true", "--outside=true", fixture.root, "/bin/sh", "-c", script,
        ]);
        expect(result.stderr).toBe("");
        const netns = Bun.spawnSync(["readlink", "/proc/self/ns/net"]).stdout.toString();
        expect(result.stdout).toBe(`1 2\n/bin\nbound\nx\ny\n${netns}`);
        expect(result.status).toBe(0);
        // --ephemeral: DIR was not written.
        expect(Bun.spawnSync(["test", "-e", join(fixture.root, "y")]).exitCode).toBe(1);
      } finally {
        done();
      }
    });

    testIf(runner.reason, "pseudo's --uid-map and --gid-map", () => {
      const uid = runner.uid === 0 ? 0 : runner.uid;
      const gid = runner.gid === 0 ? 0 : runner.gid;
      const result = cli("pseudo", [`--uid-map=5:${uid}:1`, "--gid-map", `7:${gid}:1`, "sh", "-c", "id -u; id -g"]);
      expect(result.stderr).toBe("");
      expect(result.stdout).toBe("5\n7\n");
    });
  });
}
