#!/usr/bin/env bun
// The contain command. Runs the bundled build in dist/ when there is one (it starts several
// times faster), else the sources.
if (process.argv[2] === "--doctor") await (await import("../src/cli/doctor.ts")).main();
const bundle = `${import.meta.dir}/../dist/contain.js`;
const { main } = (await import(Bun.file(bundle).size > 0 ? bundle : "../src/cli/contain.ts")) as typeof import("../src/cli/contain.ts");
await main();
