// A tar reader for streams the host must not trust: autopkgtest-virt-contain's copyup reads
// what the testbed's own `tar` writes, and the testbed may be hostile. Host `tar` as root
// would take the stream's owners, setuid bits and device nodes, and its defences against
// names that lead out (`..`, absolute names, links planted then written through) are
// options one must not forget. This reader creates only directories, regular files
// (hard links only to files it made) and symbolic links (as links: it never writes
// through one), in a fresh directory that only this process writes, with the owner the
// caller gives and modes without setuid, setgid or sticky bits, masked by the umask.
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  mkdirSync,
  openSync,
  symlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

const BLOCK = 512;

export interface UntarOptions {
  /** An empty directory that only this process writes: the tree lands in it. */
  into: string;
  /** [uid, gid] for everything made (as host root); the process's own IDs otherwise. */
  owner?: [number, number];
  /** Cleared from every mode, as `tar --no-same-permissions` does with the umask. */
  umask: number;
}

export interface Untarred {
  /** The mode the stream gave its top directory ("."), masked, or null without one. */
  mode: number | null;
  /** Members of other types (devices, FIFOs) left out, by name. */
  skipped: string[];
}

/** Reads exact byte counts from a stream of chunks. */
class Bytes {
  private buffered: Uint8Array[] = [];
  private length = 0;
  private ended = false;

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  private async fill(wanted: number): Promise<void> {
    while (this.length < wanted && !this.ended) {
      const next = await this.source.next();
      if (next.done) this.ended = true;
      else if (next.value.length > 0) {
        this.buffered.push(next.value);
        this.length += next.value.length;
      }
    }
  }

  /** Up to `count` bytes as they arrived (at least one unless the stream ended). */
  private async some(count: number): Promise<Uint8Array> {
    await this.fill(1);
    const first = this.buffered[0];
    if (!first) return new Uint8Array(0);
    if (first.length <= count) {
      this.buffered.shift();
      this.length -= first.length;
      return first;
    }
    this.buffered[0] = first.subarray(count);
    this.length -= count;
    return first.subarray(0, count);
  }

  /** Exactly `count` bytes; fewer only at the end of the stream. */
  async take(count: number): Promise<Uint8Array> {
    await this.fill(count);
    const out = new Uint8Array(Math.min(count, this.length));
    let at = 0;
    while (at < out.length) {
      const piece = await this.some(out.length - at);
      out.set(piece, at);
      at += piece.length;
    }
    return out;
  }

  /** `count` bytes as pieces, for data that is written out as it comes. */
  async *pieces(count: number): AsyncGenerator<Uint8Array> {
    for (let left = count; left > 0; ) {
      const piece = await this.some(Math.min(left, 1 << 20));
      if (piece.length === 0) throw new Error("the tar stream ends inside a member");
      left -= piece.length;
      yield piece;
    }
  }

  /** Reads and drops the rest: the writer must be able to finish. */
  async drain(): Promise<void> {
    while (!this.ended) {
      this.buffered = [];
      this.length = 0;
      await this.fill(1 << 30);
    }
  }
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0) < 0 ? bytes.length : bytes.indexOf(0)));

/** A numeric header field: octal, or GNU's base-256 for large values. */
function number(block: Uint8Array, start: number, length: number): number {
  if (block[start]! & 0x80) {
    let value = block[start]! & 0x7f;
    for (let index = start + 1; index < start + length; index++) value = value * 256 + block[index]!;
    return value;
  }
  const digits = text(block.subarray(start, start + length)).trim();
  if (!/^[0-7]*$/.test(digits)) throw new Error(`bad number "${digits}" in a tar header`);
  return digits === "" ? 0 : Number.parseInt(digits, 8);
}

function checksumOk(block: Uint8Array): boolean {
  let sum = 0;
  for (let index = 0; index < BLOCK; index++) sum += index >= 148 && index < 156 ? 0x20 : block[index]!;
  return sum === number(block, 148, 8);
}

/** A pax extended header's records ("LENGTH KEY=VALUE\n"). */
function pax(data: Uint8Array): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = Number.parseInt(new TextDecoder().decode(data.subarray(at, space)), 10);
    if (space < 0 || !(length > 0) || at + length > data.length) throw new Error("bad pax header in the tar stream");
    const record = new TextDecoder().decode(data.subarray(space + 1, at + length - 1));
    const equals = record.indexOf("=");
    if (equals > 0) records.set(record.slice(0, equals), record.slice(equals + 1));
    at += length;
  }
  return records;
}

/** A member's name as path components under the top directory; refuses names that lead
 *  anywhere else (absolute, or with `..`), which the testbed's `tar -C DIR .` never writes. */
export function components(name: string): string[] {
  if (name.startsWith("/")) throw new Error(`refused an absolute name in the tar stream: ${name}`);
  const parts = name.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.includes("..")) throw new Error(`refused a name with .. in the tar stream: ${name}`);
  return parts;
}

type Kind = "directory" | "file" | "symlink";

/**
 * Extracts the tar stream into options.into (see the top of this file). Throws on what
 * only a forged stream holds: names that lead out, a member under a symbolic link or a
 * file, a hard link to anything but a file made here, a member twice, a bad checksum.
 * What was made until then stays in options.into, for the caller to remove.
 */
