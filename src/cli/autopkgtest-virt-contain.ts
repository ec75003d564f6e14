// autopkgtest-virt-contain: autopkgtest's virtualisation server on a container.
import { defineCommand } from "citty";
import type { Split } from "../argv.ts";
import { NAME, Server, type ServerOptions, serve } from "../autopkgtest.ts";
import { signals } from "../signals.ts";
import { parseArgs } from "./run.ts";

export const command = defineCommand({
  meta: {
    name: NAME,
    description: "Serve autopkgtest's virtualisation protocol on stdin and stdout, with an ephemeral\ncontainer on DIR, or on the root filesystem in TARBALL, as the testbed.",
  },
  args: {
    bind: { type: "string", alias: "b", valueHint: "OUTSIDE INSIDE", description: "bind the host directory OUTSIDE at INSIDE in the testbed" },
    debug: { type: "boolean", alias: "d", description: "log the protocol and the testbed's commands on stderr" },
    network: { type: "boolean", alias: "n", description: "share the host network (the testbed has none otherwise)" },
    source: { type: "positional", valueHint: "TARBALL|DIR", required: true },
  },
});

/** The server's options from its split argv, or what is wrong with them. Pure. */
export function serverOptions(split: Split<string>): ServerOptions | string {
  if (split.operands.length !== 1) return split.operands.length ? "too many operands" : "missing TARBALL or DIR";
  const words = split.lists.bind ?? [];
  const binds: [string, string][] = [];
  for (let index = 0; index < words.length; index += 2) {
    const inside = words[index + 1]!;
    if (!inside.startsWith("/")) return `${inside} must be an absolute path in the testbed`;
    binds.push([words[index]!, inside]);
  }
  return { source: split.operands[0]!, binds, network: split.options.network === true, debug: split.options.debug === true };
}

export async function main(): Promise<never> {
  let options: ServerOptions | undefined;
  parseArgs(
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
