// --network private: a network of the container's own that reaches out through pasta, keeps
// the host's loopback services out of reach, publishes the ports asked for, and ends with
// the container, however contain ends. The only outside name reachable here is the Debian
// archive (deb.debian.org, port 80).
import { afterAll, describe, expect } from "bun:test";
import { accessSync, chownSync, constants, existsSync, readdirSync, readFileSync } from "node:fs";
import { bun, busyboxFixture, cli, run, runners, scratch, testIf, type Runner } from "./helpers.ts";

const PASTA = Bun.which("pasta", { PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" });
const pastaReason = PASTA === null ? "pasta is not installed (package passt; run scripts/setup.sh as root)" : null;
/** Where scripts/setup.sh leaves a Debian root (mmdebstrap --variant=apt bookworm). */
const DEBIAN_TARBALL = process.env.CONTAIN_DEBIAN_TARBALL ?? "/var/cache/contain-test/bookworm-apt.tar";
const RELEASE = "http://deb.debian.org/debian/dists/bookworm/Release";

/** Why a user's pasta cannot run here: it opens /dev/net/tun. */
function tunReason(runner: Runner): string | null {
  if (runner.name === "root") return null;
  const check = Bun.spawnSync([...runner.prefix, "test", "-r", "/dev/net/tun", "-a", "-w", "/dev/net/tun"]);
  return check.exitCode === 0 ? null : "/dev/net/tun is not usable by the test user (scripts/setup.sh as root opens it)";
}

/** The host PIDs of the pasta processes whose parent is `parent`. */
function pastas(parent: number): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        return ppid === parent && readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]!.endsWith("pasta");
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function until(check: () => boolean, tries = 500): Promise<void> {
  for (let tried = 0; tried < tries && !check(); tried++) await Bun.sleep(10);
}

/** Reads what the host gets from 127.0.0.1:`port`, or "" when nothing answers. */
async function fetchPort(port: number): Promise<string> {
  const { promise, resolve } = Promise.withResolvers<string>();
  let text = "";
  try {
    await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(_, data) {
          text += data.toString();
        },
        close() {
          resolve(text);
        },
        error() {
          resolve(text);
        },
      },
    });
  } catch {
    return "";
  }
  return await Promise.race([promise, Bun.sleep(3000).then(() => text)]);
}

