// Bundles the commands and the console relay's Worker into dist/: one file each,
// with citty reduced to what the commands use. Run by `bun install` after the shim.
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const result = await Bun.build({
  entrypoints: ["contain", "inject", "pseudo", "autopkgtest-virt-contain", "autopkgtest-execute"].map((tool) => join(root, "src", "cli", `${tool}.ts`)),
  outdir: join(root, "dist"),
  target: "bun",
  naming: "[name].[ext]",
  minify: { syntax: true, whitespace: true },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
