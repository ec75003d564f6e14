#!/usr/bin/env bun
// The inject command. Runs the bundled build in dist/ when there is one (it starts several
// times faster), else the sources.
const bundle = `${import.meta.dir}/../dist/inject.js`;
const { main } = (await import(Bun.file(bundle).size > 0 ? bundle : "../src/cli/inject.ts")) as typeof import("../src/cli/inject.ts");
await main();
