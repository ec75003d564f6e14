// The npm package: packed from this checkout with `npm pack`, added to an empty project
// with Bun alone (no Zig, no dev dependencies), type-checked by a strict consumer, and
// run by the README's lines, as root and as the test user.
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bun, busyboxReason, busyboxRoot, repo, runners, testIf } from "./helpers.ts";

let project = "";
let tarball = "";
let packError: string | null = null;
const npm = Bun.which("npm");

/** Bun's own directory first, as on a machine with Bun installed (the commands' #! line). */
const PATH = `${dirname(bun)}:${join(repo, "node_modules", ".bin")}:/usr/bin:/bin`;

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), "contain-package-"));
  chmodSync(project, 0o755);
  if (npm === null) {
    packError = "npm is not installed";
    return;
  }
  const pack = Bun.spawnSync([npm, "pack", "--silent", "--pack-destination", project], {
    cwd: repo,
    stderr: "pipe",
    stdout: "pipe",
    env: { ...process.env, PATH: `${join(repo, "node_modules", ".bin")}:${process.env.PATH}` },
  });
  tarball = join(project, readdirSync(project).find((name) => name.endsWith(".tgz")) ?? "missing.tgz");
  if (pack.exitCode !== 0) {
    packError = `npm pack failed: ${pack.stderr.toString()}`;
    return;
  }
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  // `bun add bun-contain`, with the tarball in the registry's place.
  const add = Bun.spawnSync([bun, "add", tarball], { cwd: project, stderr: "pipe", stdout: "pipe", env: { ...process.env, PATH } });
  if (add.exitCode !== 0) packError = `bun add failed: ${add.stderr.toString()}`;
  // Bun alone: neither Zig nor the dev dependencies came along.
  else if (readdirSync(join(project, "node_modules")).some((name) => name.startsWith("@ryoppippi"))) packError = "Zig was installed";
}, 300_000);

afterAll(() => rmSync(project, { recursive: true, force: true }));

// The strictest settings a consumer is likely to have, and none of ours.
const strict = {
  compilerOptions: {
    lib: ["ESNext"],
    target: "ESNext",
    module: "Preserve",
    moduleResolution: "bundler",
    moduleDetection: "force",
    verbatimModuleSyntax: true,
    noEmit: true,
    strict: true,
    skipLibCheck: false,
    noUnusedLocals: true,
    noUnusedParameters: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    noImplicitOverride: true,
    noPropertyAccessFromIndexSignature: true,
    types: ["bun"],
  },
};

const consumer = `import { contain, fromHost, pseudo, type Subprocess } from "bun-contain";

await using root = await fromHost(["sh"]);
const c: Subprocess = contain({ root: root.path, cmd: ["/bin/sh", "-c", "echo inside $$"], stdout: "pipe", ephemeral: true });
const out = await new Response(c.stdout).text();
const p = pseudo({ cmd: ["id", "-u"], stdout: "pipe", timeout: 10_000 });
console.log(out.trim(), await c.exited, (await new Response(p.stdout).text()).trim(), await p.exited);
`;

const misspelt = `import { contain, inject } from "bun-contain";

contain({ root: "/srv/root", ephemral: true });
inject({ pid: 1, timout: 5 });
contain({ root: "/srv/root", hostnetwork: true });
`;

