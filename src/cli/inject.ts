#!/usr/bin/env bun
import { defineCommand } from "citty";
import { startInject } from "../inject.ts";
import { argText } from "../native.ts";
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

if (import.meta.main) await main();
