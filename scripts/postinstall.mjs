// After `npm install` or `bun install`, under Node or Bun (npm runs this with Node, and a
// consumer may have no Bun yet): in a checkout, build the shim, the bundles and the
// declarations with the Bun and Zig of the dev dependencies; in an installed package, only
// say what is missing (this machine's prebuilt shim, Bun itself). It never fails an install.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const scripts = dirname(fileURLToPath(import.meta.url));
const root = dirname(scripts);
const zig = join(root, "node_modules", "@ryoppippi", "zig-linux-x64", "zig");

if (existsSync(join(root, "build.zig")) && existsSync(zig)) {
  // A checkout: npm puts node_modules/.bin, and with it the bun dev dependency, on PATH.
  for (const script of ["build-native.ts", "build-dist.ts", "build-types.ts"]) {
    const result = spawnSync("bun", [join(scripts, script)], { stdio: "inherit" });
    if (result.status !== 0) process.exit(result.status ?? 1);
  }
} else {
  const arch = process.arch === "arm64" ? "aarch64" : "x86_64";
  const library = join(root, "zig-out", "lib", arch, "libcontain.so");
  if (!existsSync(library)) console.error(`bun-contain: no prebuilt ${library} for ${process.arch}: the commands and the library will not run here`);
  const bun = spawnSync("bun", ["--version"], { stdio: "ignore" });
  if (bun.status !== 0) console.error("bun-contain: the commands and the library run on Bun, which is not on PATH: see https://bun.sh");
}
