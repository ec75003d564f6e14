#!/usr/bin/env bun
// The pseudo command: the bundle in dist/ when it is built (it starts faster), else
// the sources. Plain JavaScript loaded with require: nothing to transpile or await on the way.
// A Bun too old for the bundle's CommonJS wrapper gets no main from it: the sources then.
const bundle = `${__dirname}/../dist/pseudo.js`;
const cli = Bun.file(bundle).size > 0 ? require(bundle) : {};
(cli.main ? cli : require("../src/cli/pseudo.ts")).main();
