#!/usr/bin/env bun
import { defineCommand } from "citty";
import { startInject } from "../inject.ts";
import { parseArgs, supervise } from "./run.ts";

export const command = defineCommand({
  meta: { name: "inject", description: "Run CMD (default $SHELL) inside the running container of contain's PID." },
  args: {
    pid: { type: "positional", valueHint: "PID", required: true },
    command: { type: "positional", valueHint: "CMD [ARG]...", required: false },
  },
});

export async function main(): Promise<never> {
  const { operands } = parseArgs(command, "inject", (split) =>
    /^\d+$/.test(split.operands[0] ?? "") ? null : "PID must be a number",
  );
  return supervise("inject", () => startInject({ pid: Number(operands[0]), cmd: operands.slice(1) }));
}

if (import.meta.main) await main();
