#!/usr/bin/env bun
// The autopkgtest-virt-contain command: the bundle in dist/ when it is built (it starts faster), else
// the sources. Plain JavaScript loaded with require: nothing to transpile or await on the way.
// A Bun too old for the bundle's CommonJS wrapper gets no main from it: the sources then.
// Missing is found out by trying: a look first with Bun.file would cost 2 MB of a 30 MB start.
try {
  let cli = {};
  try {
    cli = require("../dist/autopkgtest-virt-contain.js");
  } catch (error) {
    if (error?.code !== "MODULE_NOT_FOUND" || !String(error.message).includes("dist/autopkgtest-virt-contain.js")) throw error;
  }
  (cli.main ? cli : require("../src/cli/autopkgtest-virt-contain.ts")).main();
} catch (error) {
  // What loading can meet (the native library missing): one line and its status, 125.
  if (error?.name !== "ContainError") throw error;
  process.stderr.write(`autopkgtest-virt-contain: ${error.message}\n`);
  process.exit(error.status);
}
