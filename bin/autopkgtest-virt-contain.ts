#!/usr/bin/env bun
// The autopkgtest-virt-contain command: the bundled build in dist/ when there is one.
const bundle = `${import.meta.dir}/../dist/autopkgtest-virt-contain.js`;
const { main } = (await import(Bun.file(bundle).size > 0 ? bundle : "../src/cli/autopkgtest-virt-contain.ts")) as typeof import("../src/cli/autopkgtest-virt-contain.ts");
await main();
