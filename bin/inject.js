#!/usr/bin/env bun
// The inject command: the bundle in dist/ when it is built (it starts faster), else
// the sources. Plain JavaScript loaded with require: nothing to transpile or await on the way.
// A Bun too old for the bundle's CommonJS wrapper gets no main from it: the sources then.
const bundle = `${__dirname}/../dist/inject.js`;
const cli = Bun.file(bundle).size > 0 ? require(bundle) : {};
(cli.main ? cli : require("../src/cli/inject.ts")).main();
