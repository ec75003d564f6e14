// Cost per container: 200 sequential /bin/true containers in-process, the CLI run 200
// times, and util-linux unshare with the same namespaces, in one run. Prints figures.
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { contain, fromHost } from "../src/index.ts";

const count = Number(process.env.COUNT ?? 200);
const root = await fromHost(["true"]);
const cli = join(import.meta.dir, "..", "bin", "contain.js");
// Beside, not inside, the root's private directory, which only container root may enter.
const unshareRoot = mkdtempSync(join(tmpdir(), "bench-unshare."));
mkdirSync(join(unshareRoot, "proc"), { recursive: true });

async function time(label: string, run: () => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < 5; i++) await run();
  const start = performance.now();
  for (let i = 0; i < count; i++) await run();
  const each = (performance.now() - start) / count;
  console.log(`${label.padEnd(44)} ${each.toFixed(2)} ms per container`);
  return each;
}

const inProcess = await time("in-process contain()", () => contain({ root: root.path, cmd: ["/usr/bin/true"] }).exited);
await time("CLI: contain -c DIR /usr/bin/true", () =>
  Bun.spawn([process.execPath, cli, "-c", root.path, "/usr/bin/true"], { stdout: "inherit" }).exited,
);
const unshare = await time("unshare -U -r -m -p -i -u -n -f --mount-proc", () =>
  Bun.spawn(["unshare", "-U", "-r", "-m", "-p", "-i", "-u", "-n", "-f", `--mount-proc=${unshareRoot}/proc`, "true"]).exited,
);
console.log(`in-process / unshare: ${(inProcess / unshare).toFixed(2)} (goal: at most 1.5)`);
await root.remove();
Bun.spawnSync(["rm", "-rf", unshareRoot]);
