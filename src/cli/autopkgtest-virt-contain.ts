// autopkgtest-virt-contain: autopkgtest's virtualisation server on a container.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { defineCommand } from "citty";
import type { Split } from "../argv.ts";
import { checkSource, NAME, sbuildCache, sbuildTarball, Server, type ServerOptions, serve } from "../autopkgtest.ts";
import { ContainError, Errno } from "../errors.ts";
import { signals } from "../signals.ts";
import { parseArgs } from "./run.ts";

export const command = defineCommand({
  meta: {
    name: NAME,
    description:
      "Serve autopkgtest's virtualisation protocol on stdin and stdout, with an ephemeral\n" +
      "container on DIR, or on the root filesystem in TARBALL, as the testbed. Without either,\n" +
      "sbuild's tarball RELEASE-ARCH.t* in $XDG_CACHE_HOME/sbuild (~/.cache/sbuild).",
  },
  args: {
    tarball: { type: "string", alias: "t", valueHint: "TARBALL", description: "the testbed's root filesystem, as a tarball" },
    release: { type: "string", alias: "r", valueHint: "RELEASE", description: "without -t: the release of sbuild's tarball (default: any)" },
    arch: { type: "string", alias: "a", valueHint: "ARCH", description: "without -t: the Debian architecture of sbuild's tarball (default: any)" },
    bind: { type: "string", alias: "b", valueHint: "OUTSIDE INSIDE", description: "bind the host directory OUTSIDE at INSIDE in the testbed" },
    debug: { type: "boolean", alias: "d", description: "log the protocol and the testbed's commands on stderr" },
    prefix: { type: "string", alias: "p", valueHint: "PREFIX", description: "extract the tarball in a new directory whose name starts with PREFIX" },
    unpackDir: { type: "string", alias: "u", valueHint: "DIR", description: "extract the tarball in DIR, which must not exist (removed at the end)" },
    network: { type: "boolean", alias: "n", description: "share the host's network (default: a private one where pasta can give it)" },
    noNetwork: { type: "boolean", description: "no network but the testbed's own loopback" },
    source: { type: "positional", valueHint: "TARBALL|DIR", required: false },
  },
});

/** The server's options from its split argv, or what is wrong with them. Without a source,
 *  `source` is empty: findSource looks for sbuild's tarball. Pure. */
export function serverOptions(split: Split<string>): ServerOptions | string {
  if (split.operands.length > 1) return "too many operands";
  const tarball = typeof split.options.tarball === "string" ? split.options.tarball : undefined;
  if (tarball !== undefined && split.operands.length > 0) return "-t TARBALL and an operand TARBALL|DIR: give one";
  if (split.options.network === true && split.options.noNetwork === true) return "--network and --no-network: give one";
  const words = split.lists.bind ?? [];
  const binds: [string, string][] = [];
  for (let index = 0; index < words.length; index += 2) {
    const inside = words[index + 1]!;
    if (!inside.startsWith("/")) return `${inside} must be an absolute path in the testbed`;
    binds.push([words[index]!, inside]);
  }
  const text = (name: string) => (typeof split.options[name] === "string" ? (split.options[name] as string) : undefined);
  return {
    source: split.operands[0] ?? tarball ?? "",
    binds,
    network: split.options.noNetwork === true ? "none" : split.options.network === true ? "host" : "auto",
    debug: split.options.debug === true,
    prefix: text("prefix"),
    unpackDir: text("unpackDir"),
  };
}

/** Without TARBALL or DIR: sbuild's tarball for -r and -a, as autopkgtest-virt-unshare
 *  finds it. Throws a ContainError when there is none. */
function findSource(split: Split<string>): string {
  const dir = sbuildCache(process.env);
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    // No cache: nothing found, said below.
  }
  const release = typeof split.options.release === "string" ? split.options.release : "*";
  const arch = typeof split.options.arch === "string" ? split.options.arch : "*";
  const found = sbuildTarball(names, release, arch);
  if (found === undefined) {
    throw new ContainError(`Cannot find a tarball ${release}-${arch}.t* in ${dir}: give one with -t TARBALL (or TARBALL|DIR)`, {
      step: "find tarball",
      errno: Errno.ENOENT,
    });
  }
  return join(dir, found);
}

export async function main(): Promise<never> {
  let options: ServerOptions | undefined;
  const split = parseArgs(
    command,
    NAME,
    (split) => {
      const parsed = serverOptions(split);
      if (typeof parsed === "string") return parsed;
      options = parsed;
      return null;
    },
    process.argv.slice(2),
  );
  // Before the first "ok": a source that is not there fails here, in one line.
  try {
    if (options!.source === "") options!.source = findSource(split as Split<string>);
    checkSource(options!);
  } catch (error) {
    if (!(error instanceof ContainError)) throw error;
    process.stderr.write(`${NAME}: ${error.message}\n`);
    process.exit(error.status);
  }
  const server = new Server(options!);
  // As the protocol asks: on a signal, close the testbed (nothing left behind), then die of it.
  for (const name of ["SIGHUP", "SIGINT", "SIGTERM"] as const) {
    process.on(name, async () => {
      await server.finish().catch(() => {});
      process.removeAllListeners(name);
      process.kill(process.pid, signals[name]);
      process.exit(128 + signals[name]);
    });
  }
  // A caller that is gone cannot read replies: close the testbed and stop.
  process.stdout.on("error", async () => {
    await server.finish().catch(() => {});
    process.exit(12);
  });
  process.exit(await serve(server));
}

// Not awaited (main exits by itself; a rejection still ends us with status 1): a top-level
// await would keep the bundle from being CommonJS with bytecode (scripts/build-dist.ts).
if (import.meta.main) main();