for (const runner of runners) {
  describe(`--network private, as ${runner.name}`, () => {
    const { reason: rootReason, root } = busyboxFixture(runner);
    const reason = rootReason ?? pastaReason ?? tunReason(runner);

    testIf(reason, "CMD reaches deb.debian.org by name, with a resolver that pasta serves", () => {
      const result = run(runner, "contain", [
        "-c", "-e", "--network", "private", root,
        "/bin/sh", "-c", `cat /etc/resolv.conf; wget -q -O - ${RELEASE} | head -n 2`,
      ]);
      expect(result.stderr).toBe("");
      expect(result.stdout).toStartWith("nameserver 169.254.1.1\n");
      expect(result.stdout).toContain("Origin: Debian\n");
      expect(result.status).toBe(0);
    });

    testIf(reason, "a service on the host's 127.0.0.1 is out of reach, as -n reaches it", async () => {
      const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (socket) => void socket.end("host\n"), data() {} } });
      try {
        const script = `nc -w 2 127.0.0.1 ${server.port} </dev/null && echo reached || echo refused`;
        const isolated = Bun.spawn([...runner.prefix, bun, cli("contain"), "-c", "-e", "--network", "private", root, "/bin/sh", "-c", script], {
          stdout: "pipe", stderr: "pipe",
        });
        // The control: through the host's network, the same command reaches it.
        const shared = Bun.spawn([...runner.prefix, bun, cli("contain"), "-c", "-e", "-n", root, "/bin/sh", "-c", script], { stdout: "pipe", stderr: "pipe" });
        const [privateOut, hostOut] = await Promise.all([new Response(isolated.stdout).text(), new Response(shared.stdout).text()]);
        expect(hostOut).toBe("host\nreached\n");
        expect(privateOut).toBe("refused\n");
        expect(await isolated.exited).toBe(0);
      } finally {
        server.stop(true);
      }
    });

    testIf(reason, "-p publishes a port of the container on the host's 127.0.0.1", async () => {
      const port = 20000 + Math.floor(Math.random() * 10000);
      const contain = Bun.spawn(
        [
          ...runner.prefix, bun, cli("contain"), "-c", "-e", "--network", "private", "-p", `127.0.0.1:${port}:8080`, root,
          "/bin/sh", "-c", "echo ready; echo served | nc -l -p 8080",
        ],
        { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
      );
      try {
        const first = await contain.stdout.getReader().read();
        expect(new TextDecoder().decode(first.value)).toBe("ready\n");
        // pasta answers at once and then connects inside, where nc may not listen yet.
        let got = "";
        for (let tries = 0; tries < 50 && got === ""; tries++) {
          got = await fetchPort(port);
          if (got === "") await Bun.sleep(50);
        }
        expect(got).toBe("served\n");
        expect(await contain.exited).toBe(0);
      } finally {
        contain.kill("SIGKILL");
      }
    });

    testIf(reason, "pasta is gone once contain is killed with SIGKILL", async () => {
      const contain = Bun.spawn(
        [...runner.prefix, bun, cli("contain"), "-c", "-e", "--network", "private", root, "/bin/sh", "-c", "echo ready; exec sleep 60"],
        { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
      );
      const first = await contain.stdout.getReader().read();
      expect(new TextDecoder().decode(first.value)).toBe("ready\n");
      const running = pastas(contain.pid);
      // The control: it runs, a child of contain, while the container does.
      expect(running).toHaveLength(1);
      contain.kill("SIGKILL");
      await contain.exited;
      await until(() => !existsSync(`/proc/${running[0]}`));
      expect(existsSync(`/proc/${running[0]}`)).toBe(false);
    });

    testIf(reason, "pasta is gone once the container ends by itself", () => {
      const result = run(runner, "contain", ["-c", "-e", "--network", "private", root, "/bin/true"]);
      expect(result).toEqual({ status: 0, stdout: "", stderr: "" });
      // Our contain has ended, and none of its pasta processes can outlive it unreaped:
      // they would show here as orphans of init.
      expect(pastas(1)).toEqual([]);
    });

    testIf(rootReason, "a missing pasta is one line that names the package", () => {
      const result = Bun.spawnSync([...runner.prefix, "env", "PATH=/nonexistent", bun, cli("contain"), "-c", "--network", "private", root, "/bin/true"]);
      expect(result.stderr.toString()).toBe(
        "contain: Failed to start pasta for the private network: pasta was not found on PATH (install the Debian package passt)\n",
      );
      expect(result.exitCode).toBe(125);
    });

    testIf(rootReason, "bad network options are usage errors", () => {
      const bad = run(runner, "contain", ["--network", "bridge", root]);
      expect(bad.stderr).toStartWith("contain: bad network bridge: expected none, host or private\nTry 'contain --help' for more information.\n");
      expect(bad.status).toBe(64);
      const orphan = run(runner, "contain", ["-p", "8080:80", root]);
      expect(orphan.stderr).toStartWith("contain: -p needs --network private\nTry 'contain --help' for more information.\n");
      expect(orphan.status).toBe(64);
      const port = run(runner, "contain", ["--network", "private", "-p", "80", root]);
      expect(port.stderr).toStartWith("contain: bad port 80: expected [HOSTIP:]HOSTPORT:PORT[/udp]\nTry 'contain --help' for more information.\n");
      const both = run(runner, "contain", ["-n", "--network=private", root]);
      expect(both.stderr).toStartWith("contain: -n conflicts with --network private\nTry 'contain --help' for more information.\n");
    });
  });

  describe(`apt-get update in a Debian root, as ${runner.name}`, () => {
    let tarReason: string | null = existsSync(DEBIAN_TARBALL) ? null : `no Debian root at ${DEBIAN_TARBALL} (run scripts/setup.sh as root)`;
    if (tarReason === null) {
      try {
        if (runner.name === "user") accessSync(DEBIAN_TARBALL, constants.R_OK);
      } catch {
        tarReason = `${DEBIAN_TARBALL} is not readable`;
      }
    }
    const reason = runner.reason ?? pastaReason ?? tunReason(runner) ?? tarReason;
    let dir = "";
    if (reason === null) {
      const [made, done] = scratch(runner);
      dir = made;
      if (runner.name === "root") chownSync(dir, 4294967294, 4294967294);
      afterAll(() => (run(runner, "pseudo", ["rm", "-rf", dir]), done()));
    }

    testIf(
      reason,
      "apt-get update fetches the archive's indices",
      () => {
        const unpacked = run(runner, "pseudo", ["tar", "-C", dir, "--exclude=./dev/*", "-xf", DEBIAN_TARBALL]);
        // The device nodes stay out: pseudo may not make them, and contain makes its own /dev.
        expect(unpacked.stderr).toBe("");
        const result = run(runner, "contain", ["-c", "-e", "--network", "private", dir, "/bin/sh", "-c", "apt-get update -q 2>&1 && ls /var/lib/apt/lists"]);
        expect(result.stdout).toContain("InRelease");
        expect(result.stdout).not.toContain("Temporary failure resolving");
        expect(result.stdout).toMatch(/_dists_bookworm_main_binary-[a-z0-9]+_Packages/);
        expect(result.status).toBe(0);
      },
      240_000,
    );
  });
}
