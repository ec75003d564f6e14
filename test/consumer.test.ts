// A consumer outside the repository imports the package by name, type-checks and runs.
import { expect } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bun, repo, testIf } from "./helpers.ts";

const script = `import { contain, fromHost, pseudo, type Subprocess } from "bun-contain";

const root = await fromHost(["sh"]);
const c: Subprocess = contain({ root: root.path, cmd: ["/bin/sh", "-c", "echo inside $$"], stdout: "pipe" });
const out = await new Response(c.stdout).text();
const status: number = await c.exited;
const p = pseudo({ cmd: ["id", "-u"], stdout: "pipe" });
console.log(out.trim(), status, (await new Response(p.stdout).text()).trim(), await p.exited);
await root.remove();
`;

// The tsconfig that \`bun init\` writes.
const tsconfig = {
  compilerOptions: {
    lib: ["ESNext"],
    target: "ESNext",
    module: "Preserve",
    moduleDetection: "force",
    allowJs: true,
    moduleResolution: "bundler",
    allowImportingTsExtensions: true,
    verbatimModuleSyntax: true,
    noEmit: true,
    strict: true,
    skipLibCheck: true,
    noFallthroughCasesInSwitch: true,
    noUncheckedIndexedAccess: true,
    types: ["bun"],
  },
};

testIf(null, "a consumer imports bun-contain by name, type-checks and runs", () => {
  const dir = mkdtempSync(join(tmpdir(), "contain-consumer-"));
  try {
    mkdirSync(join(dir, "node_modules", "@types"), { recursive: true });
    symlinkSync(repo, join(dir, "node_modules", "bun-contain"));
    symlinkSync(join(repo, "node_modules", "@types", "bun"), join(dir, "node_modules", "@types", "bun"));
    symlinkSync(join(repo, "node_modules", "bun-types"), join(dir, "node_modules", "bun-types"));
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
    writeFileSync(join(dir, "consumer.ts"), script);
    const tsc = Bun.spawnSync([bun, join(repo, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "-p", dir], { cwd: dir });
    expect(tsc.stdout.toString()).toBe("");
    expect(tsc.exitCode).toBe(0);
    const run = Bun.spawnSync([bun, "consumer.ts"], { cwd: dir });
    expect(run.stderr.toString()).toBe("");
    expect(run.stdout.toString()).toBe("inside 1 0 0 0\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
