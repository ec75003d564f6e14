// Subprocess's stdio types follow the options, as Bun's do: checked by tsc (lint.test.ts).
import { expect, test } from "bun:test";
import type { FileSink } from "bun";
import type { contain, inject, pseudo } from "../../src/index.ts";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const check = <T extends true>() => true as T;

type Piped = ReturnType<typeof contain<{ root: string; stdin: "pipe"; stdout: "pipe"; stderr: "ignore" }>>;
type Plain = ReturnType<typeof pseudo<{ cmd: string[] }>>;
type Broad = ReturnType<typeof inject<{ pid: number; stdout?: "pipe" | "inherit" }>>;

test("stdout is a ReadableStream exactly when asked for as a pipe", () => {
  check<Equal<Piped["stdin"], FileSink>>();
  check<Equal<Piped["stdout"], ReadableStream<Uint8Array>>>();
  check<Equal<Piped["stderr"], undefined>>();
  check<Equal<Plain["stdout"], undefined>>();
  check<Equal<Broad["stdout"], ReadableStream<Uint8Array> | undefined>>();
  expect(true).toBe(true);
});
