// The program autopkgtest-virt-contain's print-execute-command names: `PID CMD [ARG]...`
// runs CMD in the testbed whose contain has PID, with our stdio, as root in /, and exits
// with CMD's status (128+N for signal N). Its own failures exit 255, as the protocol asks.
import { fchownSync, fstatSync, readlinkSync } from "node:fs";
import { startInject } from "../inject.ts";
import { TESTBED_ENV } from "../autopkgtest.ts";
import { hostRoot, planMaps } from "../userns.ts";
import { supervise } from "./run.ts";

/**
 * As host root, hands the caller's anonymous pipes on stdin, stdout and stderr to container
 * root (its host ID under the testbed's default map). A pipe belongs to whoever made it,
 * mode 0600, so CMD could not open host root's again as /proc/self/fd/N, as
 * `tee /proc/self/fd/2` in autopkgtest's apt-get update does: it failed, and autopkgtest
 * waited 15 s and tried again. A user's pipes are container root's already. Files,
 * terminals and named FIFOs are left as they are.
 */
function handPipes(): void {
  if (process.geteuid!() !== 0) return;
  const owner = hostRoot(planMaps(undefined, undefined)[0]);
  if (owner === undefined) return;
  for (const fd of [0, 1, 2]) {
    try {
      if (!readlinkSync(`/proc/self/fd/${fd}`).startsWith("pipe:[")) continue;
      if (fstatSync(fd).uid !== owner) fchownSync(fd, owner, -1);
    } catch {
      // Closed, or not ours to change: CMD gets it as it is.
    }
  }
}

export async function main(): Promise<never> {
  const [pid, ...cmd] = process.argv.slice(2);
  if (!/^\d+$/.test(pid ?? "") || cmd.length === 0) {
    process.stderr.write("autopkgtest-virt-contain: execute needs PID CMD [ARG]...\n");
    process.exit(255);
  }
  handPipes();
  return supervise("autopkgtest-virt-contain", () => startInject({ pid: Number(pid), cmd, env: TESTBED_ENV }), {
    failure: 255,
    exitOnSignal: true,
  });
}

// Not awaited (main exits by itself; a rejection still ends us with status 1): a top-level
// await would keep the bundle from being CommonJS with bytecode (scripts/build-dist.ts).
if (import.meta.main) main();
