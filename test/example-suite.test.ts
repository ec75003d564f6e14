// The README's example: a bun:test suite whose every case runs in its own throwaway
// container on one root filesystem built once. Here the root is busybox from the host, so
// the suite always runs; CONTAIN_TARBALL=/path/to/bookworm.tar runs it on a Debian root
// built by fromTarball instead (scripts/bench-ephemeral.ts prints both timings).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { contain, fromHost, fromTarball, type RootFilesystem } from "bun-contain";
import { busyboxReason, MUST_WORK } from "./helpers.ts";

const tarball = process.env.CONTAIN_TARBALL;
const reason = tarball ? null : busyboxReason;
let root: RootFilesystem;

beforeAll(async () => {
  if (reason !== null) return;
  root = tarball
    ? await fromTarball(tarball)
    : await fromHost(["/bin/busybox"], { links: { "bin/sh": "busybox", "bin/cat": "busybox", "bin/ls": "busybox" } });
}, 60_000);
afterAll(() => root?.remove());

/** Runs a shell script in a fresh container on `root`: writes go to a tmpfs of its own. */
async function sh(script: string) {
  const c = contain({ root: root.path, cmd: ["/bin/sh", "-c", script], ephemeral: true, stdout: "pipe", stderr: "pipe", timeout: 10_000 });
  const [stdout, stderr, status] = await Promise.all([new Response(c.stdout).text(), new Response(c.stderr).text(), c.exited]);
  return { stdout, stderr, status };
}

for (let index = 0; index < 100; index++) {
  const name = `case ${index} sees a root that no other case has written`;
  if (reason !== null && !MUST_WORK) {
    test.skip(`${name} [skipped: ${reason}]`, () => {});
    continue;
  }
  test(name, async () => {
    if (reason !== null) throw new Error(`cannot run (MUST_WORK=1): ${reason}`);
    const result = await sh(`[ ! -e /state ] && echo ${index} > /state && cat /state`);
    expect(result).toEqual({ stdout: `${index}\n`, stderr: "", status: 0 });
  });
}
