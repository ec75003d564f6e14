#!/usr/bin/env bun
// Start-to-exit of `pseudo /bin/true` from two checkouts, interleaved round by round so
// that the machine's drift hits both alike, with what newuidmap and newgidmap cost
// unshare (`--map-auto -r` against `-r`) as the reference. Run it as a user with
// /etc/subuid and /etc/subgid ranges (as root, pseudo needs no helper):
//   bun scripts/bench-maps.ts OLD_CHECKOUT [NEW_CHECKOUT (this one)] [ROUNDS (40)]
import { join } from "node:path";

const [old, current = join(import.meta.dir, ".."), rounds = "40"] = process.argv.slice(2);
if (old === undefined) {
  console.error("usage: bun scripts/bench-maps.ts OLD_CHECKOUT [NEW_CHECKOUT] [ROUNDS]");
  process.exit(64);
}
if (process.getuid!() === 0) console.error("bench-maps: as root, pseudo runs no helper; run it as a user with subordinate IDs");

const commands: Record<string, string[]> = {
  [`pseudo (${old})`]: [process.execPath, join(old, "bin/pseudo.ts"), "/bin/true"],
  [`pseudo (${current})`]: [process.execPath, join(current, "bin/pseudo.ts"), "/bin/true"],
  "unshare --map-auto -r": ["unshare", "--map-auto", "-r", "/bin/true"],
  "unshare -r": ["unshare", "-r", "/bin/true"],
};
const names = Object.keys(commands);
const times = new Map<string, number[]>(names.map((name) => [name, []]));

function run(name: string): number {
  const started = performance.now();
  const result = Bun.spawnSync(commands[name]!, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const elapsed = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`${name} failed: ${result.stderr.toString().trim()}`);
  return elapsed;
}

for (const name of names) run(name);
for (let round = 0; round < Number(rounds); round++) {
  // A different order each round, so that no command always follows the same one.
  for (let index = 0; index < names.length; index++) {
    const name = names[(index + round) % names.length]!;
    times.get(name)!.push(run(name));
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
for (const name of names) console.log(`${median(times.get(name)!).toFixed(2).padStart(7)} ms  ${name}`);
const helpers = median(times.get("unshare --map-auto -r")!) - median(times.get("unshare -r")!);
const saved = median(times.get(names[0]!)!) - median(times.get(names[1]!)!);
console.log(`helpers cost unshare ${helpers.toFixed(2)} ms; the new pseudo saves ${saved.toFixed(2)} ms (medians of ${rounds} rounds)`);
