import { defineCommand } from "citty";
import type { Split } from "../argv.ts";
import { type Mount, startContain } from "../contain.ts";
import { type NetworkMode, parsePublish, type PublishedPort } from "../network.ts";
import { type Arg, argText } from "../arg.ts";
import { isTerminal } from "../native.ts";
import type { Limits } from "../cgroup.ts";
import { commandEnvironment, optionText, optionWord, parseArgs, say, supervise } from "./run.ts";

export const command = defineCommand({
  meta: { name: "contain", description: "Run CMD (default /bin/sh) as PID 1 of a container with DIR as its root." },
  args: {
    bind: { type: "string", alias: "b", valueHint: "SRC:DST[:ro]", description: "bind host SRC at DST (read-only with :ro); repeatable" },
    noConsole: { type: "boolean", alias: "c", description: "no console, even on a terminal: CMD uses contain's stdin, stdout and stderr" },
    console: { type: "boolean", alias: "C", description: "a console even when stdin or stdout is not a terminal" },
    ephemeral: { type: "boolean", alias: "e", description: "throwaway root: writes go to a tmpfs, DIR stays unchanged" },
    env: { type: "string", alias: "E", valueHint: "NAME=VALUE", description: "set an environment variable for CMD; repeatable" },
    gidMap: { type: "string", alias: "g", valueHint: "MAP", description: "set the container-to-host GID map" },
    inside: { type: "string", alias: "i", valueHint: "CMD", description: "run a helper child inside the new namespaces" },
    hostNetwork: { type: "boolean", alias: "n", description: "share the host network unprivileged in the container" },
    network: { type: "string", valueHint: "MODE", description: "none (default), host (as -n) or private (its own, through pasta)" },
    publish: { type: "string", alias: "p", valueHint: "PORTS", description: "publish a port of a private network on the host: [HOSTIP:]HOSTPORT:PORT[/udp]; repeatable" },
    outside: { type: "string", alias: "o", valueHint: "CMD", description: "run a helper child outside the new namespaces" },
    tmpfs: { type: "string", alias: "t", valueHint: "DST", description: "mount a fresh tmpfs at DST; repeatable" },
    uidMap: { type: "string", alias: "u", valueHint: "MAP", description: "set the container-to-host UID map" },
    workdir: { type: "string", alias: "w", valueHint: "DIR", description: "run CMD in DIR inside the container (default /)" },
    memory: { type: "string", valueHint: "SIZE", description: "limit the container's memory (bytes, or with k, m, g)" },
    pids: { type: "string", valueHint: "N", description: "limit the container to N processes and threads" },
    cpus: { type: "string", valueHint: "N", description: "limit the container to N CPUs' worth of time (0.5, 2)" },
    dir: { type: "positional", valueHint: "DIR", required: true },
    command: { type: "positional", valueHint: "CMD [ARG]...", required: false },
  },
});

/** -b SRC:DST[:ro] and -t DST, in the order given on the command line. */
export function parseMounts(split: Pick<Split<Arg>, "given">): Mount[] | string {
  const mounts: Mount[] = [];
  for (const [name, word] of split.given) {
    const value = argText(word);
    if (name === "tmpfs") mounts.push({ type: "tmpfs", target: value });
    if (name !== "bind") continue;
    const bind = parseBind(value);
    if (typeof bind === "string") return bind;
    mounts.push(bind);
  }
  return mounts;
}

export function parseBind(text: string): Mount | string {
  const parts = text.split(":");
  const readonly = parts.length === 3 && parts[2] === "ro";
  if (!(parts.length === 2 || readonly) || !parts[0] || !parts[1]) return `bad bind ${text}: expected SRC:DST or SRC:DST:ro`;
  return { type: "bind", source: parts[0], target: parts[1], readonly };
}

