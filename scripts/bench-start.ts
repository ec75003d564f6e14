// Start-to-exit and peak memory of pseudo and contain against what a user would pick
// instead (fakeroot, unshare, bwrap) and against Bun's own start, through the installed
// bin, as root and as the test user. Rounds are interleaved (every command once per
// round) and medians reported, since this machine is noisy: read the ratios, not the
// absolute figures. Prints a table; asserts nothing.
//
//   bun scripts/bench-start.ts [ROUNDS] [BASE]        (as root, for both tiers)
//
// BASE, a built checkout of another version, adds its pseudo and contain to the same
// rounds, for a before and after that the machine's noise does not decide.
import { chownSync, mkdirSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repo = resolve(import.meta.dir, "..");
const bun = process.execPath;
const rounds = Number(process.argv[2] ?? 40);
const base = process.argv[3] ? resolve(process.argv[3]) : undefined;
/** A checkout's launcher: bin/X.js, or bin/X.ts in versions before plain launchers. */
const launcher = (checkout: string, tool: string) => {
  const js = join(checkout, "bin", `${tool}.js`);
  return Bun.file(js).size > 0 ? js : join(checkout, "bin", `${tool}.ts`);
};
const user = process.env.CONTAIN_TEST_USER ?? "contain-test";
const has = (tool: string) => Bun.which(tool) !== null;
// The commands as installed: bin/*.js run with the bun that npm installed.
const env = { ...process.env, PATH: `${join(repo, "node_modules/.bin")}:${process.env.PATH}` };

function id(flag: string): number {
  return Number(Bun.spawnSync(["id", flag, user]).stdout.toString().trim());
}

/** A busybox root made by pseudo as `prefix` (0700, owned by that container root). */
function busyboxRoot(prefix: string[]): string {
  const made = Bun.spawnSync([...prefix, bun, join(repo, "bin/pseudo.js"), "mktemp", "-d", join(tmpdir(), "bench-root.XXXXXX")]);
  const root = made.stdout.toString().trim();
  const script = `mkdir ${root}/bin ${root}/proc ${root}/dev && cp /bin/busybox ${root}/bin/ && ln -s busybox ${root}/bin/true && ln -s busybox ${root}/bin/sh`;
  Bun.spawnSync([...prefix, bun, join(repo, "bin/pseudo.js"), "sh", "-c", script]);
  return root;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Peak RSS in kB of one run, from GNU time. */
function peak(command: string[]): number {
  const result = Bun.spawnSync(["/usr/bin/time", "-f", "%M", ...command], { stderr: "pipe", stdout: "ignore", stdin: "ignore", env });
  const lines = result.stderr.toString().trim().split("\n");
  return Number(lines[lines.length - 1]);
}

function tier(name: string, prefix: string[]) {
  const root = busyboxRoot(prefix);
  const pseudo = join(repo, "bin/pseudo.js");
  const contain = join(repo, "bin/contain.js");
  const commands: [string, string[]][] = [
    ["bun -e 0", [bun, "-e", "0"]],
    ["unshare -r /bin/true", ["unshare", "-r", "/bin/true"]],
  ];
  if (name.startsWith("user")) commands.push(["unshare --map-auto -r /bin/true", ["unshare", "--map-auto", "-r", "/bin/true"]]);
  if (has("fakeroot")) commands.push(["fakeroot /bin/true", ["fakeroot", "/bin/true"]]);
  commands.push(["pseudo /bin/true", [pseudo, "/bin/true"]]);
  if (base) commands.push(["pseudo /bin/true (BASE)", [launcher(base, "pseudo"), "/bin/true"]]);
  // bwrap as root runs its set-up without root's override of permissions, so it gets a
  // root open to all (which contain refuses under root's default map: see the README).
  const open = busyboxRoot(prefix);
  Bun.spawnSync([...prefix, bun, join(repo, "bin/pseudo.js"), "chmod", "755", open], { env });
  if (has("bwrap")) {
    const bwrap = ["bwrap", "--unshare-all", "--bind", open, "/", "--proc", "/proc", "--dev", "/dev", "/bin/true"];
    commands.push(["bwrap --unshare-all ... /bin/true", bwrap]);
  }
  commands.push(["contain -c DIR /bin/true", [contain, "-c", root, "/bin/true"]]);
  if (base) commands.push(["contain -c DIR /bin/true (BASE)", [launcher(base, "contain"), "-c", root, "/bin/true"]]);

  const times = commands.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    commands.forEach(([, command], index) => {
      const start = performance.now();
      const result = Bun.spawnSync([...prefix, ...command], { stdin: "ignore", stdout: "ignore", stderr: "ignore", env });
      const elapsed = performance.now() - start;
      if (result.exitCode === 0) times[index]!.push(elapsed);
    });
  }
  console.log(`\n${name}: start to exit, median of ${rounds} interleaved rounds (failed runs left out)`);
  const bunStart = median(times[0]!);
  const medians = new Map<string, number>();
  commands.forEach(([label], index) => {
    const values = times[index]!;
    if (values.length === 0) return console.log(`  ${label.padEnd(40)} failed`);
    const value = median(values);
    medians.set(label, value);
    const over = value - bunStart;
    console.log(`  ${label.padEnd(40)} ${value.toFixed(1).padStart(6)} ms  (${(over >= 0 ? "+" : "") + over.toFixed(1)} ms on bun -e 0)`);
  });
  // The goals: bun -e 0 plus 2 ms (pseudo) or 4 ms (contain), plus what the map helpers
  // cost unshare, for a user whose maps need them.
  const helpers = name.startsWith("user") ? (medians.get("unshare --map-auto -r /bin/true") ?? 0) - (medians.get("unshare -r /bin/true") ?? 0) : 0;
  const goal = (label: string, allowance: number) => {
    const value = medians.get(label);
    if (value === undefined) return;
    const limit = bunStart + helpers + allowance;
    const verdict = value <= limit ? "met" : `${(value - limit).toFixed(1)} ms over`;
    console.log(`  goal for ${label}: <= ${limit.toFixed(1)} ms: ${verdict}`);
  };
  goal("pseudo /bin/true", 2);
  goal("contain -c DIR /bin/true", 4);

  const idle = [bun, "-e", "setTimeout(() => {}, 300)"];
  const memory: [string, string[]][] = [
    ["idle bun (300 ms timer)", idle],
    ["pseudo sleep 0.3", [pseudo, "sleep", "0.3"]],
    ["contain -c DIR sleep 0.3", [contain, "-c", root, "/bin/sh", "-c", "sleep 0.3"]],
    ["contain DIR sleep 0.3 (console)", [contain, root, "/bin/sh", "-c", "sleep 0.3"]],
  ];
  if (base) {
    memory.push(["pseudo sleep 0.3 (BASE)", [launcher(base, "pseudo"), "sleep", "0.3"]]);
    memory.push(["contain -c DIR sleep 0.3 (BASE)", [launcher(base, "contain"), "-c", root, "/bin/sh", "-c", "sleep 0.3"]]);
    memory.push(["contain DIR sleep 0.3 (console, BASE)", [launcher(base, "contain"), root, "/bin/sh", "-c", "sleep 0.3"]]);
  }
  const peaks = memory.map(() => [] as number[]);
  for (let round = 0; round < 5; round++) memory.forEach(([, command], index) => peaks[index]!.push(peak([...prefix, ...command])));
  console.log(`${name}: peak RSS of the supervisor, median of 5`);
  const idleKb = median(peaks[0]!);
  memory.forEach(([label], index) => {
    const kb = median(peaks[index]!);
    console.log(`  ${label.padEnd(40)} ${(kb / 1024).toFixed(1).padStart(6)} MB  (${(kb / idleKb).toFixed(2)}x idle bun)`);
  });
  Bun.spawnSync([...prefix, bun, pseudo, "rm", "-rf", root, open]);
}

tier("root", []);
if (process.getuid!() === 0) {
  const prefix = ["setpriv", `--reuid=${id("-u")}`, `--regid=${id("-g")}`, "--init-groups", "env", "HOME=/tmp", `PATH=${env.PATH}`];
  tier("user", prefix);
  // The user again, started in a delegated cgroup (as systemd's Delegate=yes gives one),
  // where contain makes each container a cgroup of its own: a root-run shell moves itself
  // there and execs setpriv. The shell costs every command the same.
  const place = /^0::(.*)$/m.exec(await Bun.file("/proc/self/cgroup").text())?.[1];
  const mount = /^\S+ \S+ \S+ \S+ (\S+) .* - cgroup2 /m.exec(await Bun.file("/proc/self/mountinfo").text())?.[1];
  if (place !== undefined && mount !== undefined) {
    const dir = `${mount}${place === "/" ? "" : place}/bench-delegated-${process.pid}`;
    mkdirSync(dir);
    for (const file of ["", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"]) chownSync(`${dir}${file}`, id("-u"), id("-g"));
    try {
      tier("user, delegated cgroup", ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir, ...prefix]);
    } finally {
      rmdirSync(dir);
    }
  }
}
