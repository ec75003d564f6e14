// Prints, one a line and relative to /, the host files a small root needs for the programs
// named as arguments (see hostFiles in src/rootfs.ts). For the demo and the benchmarks.
import { hostFiles } from "../src/rootfs.ts";

console.log(hostFiles(process.argv.slice(2)).join("\n"));
