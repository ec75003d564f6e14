// Pins the Zig and TypeScript sides of the shim's ABI together. The layout, modes, flags
// and steps come from the shim (zig/abi.zig), so these check that TypeScript writes what
// Zig reads, not that two copies agree.
import { expect, test } from "bun:test";
import { ptr } from "bun:ffi";
import {
  ABI_VERSION,
  closeFd,
  ConfigLayout,
  encodeConfig,
  Flag,
  makePipe,
  Mode,
  native,
  NO_OBJECT,
  readFd,
  readReport,
  ReportLayout,
  startMapHelpers,
  Step,
  stepText,
  waitChild,
} from "../../src/native.ts";

test("ABI version and termios size agree", () => {
  expect(native.abi_version()).toBe(ABI_VERSION);
  expect(native.termios_size()).toBe(60);
});

test("the shim reads back every field of a config that TypeScript encoded", () => {
  const keep: unknown[] = [];
  const view = encodeConfig(
    {
      mode: Mode.contain,
      flags: Flag.console | Flag.ephemeral,
      targetPidfd: 7,
      stdio: [10, 11, -1],
      argv: ["/bin/echo", "one", "two"],
      envp: ["A=1", "B=2"],
      root: "/srv/root",
      console: "/dev/pts/9",
      inside: "mount -t tmpfs none /x",
      outside: "ip link",
      cwd: "/work",
      initEnvp: ["container=contain"],
      nofile: 0x1_0000_0400,
      cgroup: 12,
      cgroupLeave: 13,
      mounts: [
        { kind: "bind", source: "/src", target: "/mnt/src", readonly: true, directory: true },
        { kind: "tmpfs", target: "/tmp", size: "64m" },
      ],
      rootFd: 9,
      lockUidMap: "0 0 1",
      lockGidMap: "0 0 2",
    },
    keep,
  );
  expect(view.byteLength).toBe(ConfigLayout.size);
  const buffer = new Uint8Array(4096);
  const length = native.config_echo(ptr(view), ptr(buffer), buffer.length);
  expect(length).toBeGreaterThan(0);
  const echo = new TextDecoder().decode(buffer.subarray(0, length));
  expect(echo).toBe(
    [
      `mode=${Mode.contain}`,
      `flags=${Flag.console | Flag.ephemeral}`,
      "target_pidfd=7",
      "stdio=10,11,-1",
      "argv=/bin/echo one two",
      "envp=A=1 B=2",
      "root=/srv/root",
      "console=/dev/pts/9",
      "inside=mount -t tmpfs none /x",
      "outside=ip link",
      "cwd=/work",
      "lock_uid_map=0 0 1",
      "lock_gid_map=0 0 2",
      "init_envp=container=contain",
      "mount_count=2",
      "root_fd=9",
      `nofile=${0x1_0000_0400}`,
      "cgroup=12",
      "cgroup_leave=13",
      "mount=1,3,/src,/mnt/src,(null)",
      "mount=2,0,(null),/tmp,64m",
      "",
    ].join("\n"),
  );
});

test("a config without its optional fields reads back as nulls and -1", () => {
  const view = encodeConfig({ mode: Mode.pseudo, argv: ["sh"], envp: [] }, []);
  const buffer = new Uint8Array(4096);
  const echo = new TextDecoder().decode(buffer.subarray(0, native.config_echo(ptr(view), ptr(buffer), buffer.length)));
  expect(echo).toBe(
    `mode=${Mode.pseudo}\nflags=0\ntarget_pidfd=-1\nstdio=-1,-1,-1\nargv=sh\nenvp=\nroot=(null)\nconsole=(null)\n` +
      "inside=(null)\noutside=(null)\ncwd=(null)\nlock_uid_map=(null)\nlock_gid_map=(null)\ninit_envp=\nmount_count=0\nroot_fd=-1\nnofile=0\ncgroup=-1\ncgroup_leave=-1\n",
  );
});

test("the steps TypeScript tells apart have the shim's codes and words", () => {
  const codes = Object.values(Step);
  expect(new Set(codes).size).toBe(codes.length);
  expect(stepText(Step.exec)).toBe("execute");
  expect(stepText(Step.enterWorkingDirectory)).toBe("enter working directory");
  expect(stepText(Step.resolveMountTarget)).toBe("resolve mount target");
  expect(stepText(0)).toBe("complete step 0");
  expect(stepText(1_000_000)).toBe("complete step 1000000");
});

test("startMapHelpers gives each helper's pidfd and stderr, and why one could not run", () => {
  const [says, missing] = startMapHelpers(
    [["/bin/sh", "-c", 'echo out; echo "$SAID" >&2; exit 3'], ["/nonexistent/newuidmap", "1"]],
    ["SAID=said on stderr", "OTHER=ünïcode"],
  );
  const buffer = new Uint8Array(64);
  expect(new TextDecoder().decode(buffer.subarray(0, readFd(says!.stderr, buffer)))).toBe("said on stderr\n");
  expect(says!.failed).toBeUndefined();
  expect(waitChild(says!.pidfd, true)).toBe(3);
  expect(missing!.failed).toEqual({ step: Step.exec, errno: 2 });
  expect(readFd(missing!.stderr, buffer)).toBe(0);
  expect(waitChild(missing!.pidfd, true)).toBe(127);
  for (const helper of [says!, missing!]) [helper.pidfd, helper.stderr].forEach(closeFd);
  expect(startMapHelpers([null, null], [])).toEqual([null, null]);
  expect(() => startMapHelpers([["/bin/true"], null], ["A=1\0B=2"])).toThrow("Cannot use the environment: it contains a NUL byte");
});

test("a report record is read as the shim writes it: step, value and object", () => {
  expect(ReportLayout).toEqual({ size: 12, step: 0, value: 4, object: 8 });
  expect(NO_OBJECT).toBe(0xffffffff);
  const [read, write] = makePipe();
  const record = new Uint32Array([Step.resolveMountTarget, 18, 2]);
  expect(native.fd_write(write, ptr(record), record.byteLength)).toBe(0);
  closeFd(write);
  expect(readReport(read)).toEqual({ step: Step.resolveMountTarget, value: 18, object: 2 });
  expect(readReport(read)).toBeNull();
  closeFd(read);
});
