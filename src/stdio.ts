// Standard streams as Bun.spawn takes them, turned into the fds the shim takes, and the
// environment as an envp list.
import type { FileSink } from "bun";
import { type Arg } from "./arg.ts";
import { closeFd, makePipe, openPath } from "./native.ts";

/** As in Bun.spawn: the caller's stream, a pipe to us, /dev/null, or an fd of ours. */
export type Stdio = "inherit" | "pipe" | "ignore" | number;

export interface StdioOptions {
  stdin?: Stdio | undefined;
  stdout?: Stdio | undefined;
  stderr?: Stdio | undefined;
}

/** The child's fds (-1: inherit) and our ends of its pipes. */
export interface Streams {
  child: [number, number, number];
  /** Our ends: the write end of stdin's pipe, the read ends of stdout's and stderr's. */
  ours: [number | null, number | null, number | null];
  /** Closes the fds that only the child needed; call once it has them (or gave up). */
  started(): void;
  /** Closes our ends too: the child never started. */
  failed(): void;
}

export function prepareStreams(options: StdioOptions, fallback: Stdio = "inherit"): Streams {
  const child: [number, number, number] = [-1, -1, -1];
  const ours: [number | null, number | null, number | null] = [null, null, null];
  const transient: number[] = [];
  const kinds = [options.stdin, options.stdout, options.stderr];
  kinds.forEach((kind = fallback, index) => {
    if (typeof kind === "number") {
      child[index] = kind;
    } else if (kind === "ignore") {
      child[index] = openPath("/dev/null", index !== 0);
      transient.push(child[index]);
    } else if (kind === "pipe") {
      const [read, write] = makePipe();
      child[index] = index === 0 ? read : write;
      ours[index] = index === 0 ? write : read;
      transient.push(child[index]);
    }
  });
  return {
    child,
    ours,
    started: () => transient.splice(0).forEach(closeFd),
    failed() {
      transient.splice(0).forEach(closeFd);
      for (const fd of ours) if (fd !== null) closeFd(fd);
    },
  };
}

/** A stream over a pipe's read end that closes it at the end or on cancel. */
export function readable(fd: number): ReadableStream<Uint8Array> {
  const reader = Bun.file(fd).stream().getReader();
  let open = true;
  const close = () => {
    if (open) closeFd(fd);
    open = false;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        close();
        controller.close();
      } else {
        controller.enqueue(value);
      }
    },
    async cancel(reason) {
      await reader.cancel(reason);
      close();
    },
  });
}

/** A FileSink over a pipe's write end whose end() also closes it, and `release`, which
 *  ends and closes it for a caller who never does, once the child has exited (after that,
 *  end() does nothing and returns 0). */
export function writable(fd: number): { sink: FileSink; release(): void } {
  const sink = Bun.file(fd).writer();
  let open = true;
  let released = false;
  const close = () => {
    if (open) closeFd(fd);
    open = false;
  };
  const end = (error?: Error) => {
    if (released || !open) return 0;
    let result;
    try {
      result = sink.end(error);
    } catch (failure) {
      // EPIPE: the reader is gone. Bun has closed its own copy; close ours too.
      close();
      throw failure;
    }
    if (result instanceof Promise) return result.finally(close);
    close();
    return result;
  };
  const release = () => {
    if (released || !open) return;
    released = true;
    try {
      const result = sink.end();
      if (result instanceof Promise) {
        result.catch(() => {}).finally(close);
        return;
      }
    } catch {
      // Unwritten data with no reader left: nothing to do but let it go.
    }
    close();
  };
  // FileSink's own end is read-only, so the wrapper is a proxy that swaps it.
  const proxy = new Proxy(sink, {
    get(target, property) {
      if (property === "end") return end;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { sink: proxy, release };
}

/** An environment: names and values, or NAME=value entries as the kernel holds them
 *  (bytes for what is not UTF-8, as in /proc/PID/environ). */
export type Environment = Record<string, string | undefined> | readonly Arg[];

export function environment(env: Environment): readonly Arg[] {
  if (Array.isArray(env)) return env;
  const entries: string[] = [];
  for (const [name, value] of Object.entries(env)) if (value !== undefined) entries.push(`${name}=${value}`);
  return entries;
}

const EQUALS = 0x3d;

/** The value of `name` in `env` (the first entry, as getenv finds it), or undefined. */
export function environmentValue(env: Environment, name: string): Arg | undefined {
  if (!Array.isArray(env)) return (env as Record<string, string | undefined>)[name];
  const prefix = `${name}=`;
  for (const entry of env as readonly Arg[]) {
    if (typeof entry === "string") {
      if (entry.startsWith(prefix)) return entry.slice(prefix.length);
    } else if (entry[name.length] === EQUALS && startsWithAscii(entry, name)) {
      return entry.subarray(name.length + 1);
    }
  }
  return undefined;
}

function startsWithAscii(bytes: Uint8Array, text: string): boolean {
  for (let index = 0; index < text.length; index++) if (bytes[index] !== text.charCodeAt(index)) return false;
  return true;
}
