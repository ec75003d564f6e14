// Pins the Zig and TypeScript sides of the shim's ABI together.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ABI_VERSION, CONFIG_SIZE, native } from "../../src/native.ts";
import { stepText } from "../../src/errors.ts";

test("ABI version and struct sizes agree", () => {
  expect(native.abi_version()).toBe(ABI_VERSION);
  expect(native.config_size()).toBe(CONFIG_SIZE);
  expect(native.termios_size()).toBe(60);
});

test("every step of zig/abi.zig has a message", () => {
  const source = readFileSync(join(import.meta.dir, "..", "..", "zig", "abi.zig"), "utf8");
  const block = source.slice(source.indexOf("pub const Step = enum(u32) {"));
  const values = [...block.slice(0, block.indexOf("};")).matchAll(/= (\d+),/g)].map((match) => Number(match[1]));
  expect(values.length).toBeGreaterThan(40);
  for (const value of values.filter((v) => v !== 1)) expect(stepText(value)).not.toStartWith("complete step");
});
