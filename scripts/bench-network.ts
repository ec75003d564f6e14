// What --network private costs, side by side in one run (interleaved rounds, medians):
//  - start-up: `contain -c --network private DIR /bin/true` over `contain -c DIR /bin/true`,
//    against pasta's own start (`pasta --config-net -- true` over `unshare -rn true`);
//  - TCP throughput from the container to the host over loopback: through a port published
//    with -p (pasta), through slirp4netns's forwarded port, and with --network host.
//   bun scripts/bench-network.ts [ROUNDS] [MEBIBYTES]      (default 20 and 256)
// As root, the two references run as the test user (pasta will not start a namespace of its
// own as root), and slirp4netns's namespace is made with unshare -rn either way.
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const rounds = Number(process.argv[2] ?? 20);
const mebibytes = Number(process.argv[3] ?? 256);
const repo = resolve(import.meta.dir, "..");
const bun = process.execPath;
const contain = join(repo, "bin", "contain.js");
const pseudo = join(repo, "bin", "pseudo.js");
const root = process.getuid!() === 0;
const asUser = root ? ["setpriv", "--reuid=contain-test", "--regid=contain-test", "--init-groups", "env", "HOME=/tmp"] : [];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function makeRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), "contain-bench-"));
  if (root) chownSync(dir, 4294967294, 4294967294);
  // The host's /usr is bound in read-only for socat; the root's lib links lead there.
  const script = "mkdir bin etc usr && ln -s usr/lib lib && ln -s usr/lib64 lib64 && cp /bin/busybox bin/ && for a in sh true; do ln -s busybox bin/$a; done";
  const made = Bun.spawnSync([bun, pseudo, "sh", "-c", script], { cwd: dir, stderr: "pipe" });
  if (made.exitCode !== 0) throw new Error(`building the root failed: ${made.stderr}`);
  return dir;
}

