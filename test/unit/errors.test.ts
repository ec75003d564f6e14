// The one error type: what escapes the library before CMD runs, with errno names.
import { expect, test } from "bun:test";
import { ContainError, Errno, errnoName } from "../../src/errors.ts";
import { ContainError as Exported, fromTarball, MapError, pseudo } from "../../src/index.ts";
import { NativeError, stepText } from "../../src/native.ts";

test("errno names follow Linux's numbering", () => {
  expect([1, 2, 13, 22, 32, 38, 133].map(errnoName)).toEqual(["EPERM", "ENOENT", "EACCES", "EINVAL", "EPIPE", "ENOSYS", "EHWPOISON"]);
  expect([0, 41, 58, 134].map(errnoName)).toEqual([undefined, undefined, undefined, undefined]);
});

test("the errno table names each value as Linux's numbering does", () => {
  for (const [name, value] of Object.entries(Errno)) expect(errnoName(value)).toBe(name);
});

test("a ContainError carries the errno's name as code, like Node's errors", () => {
  const error = new ContainError("Failed to x: Permission denied", { step: "x", errno: Errno.EACCES });
  expect(error).toMatchObject({ name: "ContainError", step: "x", stepCode: 0, errno: 13, code: "EACCES", status: 125 });
  expect(new ContainError("plain").code).toBeUndefined();
  expect("cause" in new ContainError("plain")).toBe(false);
});

test("a ContainError keeps its cause as Error does, and the command it was starting", () => {
  const cause = new Error("lower");
  const error = new ContainError("Failed to y", { cause, command: "/bin/y", status: 127 });
  expect(error.cause).toBe(cause);
  expect(error).toMatchObject({ command: "/bin/y", status: 127, errno: 0 });
});

test("the library's other errors are ContainErrors", () => {
  expect(Exported).toBe(ContainError);
  expect(new NativeError("create a pipe", 24)).toBeInstanceOf(ContainError);
  expect(new NativeError("create a pipe", 24)).toMatchObject({ step: "create a pipe", code: "EMFILE" });
  expect(() => pseudo({ cmd: ["true"], uidMap: "0:1" })).toThrow(MapError);
  expect(() => pseudo({ cmd: ["true"], uidMap: "0:1" })).toThrow(ContainError);
});

test("fromTarball on a missing file throws a ContainError, before making anything", async () => {
  const missing = "/nonexistent/contain-rootfs.tar";
  const error = await fromTarball(missing).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(ContainError);
  expect(error).toMatchObject({ message: `Cannot read ${missing}: No such file or directory`, errno: 2, code: "ENOENT" });
});

test("the steps added for single system calls have their own words", () => {
  const texts = Array.from({ length: 13 }, (_, index) => stepText(47 + index));
  expect(new Set(texts).size).toBe(13);
  for (const text of texts) expect(text).not.toStartWith("complete step");
  expect(stepText(54)).toBe("change directory to new root filesystem");
  expect(stepText(55)).toBe("create a pipe");
});
