#!/usr/bin/env bun
import { defineCommand } from "citty";
import { startContain } from "../contain.ts";
import { commandEnvironment, optionText, optionWord, parseArgs, supervise } from "./run.ts";

export const command = defineCommand({
  meta: { name: "contain", description: "Run CMD (default /bin/sh) as PID 1 of a container with DIR as its root." },
  args: {
    console: { type: "boolean", alias: "c", description: "disable console emulation in the container" },
    gid: { type: "string", alias: "g", valueHint: "MAP", description: "set the container-to-host GID map" },
    inside: { type: "string", alias: "i", valueHint: "CMD", description: "run a helper child inside the new namespaces" },
    hostNetwork: { type: "boolean", alias: "n", description: "share the host network unprivileged in the container" },
    outside: { type: "string", alias: "o", valueHint: "CMD", description: "run a helper child outside the new namespaces" },
    uid: { type: "string", alias: "u", valueHint: "MAP", description: "set the container-to-host UID map" },
    dir: { type: "positional", valueHint: "DIR", required: true },
    command: { type: "positional", valueHint: "CMD [ARG]...", required: false },
  },
});

export async function main(): Promise<never> {
  const { options, operands } = parseArgs(command, "contain", (split) =>
    split.operands.length === 0 ? "missing DIR" : null,
  );
  return supervise("contain", () =>
    startContain({
      root: operands[0]!,
      cmd: operands.slice(1),
      console: options.console !== true,
      env: commandEnvironment(),
      uidMap: optionText(options.uid),
      gidMap: optionText(options.gid),
      hostNetwork: options.hostNetwork === true,
      inside: optionWord(options.inside),
      outside: optionWord(options.outside),
      onWarning: (message) => process.stderr.write(`contain: ${message}\n`),
    }),
    // With a console, init has a terminal and a session of its own.
    options.console === true,
  );
}

if (import.meta.main) await main();
