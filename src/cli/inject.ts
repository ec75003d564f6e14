import { defineCommand } from "citty";
import { startInject } from "../inject.ts";
import { argText } from "../arg.ts";
import { commandEnvironment, parseArgs, supervise } from "./run.ts";

export const command = defineCommand({
  meta: { name: "inject", description: "Run CMD (default $SHELL) inside the running container of contain's PID." },
  args: {
    pid: { type: "positional", valueHint: "PID", required: true },
    command: { type: "positional", valueHint: "CMD [ARG]...", required: false },
  },
});

export async function main(): Promise<never> {
  const { operands } = parseArgs(command, "inject", (split) =>
    /^\d+$/.test(argText(split.operands[0] ?? "")) ? null : "PID must be a number",
  );
  return supervise("inject", () =>
    startInject({ pid: Number(argText(operands[0]!)), cmd: operands.slice(1), env: commandEnvironment() }),
  );
}

// Not awaited (main exits by itself; a rejection still ends us with status 1): a top-level
// await would keep the bundle from being CommonJS with bytecode (scripts/build-dist.ts).
if (import.meta.main) main();
