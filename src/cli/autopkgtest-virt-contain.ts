// autopkgtest-virt-contain: autopkgtest's virtualisation server on a container.
import { NAME, parseServerArgs, Server, type ServerOptions, serve, UsageError, usage } from "../autopkgtest.ts";
import { Status } from "../errors.ts";
import { signals } from "../signals.ts";

export async function main(): Promise<never> {
  let options: ServerOptions | "help";
  try {
    options = parseServerArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${NAME}: ${error.message}\n${usage}`);
    process.exit(Status.usage);
  }
  if (options === "help") {
    process.stdout.write(usage);
    process.exit(0);
  }
  const server = new Server(options);
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
