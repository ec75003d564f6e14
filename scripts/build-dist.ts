// Bundles the commands into dist/: one file each, with citty reduced to what the
// commands use. Run by `bun install` after the shim.
//
// The commands are CommonJS with Bun's bytecode beside them (X.js.jsc), which spares
// JSC parsing the bundle at each start. CommonJS output writes import.meta's paths as
// the build machine's source paths, so the commands take them from their module wrapper
// at run time instead (the banner), which puts them in dist/ wherever it is installed.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const outdir = join(root, "dist");

const result = await Bun.build({
  outdir,
  target: "bun",
  naming: "[name].[ext]",
  minify: { syntax: true, whitespace: true },
  entrypoints: ["contain", "inject", "pseudo", "autopkgtest-virt-contain", "autopkgtest-execute"].map((tool) => join(root, "src", "cli", `${tool}.ts`)),
  format: "cjs",
  bytecode: true,
  // Taken before any module's code runs; the URL only when asked for.
  banner: "var bundleMeta = ((dir, path) => ({ dir, path, get url() { return Bun.pathToFileURL(path).href; } }))(__dirname, __filename);",
  define: {
    CONTAIN_VERSION: JSON.stringify((await Bun.file(join(root, "package.json")).json()).version),
    "import.meta.dir": "bundleMeta.dir",
    "import.meta.dirname": "bundleMeta.dir",
    "import.meta.path": "bundleMeta.path",
    "import.meta.filename": "bundleMeta.path",
    "import.meta.url": "bundleMeta.url",
  },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
// Any path of this checkout left in a bundle would break the package once installed elsewhere;
// and a #! line before Bun's `// @bun @bytecode @bun-cjs` hides it from Bun 1.3, which then
// runs nothing (so the entry points have none).
for (const name of readdirSync(outdir).filter((file) => file.endsWith(".js"))) {
  const text = readFileSync(join(outdir, name), "utf8");
  const problem = text.includes(join(root, "src"))
    ? `names ${join(root, "src")}: an import.meta or __dirname use the build does not rewrite`
    : text.startsWith("#!") ? "starts with #!: drop it from its entry point" : null;
  if (problem) {
    console.error(`dist/${name} ${problem}`);
    process.exit(1);
  }
}
