// getopt("+...") for citty command definitions: options end at the first operand or "--",
// so everything after DIR or CMD belongs to CMD. citty's own parser permutes argv and
// would take CMD's flags as ours, so it only supplies the definitions and usage text.
import type { ArgsDef, CommandDef } from "citty";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any command definition will do
export type Definition = Pick<CommandDef<any>, "meta" | "args">;

export class UsageError extends Error {}

export interface Split {
  /** Option values by argument name: a string for valued options (the last one given),
   *  true for flags. */
  options: Record<string, string | true>;
  /** Every value of each valued option, in order, for options that may be repeated. */
  lists: Record<string, string[]>;
  /** Every valued option as [name, value], in command-line order. */
  given: [string, string][];
  operands: string[];
  help: boolean;
}

function letters(args: ArgsDef) {
  const byLetter = new Map<string, { name: string; valued: boolean }>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    const alias = "alias" in def ? def.alias : undefined;
    const aliases = Array.isArray(alias) ? alias : alias ? [alias] : [];
    for (const alias of aliases) byLetter.set(alias, { name, valued: def.type === "string" });
  }
  return byLetter;
}

export function splitArgv(argv: string[], definition: Definition): Split {
  const args = definition.args as ArgsDef;
  const byLetter = letters(args);
  const options: Record<string, string | true> = {};
  const lists: Record<string, string[]> = {};
  const given: [string, string][] = [];
  const set = (name: string, value: string) => {
    options[name] = value;
    (lists[name] ??= []).push(value);
    given.push([name, value]);
  };
  let index = 0;
  for (; index < argv.length; index++) {
    const word = argv[index]!;
    if (word === "--") {
      index++;
      break;
    }
    if (word === "--help") return { options, lists, given, operands: [], help: true };
    if (!word.startsWith("-") || word === "-") break;
    for (let at = 1; at < word.length; at++) {
      const letter = word[at]!;
      if (letter === "h") return { options, lists, given, operands: [], help: true };
      const option = byLetter.get(letter);
      if (!option) throw new UsageError(`unknown option -- '${letter}'`);
      if (!option.valued) {
        options[option.name] = true;
        continue;
      }
      const rest = word.slice(at + 1);
      if (rest !== "") {
        set(option.name, rest);
      } else if (index + 1 < argv.length) {
        set(option.name, argv[++index]!);
      } else {
        throw new UsageError(`option requires an argument -- '${letter}'`);
      }
      break;
    }
  }
  return { options, lists, given, operands: argv.slice(index), help: false };
}

/** Usage text in the original tools' shape, from the command definition. */
export function usage(command: Definition, name: string): string {
  const args = command.args as ArgsDef;
  const meta = command.meta as { description?: string };
  const operands = Object.values(args)
    .filter((def) => def.type === "positional")
    .map((def) => (def.required === false ? `[${def.valueHint}]` : def.valueHint))
    .join(" ");
  const lines = [`Usage: ${name}${hasOptions(args) ? " [OPTIONS]" : ""} ${operands}`];
  if (meta.description) lines.push(meta.description);
  if (hasOptions(args)) lines.push("Options:");
  for (const def of Object.values(args)) {
    if (def.type === "positional") continue;
    const flag = `-${"alias" in def ? def.alias : ""}${def.type === "string" ? ` ${def.valueHint}` : ""}`;
    lines.push(`  ${flag.padEnd(10)}${def.description}`);
  }
  if ("uid" in args) lines.push("GID and UID maps are specified as START:LOWER:COUNT[,START:LOWER:COUNT]...");
  if ("dir" in args) lines.push(`${name} --doctor checks this host for what makes containers fail.`);
  return `${lines.join("\n")}\n`;
}

function hasOptions(args: ArgsDef): boolean {
  return Object.values(args).some((def) => def.type !== "positional");
}
