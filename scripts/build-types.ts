// Declaration files for the library in dist/types/, which package.json's `types` names:
// a consumer type-checks against them under its own settings, not against our sources
// (whose .ts imports and settings are ours). Run by the build and before packing.
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const outdir = join(root, "dist", "types");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

rmSync(outdir, { recursive: true, force: true });
const result = Bun.spawnSync([process.execPath, tsc, "-p", join(root, "tsconfig.types.json")], {
  cwd: root,
  stdout: "inherit",
  stderr: "inherit",
  env: { ...process.env, BUN_BE_BUN: "1" },
});
if (result.exitCode !== 0) process.exit(result.exitCode ?? 1);
// tsc keeps the sources' "./x.ts" in what it emits; a consumer without
// allowImportingTsExtensions needs "./x.js", which resolves to x.d.ts.
for (const name of readdirSync(outdir).filter((file) => file.endsWith(".d.ts"))) {
  const path = join(outdir, name);
  writeFileSync(path, readFileSync(path, "utf8").replace(/(from "\.{1,2}\/[^"]+)\.ts"/g, '$1.js"').replace(/(import\("\.{1,2}\/[^"]+)\.ts"\)/g, '$1.js")'));
}
