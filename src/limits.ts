// The soft RLIMIT_NOFILE the caller had. Bun raises its own soft limit to the hard one as
// it starts, before any of our code runs, and keeps no note of what it was; CMD should
// start with the caller's, as under the original (a program that closes every fd up to
// the limit crawls under a million).
import { readText } from "./native.ts";

/** What the commands' launchers (bin/*.js) put in the environment: `ulimit -Sn` as the
 *  shell that ran them saw it, before it executed Bun. */
export const CALLER_NOFILE = "CONTAIN_CALLER_NOFILE";

const INFINITY = 0xffff_ffff_ffff_ffffn;

interface Limit {
  soft: bigint;
  hard: bigint;
}

function count(word: string | undefined): bigint | null {
  if (word === "unlimited") return INFINITY;
  return word !== undefined && /^\d+$/.test(word) ? BigInt(word) : null;
}

/** The open files limit in /proc/`pid`/limits, or null. */
export function readLimit(pid: number | "self"): Limit | null {
  let text: string | null = null;
  try {
    text = readText(`/proc/${pid}/limits`);
  } catch {
    return null;
  }
  const words = text?.match(/^Max open files +(\S+) +(\S+)/m);
  const soft = count(words?.[1]);
  const hard = count(words?.[2]);
  return soft === null || hard === null ? null : { soft, hard };
}

let found: bigint | undefined;

/**
 * The caller's soft limit: from the launcher when it says; else the parent's, when its
 * hard limit is ours and its soft one no more than ours (so that nothing changed the
 * limits between it and us but Bun, which only raises the soft one); else ours. The
 * parent is a guess: after `ulimit -Sn 1024; exec contain` it is not the caller. Read
 * once; 0n when nothing can be read (the child keeps ours).
 */
export function callerNofile(): bigint {
  if (found !== undefined) return found;
  const own = readLimit("self");
  const given = count(process.env[CALLER_NOFILE]);
  delete process.env[CALLER_NOFILE];
  if (own === null) return (found = 0n);
  if (given !== null) return (found = given < own.hard ? given : own.hard);
  const parent = readLimit(process.ppid);
  const same = parent !== null && parent.hard === own.hard && parent.soft <= own.soft;
  return (found = same ? parent.soft : own.soft);
}
