// getopt("+...") for citty command definitions: options end at the first operand or "--",
// so everything after DIR or CMD belongs to CMD. citty's own parser permutes argv and
// would take CMD's flags as ours, so it only supplies the definitions and usage text.
import type { ArgsDef, CommandDef } from "citty";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any command definition will do
export type Definition = Pick<CommandDef<any>, "meta" | "args">;

export class UsageError extends Error {}

/** A word of argv: text, or the bytes the kernel gave when they are not UTF-8. */
export type Word = string | Uint8Array;

export interface Split<W extends Word = string> {
  /** Option values by argument name: a word for valued options (the last one given),
   *  true for flags. */
  options: Record<string, W | true>;
  /** Every value of each valued option, in order, for options that may be repeated. */
  lists: Record<string, W[]>;
  /** Every valued option as [name, value], in command-line order. */
  given: [string, W][];
  operands: W[];
  help: boolean;
}

const decoder = new TextDecoder();

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

/** Splits argv. Words may be bytes: operands and option values come back as given (the
 *  letters before an attached value are ASCII, so its offset is the same in bytes). */
export function splitArgv(argv: readonly string[], definition: Definition): Split<string>;
export function splitArgv<W extends Word>(argv: readonly W[], definition: Definition): Split<W>;
export function splitArgv<W extends Word>(argv: readonly W[], definition: Definition): Split<W> {
  const args = definition.args as ArgsDef;
  const byLetter = letters(args);
  const options: Record<string, W | true> = {};
  const lists: Record<string, W[]> = {};
  const given: [string, W][] = [];
  const set = (name: string, value: W) => {
    options[name] = value;
    (lists[name] ??= []).push(value);
    given.push([name, value]);
  };
  let index = 0;
  for (; index < argv.length; index++) {
    const raw = argv[index]!;
    const word = typeof raw === "string" ? raw : decoder.decode(raw);
    if (word === "--") {
      index++;
      break;
    }
    if (word === "--help") return { options, lists, given, operands: [], help: true };
    if (word.startsWith("--")) {
      // --NAME VALUE, --NAME=VALUE or --NAME, for the options that have no letter.
      const equals = word.indexOf("=");
      const name = word.slice(2, equals < 0 ? undefined : equals);
      const def = args[name];
      if (!def || def.type === "positional" || ("alias" in def && def.alias)) throw new UsageError(`unrecognized option '--${name}'`);
      if (def.type !== "string") {
        if (equals >= 0) throw new UsageError(`option '--${name}' doesn't allow an argument`);
        options[name] = true;
      } else if (equals >= 0) {
        set(name, raw.slice(equals + 1) as W);
      } else if (index + 1 < argv.length) {
        set(name, argv[++index]!);
      } else {
        throw new UsageError(`option '--${name}' requires an argument`);
      }
      continue;
    }
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
      if (at + 1 < word.length) {
        set(option.name, raw.slice(at + 1) as W);
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
  const flags = Object.entries(args)
    .filter(([, def]) => def.type !== "positional")
    .map(([name, def]) => [`${"alias" in def && def.alias ? `-${def.alias}` : `--${name}`}${def.type === "string" ? ` ${def.valueHint}` : ""}`, def.description] as const);
  // The original's column, wider only as far as the longest option needs.
  const width = Math.max(10, ...flags.map(([flag]) => flag.length + 2));
  for (const [flag, description] of flags) lines.push(`  ${flag.padEnd(width)}${description}`);
  if ("uid" in args) lines.push("GID and UID maps are specified as START:LOWER:COUNT[,START:LOWER:COUNT]...");
  if ("dir" in args) lines.push(`${name} --doctor checks this host for what makes containers fail.`);
  return `${lines.join("\n")}\n`;
}

function hasOptions(args: ArgsDef): boolean {
  return Object.values(args).some((def) => def.type !== "positional");
}