export async function untar(stream: AsyncIterable<Uint8Array>, options: UntarOptions): Promise<Untarred> {
  const input = new Bytes(stream[Symbol.asyncIterator]());
  const made = new Map<string, Kind>();
  const directories = new Map<string, { mode: number; mtime: number | null }>();
  const skipped: string[] = [];
  const permissions = (mode: number) => mode & 0o777 & ~options.umask;
  const path = (parts: string[]) => join(options.into, ...parts);
  const own = (target: string) => options.owner && lchownSync(target, ...options.owner);
  let top: number | null = null;

  /** The directories above `parts`: made here (as tar does) when missing, and refused
   *  when one is a file or a symbolic link, through which a write would land elsewhere. */
  const parents = (parts: string[], name: string) => {
    for (let depth = 1; depth < parts.length; depth++) {
      const key = parts.slice(0, depth).join("/");
      const kind = made.get(key);
      if (kind === undefined) {
        mkdirSync(path(parts.slice(0, depth)), 0o700);
        own(path(parts.slice(0, depth)));
        made.set(key, "directory");
        directories.set(key, { mode: permissions(0o755), mtime: null });
      } else if (kind !== "directory") throw new Error(`refused ${name} in the tar stream: ${key} is a ${kind}`);
    }
  };
  const fresh = (parts: string[], name: string) => {
    if (parts.length === 0) throw new Error(`refused ${name || "an empty name"} in the tar stream: it names the top directory`);
    if (made.has(parts.join("/"))) throw new Error(`refused ${name} in the tar stream: it comes twice`);
    parents(parts, name);
  };

  let longName: string | null = null;
  let longLink: string | null = null;
  let extended = new Map<string, string>();
  for (;;) {
    const block = await input.take(BLOCK);
    if (block.length < BLOCK) throw new Error("the tar stream ends without its end blocks");
    if (block.every((byte) => byte === 0)) break;
    if (!checksumOk(block)) throw new Error("bad checksum in the tar stream");
    const type = String.fromCharCode(block[156]!);
    const ustar = text(block.subarray(257, 263)) === "ustar" && text(block.subarray(263, 265)) === "00";
    const prefix = ustar ? text(block.subarray(345, 500)) : "";
    const name = extended.get("path") ?? longName ?? (prefix ? `${prefix}/${text(block.subarray(0, 100))}` : text(block.subarray(0, 100)));
    const link = extended.get("linkpath") ?? longLink ?? text(block.subarray(157, 257));
    const size = extended.has("size") ? Number(extended.get("size")) : number(block, 124, 12);
    const mode = number(block, 100, 8);
    const mtime = extended.has("mtime") ? Number(extended.get("mtime")) : number(block, 136, 12);
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`bad size in the tar stream for ${name}`);
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    // Metadata members describe the next one.
    if (type === "L" || type === "K" || type === "x" || type === "g") {
      if (size > 1 << 20) throw new Error("an oversized header in the tar stream");
      const data = await input.take(size + padding);
      if (data.length < size + padding) throw new Error("the tar stream ends inside a member");
      if (type === "L") longName = text(data.subarray(0, size));
      else if (type === "K") longLink = text(data.subarray(0, size));
      else if (type === "x") extended = pax(data.subarray(0, size));
      continue;
    }
    longName = longLink = null;
    extended = new Map();
    const parts = components(name);
    const key = parts.join("/");
    if (type === "5") {
      if (parts.length === 0) top = permissions(mode);
      else if (made.get(key) === "directory") directories.set(key, { mode: permissions(mode), mtime });
      else {
        fresh(parts, name);
        mkdirSync(path(parts), 0o700);
        own(path(parts));
        made.set(key, "directory");
        directories.set(key, { mode: permissions(mode), mtime });
      }
    } else if (type === "0" || type === "\0" || type === "7") {
      fresh(parts, name);
      // O_EXCL and O_NOFOLLOW: a name made here already, or a link, is never opened.
      const fd = openSync(path(parts), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        for await (const piece of input.pieces(size)) {
          for (let at = 0; at < piece.length; ) at += writeSync(fd, piece, at);
        }
        if (options.owner) fchownSync(fd, ...options.owner);
        fchmodSync(fd, permissions(mode));
        futimesSync(fd, mtime, mtime);
      } finally {
        closeSync(fd);
      }
      made.set(key, "file");
      await input.take(padding);
      continue;
    } else if (type === "2") {
      fresh(parts, name);
      symlinkSync(link, path(parts));
      own(path(parts));
      made.set(key, "symlink");
    } else if (type === "1") {
      fresh(parts, name);
      const target = components(link).join("/");
      if (made.get(target) !== "file") throw new Error(`refused a hard link in the tar stream from ${name} to ${link}: not a file in the copy`);
      linkSync(join(options.into, target), path(parts));
      made.set(key, "file");
    } else if (type === "3" || type === "4" || type === "6") {
      skipped.push(name);
    } else {
      throw new Error(`refused ${name} in the tar stream: member type ${JSON.stringify(type)} is not supported`);
    }
    // Whatever data a member that is not a file carries is dropped.
    for await (const _ of input.pieces(size + padding)) void _;
  }
  await input.drain();

  // Modes last and deepest first, so that a directory without write permission for its
  // owner could still be filled; times after, as making entries changed them.
  const deepestFirst = [...directories.entries()].sort(([a], [b]) => b.split("/").length - a.split("/").length);
  for (const [key, { mode, mtime }] of deepestFirst) {
    const target = join(options.into, key);
    chmodSync(target, mode);
    if (mtime !== null) utimesSync(target, mtime, mtime);
  }
  return { mode: top, skipped };
}
