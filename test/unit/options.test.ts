// A misspelt option or a value the call cannot use is a ContainError (code EINVAL) before
// anything starts, for contain, inject and pseudo alike; tsc refuses the same calls.
import { describe, expect, test } from "bun:test";
import { ContainError, contain, containAsync, inject, pseudo, pseudoAsync } from "../../src/index.ts";

function refusal(call: () => unknown): ContainError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(ContainError);
    return error as ContainError;
  }
  throw new Error("not refused");
}

describe("options are checked before anything starts", () => {
  test("a misspelt option is refused, with the option it resembles", () => {
    const cases: [() => unknown, string][] = [
      // @ts-expect-error -- misspelt: a type error too
      [() => contain({ root: "/nonexistent", ephemral: true }), "contain: unknown option ephemral (did you mean ephemeral?)"],
      // @ts-expect-error -- misspelt
      [() => contain({ root: "/nonexistent", hostnetwork: true }), "contain: unknown option hostnetwork (did you mean hostNetwork?)"],
      // @ts-expect-error -- misspelt
      [() => inject({ pid: 1, timout: 5 }), "inject: unknown option timout (did you mean timeout?)"],
      // @ts-expect-error -- nothing like it
      [() => pseudo({ cmd: ["true"], frobnicate: 1 }), "pseudo: unknown option frobnicate"],
    ];
    for (const [call, message] of cases) {
      const error = refusal(call);
      expect(error.message).toBe(message);
      expect(error.code).toBe("EINVAL");
    }
  });
  test("bad values: killSignal, root, pid, timeout, mounts", () => {
    const cases: [() => unknown, string][] = [
      // @ts-expect-error -- not a signal's name
      [() => pseudo({ cmd: ["true"], killSignal: "SIGFOO", timeout: 1 }), "pseudo: unknown killSignal SIGFOO"],
      [() => pseudo({ cmd: ["true"], killSignal: 99 }), "pseudo: unknown killSignal 99"],
      [() => pseudo({ cmd: ["true"], timeout: -1 }), "pseudo: timeout must be a number of milliseconds, not -1"],
      // @ts-expect-error -- root is required
      [() => contain({ root: undefined }), "contain: root must be the path of a directory, not undefined"],
      [() => contain({ root: "" }), 'contain: root must be the path of a directory, not ""'],
      [() => inject({ pid: 0 }), "inject: pid must be a process ID, not 0"],
      // @ts-expect-error -- no such mount type
      [() => contain({ root: "/", mounts: [{ type: "overlay", target: "/x" }] }), 'contain: mounts[0] must have type "bind" or "tmpfs"'],
    ];
    for (const [call, message] of cases) {
      const error = refusal(call);
      expect(error.message).toBe(message);
      expect(error.code).toBe("EINVAL");
    }
  });
  test("the async calls reject the same way", async () => {
    // @ts-expect-error -- misspelt
    expect(containAsync({ root: "/nonexistent", ephemral: true })).rejects.toThrow("unknown option ephemral");
    // @ts-expect-error -- misspelt
    expect(pseudoAsync({ uidmap: "0:0:1" })).rejects.toThrow("unknown option uidmap (did you mean uidMap?)");
  });
  test("undefined is as good as leaving an option out", () => {
    const child = pseudo({ cmd: ["true"], timeout: undefined, killSignal: undefined, cwd: undefined, stdout: undefined });
    expect(child.pid).toBeGreaterThan(0);
    return child.exited.then((status) => expect(status).toBe(0));
  });
});
