// Arguments and environment that are not UTF-8 pass through the CLIs as bytes, as the
// original's do, as root and as the unprivileged test user. A shell makes the bytes,
// since a JS string cannot hold them.
import { describe, expect } from "bun:test";
import { bun, busyboxFixture, cli, runners, testIf, type Runner } from "./helpers.ts";

/** Runs `script` in sh as `runner`, with $BUN, $PSEUDO and $CONTAIN naming the CLI. */
function shell(runner: Runner, script: string, env: Record<string, string> = {}): { status: number; stdout: string; stderr: string } {
  const result = Bun.spawnSync([...runner.prefix, "sh", "-c", script], {
    cwd: "/tmp",
    stdin: "ignore",
    env: { ...process.env, PATH: "/usr/bin:/bin:/usr/sbin:/sbin", BUN: bun, PSEUDO: cli("pseudo"), CONTAIN: cli("contain"), ...env },
  });
  return { status: result.exitCode ?? 128, stdout: result.stdout.toString().trim(), stderr: result.stderr.toString() };
}

const hex = "od -An -tx1 | tr -s ' \\n' ' '";

for (const runner of runners) {
  describe(`bytes as ${runner.name}`, () => {
    testIf(runner.reason, "pseudo passes argv bytes on", () => {
      // Control: the shell itself makes these bytes.
      expect(shell(runner, `printf %s "$(printf '\\377\\376')" | ${hex}`).stdout).toBe("ff fe");
      expect(shell(runner, `"$BUN" "$PSEUDO" printf %s "$(printf '\\377\\376')" | ${hex}`).stdout).toBe("ff fe");
      // Options end where they should, and what follows stays bytes.
      const mapped = shell(runner, `"$BUN" "$PSEUDO" -u "0:$(id -u):1" -g "0:$(id -g):1" -- printf %s "$(printf 'a\\200')" | ${hex}`);
      expect(mapped.stdout).toBe("61 80");
    });

    testIf(runner.reason, "pseudo passes environment bytes on, names and values", () => {
      const value = shell(runner, `X="$(printf 'a\\377b')" "$BUN" "$PSEUDO" sh -c 'printf %s "$X"' | ${hex}`);
      expect(value.stdout).toBe("61 ff 62");
      // A name that is not UTF-8, which Bun leaves out of process.env: env passes it.
      const name = shell(runner, `env "$(printf 'N\\376')=1" "$BUN" "$PSEUDO" cat /proc/self/environ | tr '\\0' '\\n' | grep -c "^$(printf 'N\\376')=1$"`);
      expect(name.stdout).toBe("1");
    });
  });

  describe(`contain bytes as ${runner.name}`, () => {
    const { reason, root } = busyboxFixture(runner);
    testIf(reason, "contain passes DIR, CMD and helper bytes on", () => {
      const script = [
        `link="$ROOT$(printf '\\377')"`,
        `ln -s "$ROOT" "$link"`,
        `"$BUN" "$CONTAIN" -c -o "$(printf 'printf %%s \\375 >&2')" "$link" /bin/echo "$(printf '\\376')" 2>/tmp/$$.err | ${hex}`,
        `cat /tmp/$$.err | ${hex}`,
        `rm -f "$link" /tmp/$$.err`,
      ].join("; ");
      const result = shell(runner, script, { ROOT: root });
      expect(result.stdout.split(/\s+/)).toEqual(["fe", "0a", "fd"]);
    });

    testIf(reason, "inject passes argv and environment bytes on", async () => {
      const container = Bun.spawn([...runner.prefix, bun, cli("contain"), "-c", root, "/bin/sh", "-c", "echo ready; exec sleep 1000"], {
        stdout: "pipe",
      });
      await container.stdout.getReader().read();
      const script = `X="$(printf '\\377')" "$BUN" "$INJECT" ${container.pid} /bin/sh -c 'printf %s "$1$X"' sh "$(printf '\\376')" | ${hex}`;
      const result = shell(runner, script, { INJECT: cli("inject") });
      container.kill("SIGKILL");
      await container.exited;
      expect(result.stdout).toBe("fe ff");
    });
  });
}
