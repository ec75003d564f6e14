// The program autopkgtest-virt-contain's print-execute-command names: `PID CMD [ARG]...`
// runs CMD in the testbed whose contain has PID, with our stdio, as root in /, and exits
// with CMD's status (128+N for signal N). Its own failures exit 255, as the protocol asks.
import { startInject } from "../inject.ts";
import { TESTBED_ENV } from "../autopkgtest.ts";
import { supervise } from "./run.ts";

export async function main(): Promise<never> {
  const [pid, ...cmd] = process.argv.slice(2);
  if (!/^\d+$/.test(pid ?? "") || cmd.length === 0) {
    process.stderr.write("autopkgtest-virt-contain: execute needs PID CMD [ARG]...\n");
    process.exit(255);
  }
  return supervise("autopkgtest-virt-contain", () => startInject({ pid: Number(pid), cmd, env: TESTBED_ENV }), {
    failure: 255,
    exitOnSignal: true,
  });
}

// Not awaited (main exits by itself; a rejection still ends us with status 1): a top-level
// await would keep the bundle from being CommonJS with bytecode (scripts/build-dist.ts).
if (import.meta.main) main();
