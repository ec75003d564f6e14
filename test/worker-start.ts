// Runs in a Worker for library.test.ts: starts pseudo there and reports what it saw.
import { pseudo } from "../src/index.ts";

const child = pseudo({ cmd: ["sh", "-c", "echo from the worker; exit 3"], stdout: "pipe" });
const output = await new Response(child.stdout).text();
postMessage({ output, status: await child.exited });
