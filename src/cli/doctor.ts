// contain --doctor: what would make containers fail on this host, and how to fix it.
// Loaded on its own, before the shim, so that it works where the shim does not: so a
// failure outside the checks is printed here, as run.ts prints one, in one line.
import { doctorStatus, formatDoctor, runDoctor } from "../doctor.ts";
import { ContainError, Status } from "../errors.ts";

export async function main(): Promise<never> {
  let checks;
  try {
    checks = runDoctor();
  } catch (error) {
    process.stderr.write(`contain: ${(error as Error).message ?? error}\n`);
    process.exit(error instanceof ContainError ? error.status : Status.failure);
  }
  const text = formatDoctor(checks);
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  process.exit(doctorStatus(checks));
}