function typeCheck(files: Record<string, string>) {
  const dir = join(project, `check-${Object.keys(files)[0]!.replace(/\.ts$/, "")}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ ...strict, include: Object.keys(files) }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  // Bun's types and TypeScript, as a consumer's devDependencies would give them.
  mkdirSync(join(project, "node_modules", "@types"), { recursive: true });
  for (const name of ["@types/bun", "bun-types", "@types/node", "undici-types"]) {
    const link = join(project, "node_modules", name);
    if (!Bun.file(join(link, "package.json")).size) rmSync(link, { force: true, recursive: true });
    try {
      symlinkSync(join(repo, "node_modules", name), link);
    } catch {}
  }
  return Bun.spawnSync([bun, join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", dir], { cwd: dir, env: { ...process.env, BUN_BE_BUN: "1" } });
}

testIf(null, "a strict consumer type-checks against the package's declarations, and runs", () => {
  expect(packError).toBeNull();
  const tsc = typeCheck({ "consumer.ts": consumer });
  expect(tsc.stdout.toString()).toBe("");
  expect(tsc.exitCode).toBe(0);
  const run = Bun.spawnSync([bun, join(project, "check-consumer", "consumer.ts")], { cwd: project, env: { ...process.env, PATH } });
  expect(run.stderr.toString()).toBe("");
  expect(run.stdout.toString()).toBe(`inside 1 0 0 0\n`);
}, 120_000);

testIf(null, "a misspelt option is a type error", () => {
  expect(packError).toBeNull();
  const tsc = typeCheck({ "misspelt.ts": misspelt });
  const errors = tsc.stdout.toString().trim().split("\n");
  expect(errors).toHaveLength(3);
  expect(errors[0]).toStartWith("misspelt.ts(3,30): error TS2322: Type 'true' is not assignable to type 'never'.");
  expect(errors[1]).toStartWith("misspelt.ts(4,18): error TS2322: Type 'number' is not assignable to type 'never'.");
  expect(errors[2]).toStartWith("misspelt.ts(5,30): error TS2322");
  expect(tsc.exitCode).toBe(2);
}, 120_000);

testIf(npm === null ? "npm is not installed" : null, "npm install with Node and no Bun on PATH: the install and its postinstall succeed", () => {
  expect(packError).toBeNull();
  const dir = join(project, "npm-consumer");
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "npm-consumer", private: true }));
  // No Bun, and no network: citty from this checkout's node_modules, packed beside ours.
  const env = { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: process.env.HOME ?? "/root" };
  expect(Bun.which("bun", { PATH: env.PATH })).toBeNull();
  const citty = Bun.spawnSync([npm!, "pack", "--ignore-scripts", "--silent", "--pack-destination", dir], { cwd: join(repo, "node_modules", "citty"), env });
  expect(citty.exitCode).toBe(0);
  const install = Bun.spawnSync([npm!, "install", "--offline", "--no-audit", "--no-fund", join(dir, citty.stdout.toString().trim()), tarball], { cwd: dir, env });
  expect(install.exitCode).toBe(0);
  // npm may hold dependencies' install scripts back for approval: rebuild runs ours as install would.
  const postinstall = Bun.spawnSync([npm!, "rebuild", "bun-contain", "--foreground-scripts"], { cwd: dir, env });
  expect(postinstall.stdout.toString()).toContain("node scripts/postinstall.mjs");
  expect(postinstall.stdout.toString() + postinstall.stderr.toString()).toContain("bun-contain: the commands and the library run on Bun, which is not on PATH");
  expect(postinstall.exitCode).toBe(0);
  expect(readdirSync(join(dir, "node_modules", ".bin")).sort()).toEqual(["autopkgtest-virt-contain", "bun-contain", "contain", "inject", "pseudo"]);
}, 120_000);

for (const runner of runners) {
  describe(`the package as ${runner.name}`, () => {
    const reason = runner.reason ?? busyboxReason;
    testIf(reason, "the README's lines: bunx bun-contain, bunx -p bun-contain pseudo, bun add -g", () => {
      expect(packError).toBeNull();
      const [root, done] = busyboxRoot(runner);
      const env = { ...process.env, HOME: "/tmp", PATH };
      const bunx = (args: string[]) => Bun.spawnSync([...runner.prefix, bun, "x", ...args], { cwd: project, env, stderr: "pipe" });
      const contained = bunx(["bun-contain", "-c", root, "/bin/sh", "-c", "echo $$"]);
      const pseudo = bunx(["-p", "bun-contain", "pseudo", "id", "-u"]);
      done();
      expect(contained.stderr.toString()).toBe("");
      expect(contained.stdout.toString()).toBe("1\n");
      expect(pseudo.stdout.toString()).toBe("0\n");
      expect(pseudo.exitCode).toBe(0);
    });

    testIf(runner.reason, "bun add -g puts the four commands on PATH", () => {
      expect(packError).toBeNull();
      const home = mkdtempSync(join(tmpdir(), "contain-global-"));
      try {
        chmodSync(home, 0o755);
        if (runner.uid > 0) Bun.spawnSync(["chown", `${runner.uid}:${runner.gid}`, home]);
        const env = { ...process.env, HOME: home, BUN_INSTALL: join(home, ".bun"), PATH };
        // `bun add -g bun-contain`, with the tarball in the registry's place.
        const add = Bun.spawnSync([...runner.prefix, bun, "add", "-g", tarball], { cwd: home, env, stderr: "pipe", stdout: "pipe" });
        expect(add.stderr.toString()).not.toContain("error");
        const bin = join(home, ".bun", "bin");
        expect(readdirSync(bin).sort()).toEqual(["autopkgtest-virt-contain", "bun-contain", "contain", "inject", "pseudo"]);
        const pseudo = Bun.spawnSync([...runner.prefix, join(bin, "pseudo"), "id", "-u"], { cwd: home, env: { ...env, PATH: `${bin}:${PATH}` } });
        expect(pseudo.stderr.toString()).toBe("");
        expect(pseudo.stdout.toString()).toBe("0\n");
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    }, 60_000);
  });
}
