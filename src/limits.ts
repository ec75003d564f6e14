// The soft RLIMIT_NOFILE the caller had. Bun raises its own soft limit to the hard one as
// it starts, before any of our code runs, and keeps no note of what it was; CMD should
// start with the caller's, as under the original (a program that closes every fd up to
// the limit crawls under a million).
import { nofileLimit } from "./native.ts";

/** What the commands' launchers (bin/*.js) put in the environment: `ulimit -Sn` as the
 *  shell that ran them saw it, before it executed Bun. */
export const CALLER_NOFILE = "CONTAIN_CALLER_NOFILE";

interface Limit {
  soft: number;
  hard: number;
}

/** A limit as `ulimit` writes it: digits, or "unlimited" (Infinity). No regular expression
 *  here: on the commands' way to CMD it would cost a megabyte. */
function count(word: string | undefined): number | null {
  if (word === "unlimited") return Infinity;
  if (word === undefined || word === "") return null;
  const value = Number(word);
  return Number.isSafeInteger(value) && value >= 0 ? value : null;
}

/** The open files limits of process `pid` (0: ours), or null. Read by the shim: no
 *  buffers or pointers here, which would make the JIT compile bun:ffi's ptr. */
export function readLimit(pid: number): Limit | null {
  const soft = nofileLimit(pid, false);
  const hard = nofileLimit(pid, true);
  return soft === null || hard === null ? null : { soft, hard };
}

let found: number | undefined;
let noted: string | undefined;

/** The launcher's note, which the commands find in their environment (cli/run.ts). The
 *  library does not look for it: process.env costs a megabyte to materialise, and only
 *  the launchers write it. */
export function noteCallerNofile(text: string): void {
  noted = text;
}

/**
 * The caller's soft limit: from the launcher when it says; else the parent's, when its
 * hard limit is ours and its soft one no more than ours (so that nothing changed the
 * limits between it and us but Bun, which only raises the soft one); else ours. The
 * parent is a guess: after `ulimit -Sn 1024; exec contain` it is not the caller. Read
 * once; 0 when nothing can be read (the child keeps ours); Infinity for unlimited.
 */
export function callerNofile(): number {
  if (found !== undefined) return found;
  const own = readLimit(0);
  const given = count(noted);
  if (own === null) return (found = 0);
  if (given !== null) return (found = given < own.hard ? given : own.hard);
  const parent = readLimit(process.ppid);
  const same = parent !== null && parent.hard === own.hard && parent.soft <= own.soft;
  return (found = same ? parent.soft : own.soft);
}