function timed(argv: string[]): number {
  const begin = performance.now();
  const result = Bun.spawnSync(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const elapsed = performance.now() - begin;
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${result.stderr.toString().trim()}`);
  return elapsed;
}

/** Connects to 127.0.0.1:`port` until data flows (socat into wc, so that the receiver is
 *  not what is measured), then reads to EOF: MiB/s of what came, from connect to EOF. */
async function receive(port: number): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const begin = performance.now();
    const result = Bun.spawnSync(["sh", "-c", `socat -u -b 262144 TCP:127.0.0.1:${port} - 2>/dev/null | wc -c`]);
    const ms = performance.now() - begin;
    const bytes = Number(result.stdout.toString().trim());
    if (bytes >= mebibytes * 1048576) return bytes / 1048576 / (ms / 1000);
    if (bytes > 0) throw new Error(`port ${port}: ${bytes} bytes, not ${mebibytes} MiB`);
    await Bun.sleep(20);
  }
  throw new Error(`port ${port}: nothing came`);
}

/** A measurement, again on a new port when it fails (a port taken meanwhile, a slow start). */
async function retried(measure: (port: number) => Promise<number>): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await measure(32000 + Math.floor(Math.random() * 20000));
    } catch (error) {
      if (attempt >= 2) throw error;
    }
  }
}

// socat at both ends, with large buffers: busybox's nc would be what is measured.
const sender = (port: number) => `socat -u -b 262144 OPEN:/dev/zero,readbytes=${mebibytes * 1048576} TCP-LISTEN:${port},reuseaddr`;

async function throughContain(dir: string, network: "private" | "host", port: number): Promise<number> {
  const publish = network === "private" ? ["-p", `127.0.0.1:${port}:8080`] : [];
  // The container stays up until the receiver has it all: it is killed then, and pasta
  // with it, which would cut off what pasta still holds.
  const script = `${sender(network === "host" ? port : 8080)}; sleep 60`;
  const child = Bun.spawn([bun, contain, "-c", "-b", "/usr:/usr:ro", "--network", network, ...publish, dir, "/bin/sh", "-c", script], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "inherit",
  });
  try {
    return await receive(port);
  } finally {
    child.kill("SIGKILL");
    await child.exited;
  }
}

async function throughSlirp(port: number): Promise<number> {
  // The sender waits for a line on stdin: slirp4netns has configured the namespace then.
  const ns = Bun.spawn(["unshare", "-rn", "--fork", "--pid", "--kill-child", "sh", "-c", `read line; ${sender(8080)}`], {
    stdin: "pipe",
    stdout: "ignore",
    stderr: "inherit",
  });
  const socket = join(tmpdir(), `contain-bench-slirp-${process.pid}.sock`);
  rmSync(socket, { force: true });
  const slirp = Bun.spawn(["slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback", "--api-socket", socket, String(ns.pid), "tap0"], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
  });
  try {
    const request = JSON.stringify({
      execute: "add_hostfwd",
      arguments: { proto: "tcp", host_addr: "127.0.0.1", host_port: port, guest_port: 8080 },
    });
    let answer = "";
    for (let tries = 0; tries < 200 && !answer.includes("return"); tries++) {
      const result = Bun.spawnSync(["socat", "-", `UNIX-CONNECT:${socket}`], { stdin: new TextEncoder().encode(request), stderr: "ignore" });
      answer = result.stdout.toString();
      if (!answer.includes("return")) await Bun.sleep(10);
    }
    if (!answer.includes("return")) throw new Error(`slirp4netns: ${answer || "no API socket"}`);
    ns.stdin.write("go\n");
    await ns.stdin.flush();
    return await receive(port);
  } finally {
    ns.kill("SIGKILL");
    slirp.kill("SIGKILL");
    await Promise.all([ns.exited, slirp.exited]);
    rmSync(socket, { force: true });
  }
}

const dir = makeRoot();
try {
  // Start-up.
  const starts: Record<string, string[]> = {
    none: [bun, contain, "-c", dir, "/bin/true"],
    private: [bun, contain, "-c", "--network", "private", dir, "/bin/true"],
    unshare: [...asUser, "unshare", "-rn", "true"],
    pasta: [...asUser, "pasta", "--config-net", "--quiet", "--", "true"],
  };
  const times: Record<string, number[]> = { none: [], private: [], unshare: [], pasta: [] };
  for (const argv of Object.values(starts)) timed(argv);
  for (let round = 0; round < rounds; round++) for (const [name, argv] of Object.entries(starts)) times[name]!.push(timed(argv));
  const m = Object.fromEntries(Object.entries(times).map(([name, values]) => [name, median(values)])) as Record<string, number>;
  console.log(`start-up, medians of ${rounds} interleaved rounds (${root ? "as root; references as contain-test" : "as a user"}):`);
  console.log(`  contain -c DIR /bin/true                    ${m.none!.toFixed(1)} ms`);
  console.log(`  contain -c --network private DIR /bin/true  ${m.private!.toFixed(1)} ms  (+${(m.private! - m.none!).toFixed(1)})`);
  console.log(`  unshare -rn true                            ${m.unshare!.toFixed(1)} ms`);
  console.log(`  pasta --config-net -- true                  ${m.pasta!.toFixed(1)} ms  (+${(m.pasta! - m.unshare!).toFixed(1)})`);

  // Throughput.
  const speeds: Record<string, number[]> = { pasta: [], slirp4netns: [], host: [] };
  const throughputRounds = Math.max(3, Math.min(rounds, 5));
  for (let round = 0; round < throughputRounds; round++) {
    speeds.pasta!.push(await retried((port) => throughContain(dir, "private", port)));
    speeds.slirp4netns!.push(await retried((port) => throughSlirp(port)));
    speeds.host!.push(await retried((port) => throughContain(dir, "host", port)));
  }
  console.log(`TCP container -> host over loopback, ${mebibytes} MiB, medians of ${throughputRounds} interleaved rounds:`);
  console.log(`  --network private, published port (pasta)   ${median(speeds.pasta!).toFixed(0)} MiB/s`);
  console.log(`  slirp4netns, forwarded port                  ${median(speeds.slirp4netns!).toFixed(0)} MiB/s`);
  console.log(`  --network host                              ${median(speeds.host!).toFixed(0)} MiB/s`);
} finally {
  Bun.spawnSync([bun, pseudo, "rm", "-rf", dir]);
  rmSync(dir, { recursive: true, force: true });
}
