// Per-test overhead of a virtualisation server, as autopkgtest pays it: open, revert,
// close, and an execute of `true` through the program print-execute-command names, for
// autopkgtest-virt-contain and autopkgtest-virt-unshare on the same tarball. Prints a table.
// A round is a new server, so `open` of ours includes extracting the tarball once; `revert`
// is what every further test costs.
//   bun scripts/bench-autopkgtest.ts TARBALL [ROUNDS]
import { join } from "node:path";

const tarball = process.argv[2];
if (!tarball) {
  console.error("usage: bun scripts/bench-autopkgtest.ts TARBALL [ROUNDS]");
  process.exit(64);
}
const rounds = Number(process.argv[3] ?? 5);
const executes = 20;
const ours = [process.execPath, join(import.meta.dir, "..", "bin", "autopkgtest-virt-contain.js"), tarball];
const servers: Record<string, string[]> = {
  contain: ours,
  unshare: ["autopkgtest-virt-unshare", "-t", tarball],
};

type Figures = Record<"open" | "revert" | "execute true" | "close", number[]>;

/** One server per round (autopkgtest-virt-unshare cannot open again after close). */
async function measure(argv: string[]): Promise<Figures> {
  const figures: Figures = { open: [], revert: [], "execute true": [], close: [] };
  for (let round = 0; round < rounds; round++) await measureRound(argv, figures);
  return figures;
}

async function measureRound(argv: string[], figures: Figures): Promise<void> {
  const child = Bun.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  let buffered = "";
  const line = async () => {
    while (!buffered.includes("\n")) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`${argv[0]} ended`);
      buffered += new TextDecoder().decode(chunk.value);
    }
    const [first, ...rest] = buffered.split("\n");
    buffered = rest.join("\n");
    return first!;
  };
  const send = async (command: string) => {
    child.stdin.write(`${command}\n`);
    await child.stdin.flush();
    const reply = await line();
    if (!reply.startsWith("ok")) throw new Error(`${command}: ${reply}`);
    return reply;
  };
  const timed = async (run: () => Promise<unknown>) => {
    const start = performance.now();
    await run();
    return performance.now() - start;
  };
  await line();
  figures.open.push(await timed(() => send("open")));
  const program = (await send("print-execute-command")).split(" ")[1]!.split(",").map(decodeURIComponent);
  for (let i = 0; i < executes; i++) {
    figures["execute true"].push(await timed(() => Bun.spawn([...program, "true"], { stdin: "ignore" }).exited));
  }
  figures.revert.push(await timed(() => send("revert")));
  figures.close.push(await timed(() => send("close")));
  // The Python servers exit on quit without a reply.
  child.stdin.write("quit\n");
  await child.stdin.end();
  await child.exited;
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!;
const results: Record<string, Figures> = {};
for (const [name, argv] of Object.entries(servers)) results[name] = await measure(argv);

console.log(`tarball ${tarball}, ${rounds} rounds, ${executes} executes a round; medians in ms, as ${process.getuid!() === 0 ? "root" : "a user"}`);
console.log(`${"step".padEnd(14)}${"contain".padStart(10)}${"unshare".padStart(10)}`);
for (const step of ["open", "revert", "execute true", "close"] as const) {
  const cells = Object.keys(servers).map((name) => median(results[name]![step]).toFixed(1).padStart(10));
  console.log(`${step.padEnd(14)}${cells.join("")}`);
}
