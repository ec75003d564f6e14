// What crosses to the kernel as a C string: an argument, an environment entry or a path,
// as text or as bytes that are not UTF-8, and the checks and encodings that it takes.
// Pure, and on pseudo's way: no node: module here.
import { ContainError, Errno } from "./errors.ts";

/** An argument, environment entry or path as the kernel takes it: text (sent as UTF-8) or
 *  bytes as they are, for what is not UTF-8 (the CLIs' argv and environment). */
export type Arg = string | Uint8Array;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An Arg as text, for messages (bytes that are not UTF-8 show as U+FFFD). */
export function argText(arg: Arg): string {
  return typeof arg === "string" ? arg : decoder.decode(arg);
}

/** The kernel reads these as C strings, so a NUL would silently cut them short: refuse it,
 *  naming the argument (`what`). */
export function refuseNul(arg: Arg, what: string): void {
  if (typeof arg === "string" ? arg.includes("\0") : arg.includes(0)) {
    throw new ContainError(`Cannot use ${what}: it contains a NUL byte`, { errno: Errno.EINVAL });
  }
}

/** The name of a NAME=value environment entry, for messages. */
export function envName(entry: Arg): string {
  const text = argText(entry);
  const equals = text.indexOf("=");
  return equals < 0 ? text : text.slice(0, equals);
}

/** `path` as a NUL-terminated C string; a NUL inside it is refused (refuseNul). */
export function path0(path: Arg): Uint8Array {
  refuseNul(path, argText(path));
  if (typeof path === "string") return encoder.encode(`${path}\0`);
  const bytes = new Uint8Array(path.length + 1);
  bytes.set(path);
  return bytes;
}
