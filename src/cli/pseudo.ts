import { defineCommand } from "citty";
import { startPseudo } from "../pseudo.ts";
import { commandEnvironment, optionText, parseArgs, say, supervise } from "./run.ts";

export const command = defineCommand({
  meta: { name: "pseudo", description: "Run CMD (default $SHELL) as root in a new user namespace." },
  args: {
    gidMap: { type: "string", alias: "g", valueHint: "MAP", description: "set the user namespace GID map" },
    uidMap: { type: "string", alias: "u", valueHint: "MAP", description: "set the user namespace UID map" },
    command: { type: "positional", valueHint: "CMD [ARG]...", required: false },
  },
});

export async function main(): Promise<never> {
  const { options, operands } = parseArgs(command, "pseudo");
  return supervise("pseudo", () =>
    startPseudo({
      cmd: operands,
      env: commandEnvironment(),
      uidMap: optionText(options.uidMap),
      gidMap: optionText(options.gidMap),
      onWarning: (message) => say(`pseudo: ${message}`),
    }),
  );
}

// Not awaited (main exits by itself; a rejection still ends us with status 1): a top-level
// await would keep the bundle from being CommonJS with bytecode (scripts/build-dist.ts).
if (import.meta.main) main();
