// After `bun install` (or npm install): in a checkout with the dev dependencies, build the
// shim and the bundles; in an installed package, check that this machine's prebuilt shim
// is there.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const zig = join(root, "node_modules", "@ryoppippi", "zig-linux-x64", "zig");

if (existsSync(zig)) {
  for (const script of ["build-native.ts", "build-dist.ts", "build-types.ts"]) {
    const result = Bun.spawnSync([process.execPath, join(import.meta.dir, script)], { stdout: "inherit", stderr: "inherit" });
    if (result.exitCode !== 0) process.exit(result.exitCode ?? 1);
  }
} else {
  const arch = process.arch === "arm64" ? "aarch64" : "x86_64";
  const library = join(root, "zig-out", "lib", arch, "libcontain.so");
  if (!existsSync(library)) {
    console.error(`contain: no prebuilt ${library} for ${process.arch}; build it from a checkout with \`bun run build\``);
  }
}
