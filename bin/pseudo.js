#!/bin/sh
":" //; export CONTAIN_CALLER_NOFILE="$(ulimit -Sn)"; exec bun "$0" "$@"
// The line above is for sh, and a string for Bun: it notes the caller's open files limit
// (src/limits.ts), which Bun raises as it starts, and runs Bun on this file.
// The pseudo command: the bundle in dist/ when it is built (it starts faster), else
// the sources. Plain JavaScript loaded with require: nothing to transpile or await on the way.
// A Bun too old for the bundle's CommonJS wrapper gets no main from it: the sources then.
// Missing is found out by trying: a look first with Bun.file would cost 2 MB of a 30 MB start.
try {
  let cli = {};
  try {
    cli = require("../dist/pseudo.js");
  } catch (error) {
    if (error?.code !== "MODULE_NOT_FOUND" || !String(error.message).includes("dist/pseudo.js")) throw error;
  }
  (cli.main ? cli : require("../src/cli/pseudo.ts")).main();
} catch (error) {
  // What loading can meet (the native library missing): one line and its status, 125.
  if (error?.name !== "ContainError") throw error;
  process.stderr.write(`pseudo: ${error.message}\n`);
  process.exit(error.status);
}
