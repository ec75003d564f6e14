// getopt_long("+...") for citty command definitions: options end at the first operand or
// "--", so everything after DIR or CMD belongs to CMD. citty's own parser permutes argv and
// would take CMD's flags as ours, so it only supplies the definitions, and the usage text
// comes from them. An argument's key is its long option in kebab-case (`hostNetwork` is
// `--host-network`) and its alias the short one, so a new option is one line of `args`.
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
  /** Every value of each valued option, in order, for options that may be repeated; an
   *  option of several words (`--bind OUTSIDE INSIDE`) adds them one after another. */
  lists: Record<string, W[]>;
  /** Every valued option as [name, value], in command-line order. */
  given: [string, W][];
  operands: W[];
  help: boolean;
  version: boolean;
}

interface Option {
  name: string;
  /** How many words it takes: 0 for a flag; a string option as many as its valueHint
   *  names (`OUTSIDE INSIDE`: 2), at least 1. */
  words: number;
}

const decoder = new TextDecoder();

/** `hostNetwork` as a long option: `host-network`. */
export function longName(key: string): string {
  // A loop, not a regular expression: this runs on every start, pseudo's included.
  let name = "";
  for (let at = 0; at < key.length; at++) {
    const letter = key[at]!;
    name += letter >= "A" && letter <= "Z" ? `-${letter.toLowerCase()}` : letter;
  }
  return name;
}

function optionOf(name: string, def: ArgsDef[string]): Option {
  return { name, words: def.type === "string" ? Math.max(1, (def.valueHint ?? "").split(" ").length) : 0 };
}

function shortOptions(args: ArgsDef): Map<string, Option> {
  const short = new Map<string, Option>();
  for (const name in args) {
    const def = args[name]!;
    const alias = "alias" in def ? def.alias : undefined;
    for (const letter of Array.isArray(alias) ? alias : alias ? [alias] : []) short.set(letter, optionOf(name, def));
  }
  return short;
}

/** The option named `--long`, looked for only when a long option is given (not on pseudo's way). */
function longOption(args: ArgsDef, long: string): Option | undefined {
  for (const name in args) if (args[name]!.type !== "positional" && longName(name) === long) return optionOf(name, args[name]!);
  return undefined;
}

/** Splits argv. Words may be bytes: operands and option values come back as given (the
 *  letters before an attached value are ASCII, so its offset is the same in bytes). */
export function splitArgv(argv: readonly string[], definition: Definition): Split<string>;
export function splitArgv<W extends Word>(argv: readonly W[], definition: Definition): Split<W>;
export function splitArgv<W extends Word>(argv: readonly W[], definition: Definition): Split<W> {
  const args = definition.args as ArgsDef;
  const short = shortOptions(args);
  const split: Split<W> = { options: {}, lists: {}, given: [], operands: [], help: false, version: false };
  let index = 0;
  // Takes option's values: the attached one (from `at` in the word, or none when at is
  // -1), then whole words.
  const take = (option: Option, raw: W, at: number, shown: string) => {
    const values: W[] = at < 0 ? [] : [raw.slice(at) as W];
    while (values.length < option.words && index + 1 < argv.length) values.push(argv[++index]!);
    if (values.length < option.words) {
      throw new UsageError(shown.startsWith("--") ? `option '${shown}' requires an argument` : `option requires an argument -- '${shown}'`);
    }
    for (const value of values) {
      split.options[option.name] = value;
      (split.lists[option.name] ??= []).push(value);
      split.given.push([option.name, value]);
    }
  };
  for (; index < argv.length; index++) {
    const raw = argv[index]!;
    const word = typeof raw === "string" ? raw : decoder.decode(raw);
    if (word === "--") {
      index++;
      break;
    }
    if (!word.startsWith("-") || word === "-") break;
    if (word.startsWith("--")) {
      const equals = word.indexOf("=");
      const name = word.slice(2, equals < 0 ? undefined : equals);
      if (name === "help" || name === "version") {
        split[name] = true;
        return split;
      }
      const option = longOption(args, name);
      if (!option) throw new UsageError(`unrecognized option '--${name}'`);
      if (option.words === 0) {
        if (equals >= 0) throw new UsageError(`option '--${name}' doesn't allow an argument`);
        split.options[option.name] = true;
      } else {
        // The name is ASCII, so "=" is at the same offset in the bytes.
        take(option, raw, equals < 0 ? -1 : equals + 1, `--${name}`);
      }
      continue;
    }
    for (let at = 1; at < word.length; at++) {
      const letter = word[at]!;
      if (letter === "h") {
        split.help = true;
        return split;
      }
      const option = short.get(letter);
      if (!option) throw new UsageError(`invalid option -- '${letter}'`);
      if (option.words === 0) {
        split.options[option.name] = true;
        continue;
      }
      take(option, raw, at + 1 < word.length ? at + 1 : -1, letter);
      break;
    }
  }
  split.operands = argv.slice(index);
  return split;
}

/** The line after a usage error, as GNU's tools print it. */
export function tryHelp(name: string): string {
  return `Try '${name} --help' for more information.`;
}

/** Help text in the original tools' shape, from the command definition. */
export function usage(command: Definition, name: string): string {
  const args = command.args as ArgsDef;
  const meta = command.meta as { description?: string };
  const operands = Object.values(args)
    .filter((def) => def.type === "positional")
    .map((def) => (def.required === false ? `[${def.valueHint}]` : def.valueHint))
    .join(" ");
  const lines = [`Usage: ${name} [OPTIONS] ${operands}`];
  if (meta.description) lines.push(meta.description);
  lines.push("Options:");
  const flags = Object.entries(args)
    .filter(([, def]) => def.type !== "positional")
    .map(([key, def]) => {
      const alias = "alias" in def && def.alias ? `-${def.alias}, ` : "    ";
      const value = def.type === "string" ? ` ${def.valueHint}` : "";
      return [`${alias}--${longName(key)}${value}`, def.description] as const;
    });
  flags.push(["-h, --help", "display this help and exit"], ["    --version", "output version information and exit"]);
  const width = Math.max(...flags.map(([flag]) => flag.length + 2));
  for (const [flag, description] of flags) lines.push(`  ${flag.padEnd(width)}${description ?? ""}`);
  if ("uidMap" in args) lines.push("GID and UID maps are specified as START:LOWER:COUNT[,START:LOWER:COUNT]...");
  if ("dir" in args) lines.push(`${name} --doctor checks this host for what makes containers fail.`);
  return `${lines.join("\n")}\n`;
}
