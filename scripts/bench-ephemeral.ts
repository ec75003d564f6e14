// What a throwaway root costs: containers on one root started plain and ephemeral,
// interleaved, with the median of each; and the parts of the README's 100-case suite
// (building the root, the cases, removing it). Prints figures.
//   bun scripts/bench-ephemeral.ts [TARBALL]   (default: a root of host programs)
import { contain, fromHost, fromTarball } from "../src/index.ts";

const tarball = process.argv[2];
const count = Number(process.env.COUNT ?? 100);

let start = performance.now();
const root = tarball ? await fromTarball(tarball) : await fromHost(["sh", "true", "cat"]);
const built = performance.now() - start;
const cmd = tarball ? ["/usr/bin/true"] : ["/bin/true"];

async function once(ephemeral: boolean): Promise<number> {
  const begin = performance.now();
  const status = await contain({ root: root.path, cmd, ephemeral }).exited;
  if (status !== 0) throw new Error(`container exited with ${status}`);
  return performance.now() - begin;
}

const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
for (let i = 0; i < 5; i++) await Promise.all([once(false), once(true)]);
const plain: number[] = [];
const ephemeral: number[] = [];
for (let i = 0; i < count; i++) {
  plain.push(await once(false));
  ephemeral.push(await once(true));
}
const [p, e] = [median(plain), median(ephemeral)];
console.log(`root: ${tarball ?? "host programs"} (built in ${built.toFixed(0)} ms)`);
console.log(`plain container, median of ${count}      ${p.toFixed(2)} ms`);
console.log(`ephemeral container, median of ${count}  ${e.toFixed(2)} ms`);
console.log(`ephemeral / plain: ${(e / p).toFixed(2)} (goal: at most 2)`);

start = performance.now();
for (let i = 0; i < 100; i++) {
  const c = contain({ root: root.path, cmd: ["/bin/sh", "-c", `[ ! -e /state ] && echo ${i} > /state && cat /state`], ephemeral: true, stdout: "pipe" });
  const [out, status] = await Promise.all([new Response(c.stdout).text(), c.exited]);
  if (out !== `${i}\n` || status !== 0) throw new Error(`case ${i}: ${status} ${out}`);
}
const cases = performance.now() - start;
start = performance.now();
await root.remove();
console.log(`100 ephemeral cases one after another    ${cases.toFixed(0)} ms`);
console.log(`building the root ${built.toFixed(0)} ms, removing it ${(performance.now() - start).toFixed(0)} ms`);
