// explain(): an EACCES of container root at DIR or its /dev, /proc and /sys gains whose ID
// that is and what to do, judged by the step's code, never by the words of its message.
import { describe, expect, test } from "bun:test";
import { reportError } from "../../src/child.ts";
import { explain } from "../../src/contain.ts";
import { ContainError, Errno } from "../../src/errors.ts";
import { Step } from "../../src/native.ts";
import type { MapPlan } from "../../src/userns.ts";

const plan: MapPlan = { kind: "UID", items: [{ inside: 0, outside: 100000, count: 65536 }], method: "helper", helper: "/usr/bin/newuidmap" };

describe("explain", () => {
  test("entering DIR: container root's host UID, and chown to it", () => {
    const error = explain(reportError(Step.enterRoot, Errno.EACCES, "/bin/sh"), "/srv/root", plan) as ContainError;
    expect(error).toBeInstanceOf(ContainError);
    expect(error.message).toBe(
      "Failed to enter new root filesystem: Permission denied: container root is host UID 100000, which cannot enter /srv/root; " +
        "give it to that ID (chown 100000 /srv/root), or build it with pseudo",
    );
    expect(error).toMatchObject({ stepCode: Step.enterRoot, errno: Errno.EACCES, code: "EACCES", status: 125, command: "/bin/sh" });
    expect(error.cause).toBeInstanceOf(ContainError);
  });

  test("creating /dev, /proc or /sys: build it with pseudo", () => {
    for (const step of [Step.createDev, Step.createProc, Step.createSys]) {
      const error = explain(reportError(step, Errno.EACCES, "/bin/sh"), new TextEncoder().encode("/srv/root"), plan) as ContainError;
      expect(error.message).toEndWith(
        "container root is host UID 100000, which cannot write /srv/root; build it with pseudo, or create dev, proc and sys in it",
      );
      expect(error.stepCode).toBe(step);
    }
  });

  test("another errno, another step, or another error is left as it is", () => {
    const other = [
      reportError(Step.enterRoot, Errno.EPERM, "/bin/sh"),
      reportError(Step.exec, Errno.EACCES, "/bin/sh"),
      // A message with the same words but no step code is not the step.
      new ContainError("Failed to enter new root filesystem: Permission denied", { step: "enter new root filesystem", errno: Errno.EACCES }),
      new Error("Permission denied"),
      "text",
    ];
    for (const error of other) expect(explain(error, "/srv/root", plan)).toBe(error);
  });
});
