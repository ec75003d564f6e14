// contain --doctor: what would make containers fail on this host, and how to fix it.
// Loaded on its own, before the shim, so that it works where the shim does not.
import { doctorStatus, formatDoctor, runDoctor } from "../doctor.ts";

export async function main(): Promise<never> {
  const checks = runDoctor();
  const text = formatDoctor(checks);
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  process.exit(doctorStatus(checks));
}
