#!/usr/bin/env bun
// The pseudo command. Runs the bundled build in dist/ when there is one (it starts several
// times faster), else the sources.
const bundle = `${import.meta.dir}/../dist/pseudo.js`;
const { main } = (await import(Bun.file(bundle).size > 0 ? bundle : "../src/cli/pseudo.ts")) as typeof import("../src/cli/pseudo.ts");
await main();