/** --memory, --pids and --cpus, checked as the library checks them (hierarchy.ts). */
export function parseLimits(options: Record<string, unknown>): Limits | string {
  const limits: Limits = {};
  const memory = optionText(options.memory as string | undefined);
  if (memory !== undefined) {
    if (!/^\d+[kmgt]?$/i.test(memory)) return `bad --memory ${memory}: expected bytes, or a number with k, m, g or t`;
    limits.memory = memory;
  }
  for (const name of ["pids", "cpus"] as const) {
    const text = optionText(options[name] as string | undefined);
    if (text === undefined) continue;
    const value = Number(text);
    if (text.trim() === "" || !Number.isFinite(value) || value <= 0 || (name === "pids" && !Number.isInteger(value))) {
      return `bad --${name} ${text}: expected ${name === "pids" ? "a whole number" : "a number"} above 0`;
    }
    limits[name] = value;
  }
  return limits;
}

/** -E NAME=VALUE, later ones winning. */
export function parseEnv(texts: string[]): Record<string, string> | string {
  const env: Record<string, string> = {};
  for (const text of texts) {
    const at = text.indexOf("=");
    if (at <= 0) return `bad environment variable ${text}: expected NAME=VALUE`;
    env[text.slice(0, at)] = text.slice(at + 1);
  }
  return env;
}

export async function main(): Promise<never> {
  let mounts: Mount[] = [];
  let env: Record<string, string> = {};
  let limits: Limits = {};
  let network: NetworkMode | undefined;
  const ports: PublishedPort[] = [];
  const { options, operands } = parseArgs(command, "contain", (split) => {
    if (split.operands.length === 0) return "missing DIR";
    if (split.options.console && split.options.noConsole) return "-c and -C cannot be used together";
    const mode = optionText(split.options.network);
    if (mode !== undefined && mode !== "none" && mode !== "host" && mode !== "private") {
      return `bad network ${mode}: expected none, host or private`;
    }
    if (split.options.hostNetwork === true && mode !== undefined && mode !== "host") return `-n conflicts with --network ${mode}`;
    network = split.options.hostNetwork === true ? "host" : (mode as NetworkMode | undefined);
    for (const text of (split.lists.publish ?? []).map(argText)) {
      const port = parsePublish(text);
      if (typeof port === "string") return port;
      ports.push(port);
    }
    if (ports.length > 0 && network !== "private") return "-p needs --network private";
    const parsedMounts = parseMounts(split);
    if (typeof parsedMounts === "string") return parsedMounts;
    const parsedEnv = parseEnv((split.lists.env ?? []).map(argText));
    if (typeof parsedEnv === "string") return parsedEnv;
    const parsedLimits = parseLimits(split.options);
    if (typeof parsedLimits === "string") return parsedLimits;
    mounts = parsedMounts;
    env = parsedEnv;
    limits = parsedLimits;
    return null;
  });
  // A console where contain is used from a terminal, as systemd-nspawn decides: output
  // that goes to a pipe or a file stays CMD's own, stdout and stderr apart.
  const withConsole = options.console === true || (options.noConsole !== true && isTerminal(0) && isTerminal(1));
  return supervise("contain", () =>
    startContain({
      root: operands[0]!,
      cmd: operands.slice(1),
      console: withConsole,
      uidMap: optionText(options.uidMap),
      gidMap: optionText(options.gidMap),
      network,
      ports,
      inside: optionWord(options.inside),
      outside: optionWord(options.outside),
      env,
      helperEnv: commandEnvironment(),
      cwd: optionText(options.workdir),
      mounts,
      ephemeral: options.ephemeral === true,
      limits,
      onWarning: (message) => say(`contain: ${message}`),
    }),
    // With a console, init has a terminal and a session of its own.
    {
      terminalReachesChild: !withConsole,
      ended: (child) => {
        const kills = child.usage?.oomKills ?? 0;
        if (kills > 0) say(`contain: the OOM killer killed ${kills === 1 ? "a process" : `${kills} processes`} in the container (its memory limit is ${limits.memory ?? "its parent's"})`);
      },
    },
  );
}

// Not awaited (main exits by itself; a rejection still ends us with status 1): a top-level
// await would keep the bundle from being CommonJS with bytecode (scripts/build-dist.ts).
if (import.meta.main) main();
