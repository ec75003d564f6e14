import { describe, expect, test } from "bun:test";
import {
  type Check,
  cgroupPlace,
  checkAppArmor,
  checkCgroup,
  checkDevpts,
  checkHelper,
  checkNamespaceKinds,
  checkPseudoRoot,
  checkSeccomp,
  checkSubordinate,
  checkTiocsti,
  checkUserNamespaces,
  describePtmx,
  doctorStatus,
  formatDoctor,
  hasCapability,
} from "../../src/doctor.ts";

const user = { name: "alice", uid: 1000, root: false };
const subuid = (text: string | null, who = user) => checkSubordinate({ kind: "UID", file: "/etc/subuid", text, ...who });

describe("subordinate ranges", () => {
  test("one line is ok and reported", () => {
    const check = subuid("alice:100000:65536\n");
    expect(check.status).toBe("ok");
    expect(check.detail).toBe("alice has 100000-165535 in /etc/subuid (1 line)");
  });
  test("several lines, by name and by UID, are fine and counted", () => {
    const check = subuid("alice:100000:65536\n# comment\nbob:200000:65536\n1000:300000:1000\n");
    expect(check.status).toBe("ok");
    expect(check.detail).toContain("100000-165535, 300000-300999");
    expect(check.detail).toContain("(2 lines)");
  });
  test("overlapping ranges of this user are a problem", () => {
    const check = subuid("alice:100000:65536\n1000:150000:100\n");
    expect(check.status).toBe("fail");
    expect(check.detail).toContain("overlap at 150000-150099");
  });
  test("a range shared with another user is a problem, named", () => {
    const check = subuid("bob:100000:65536\nalice:165000:65536\n");
    expect(check.status).toBe("fail");
    expect(check.detail).toContain("165000-165535 is also delegated to bob");
    expect(check.fix).toContain("usermod --del-subuids");
  });
  test("no entry for a user is a warning with a usermod fix on a free range", () => {
    const check = subuid("bob:100000:65536\n");
    expect(check.status).toBe("warn");
    expect(check.detail).toContain("no entry for alice (UID 1000) in /etc/subuid");
    expect(check.fix).toBe("usermod --add-subuids 165536-231071 alice");
    expect(subuid("").fix).toBe("usermod --add-subuids 100000-165535 alice");
  });
  test("a missing file is the same warning; subgid names its own option", () => {
    expect(subuid(null).detail).toContain("/etc/subuid is missing");
    const check = checkSubordinate({ kind: "GID", file: "/etc/subgid", text: null, ...user });
    expect(check.name).toBe("subgid");
    expect(check.fix).toBe("usermod --add-subgids 100000-165535 alice");
  });
  test("root needs no entry", () => {
    const check = subuid("", { name: "root", uid: 0, root: true });
    expect(check.status).toBe("info");
    expect(check.detail).toContain("root maps any UID");
  });
});

describe("kernel", () => {
  test("max_user_namespaces = 0 fails with the sysctl fix", () => {
    const check = checkUserNamespaces({ nsUser: true, max: "0\n", root: true });
    expect(check.status).toBe("fail");
    expect(check.fix).toBe("sysctl -w user.max_user_namespaces=15000");
  });
  test("a positive limit is ok and shown", () => {
    expect(checkUserNamespaces({ nsUser: true, max: "63432\n", root: false })).toEqual({
      name: "user namespaces",
      status: "ok",
      detail: "max_user_namespaces = 63432",
    });
  });
  test("no user namespaces at all fails", () => {
    expect(checkUserNamespaces({ nsUser: false, max: null, root: true }).status).toBe("fail");
  });
  test("Debian's unprivileged_userns_clone = 0 stops a user, not root", () => {
    const input = { nsUser: true, max: "100", unprivilegedClone: "0\n" };
    expect(checkUserNamespaces({ ...input, root: false }).fix).toBe("sysctl -w kernel.unprivileged_userns_clone=1");
    expect(checkUserNamespaces({ ...input, root: true }).status).toBe("ok");
  });
  test("a missing namespace kind fails and names the kernel option", () => {
    const check = checkNamespaceKinds(["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"]);
    expect(check.status).toBe("fail");
    expect(check.detail).toContain("missing from /proc/self/ns: time");
    expect(check.fix).toContain("CONFIG_TIME_NS");
    expect(checkNamespaceKinds(["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"]).status).toBe("ok");
  });
});

describe("apparmor", () => {
  test("apparmor_restrict_unprivileged_userns = 1 fails for a user", () => {
    const check = checkAppArmor({ restrict: "1\n", root: false, bun: "/opt/bun" });
    expect(check.status).toBe("fail");
    expect(check.detail).toStartWith("kernel.apparmor_restrict_unprivileged_userns = 1 (Ubuntu's default since 23.10): ");
    expect(check.fix).toContain("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0");
    expect(check.fix).toContain("profile bun /opt/bun");
  });
  test("but not for root, nor when 0 or missing", () => {
    expect(checkAppArmor({ restrict: "1\n", root: true }).status).toBe("info");
    expect(checkAppArmor({ restrict: "0\n", root: false }).status).toBe("ok");
    expect(checkAppArmor({ restrict: null, root: false }).status).toBe("ok");
  });
});

describe("seccomp", () => {
  const filtered = "Name:\tbun\nSeccomp:\t2\nSeccomp_filters:\t1\n";
  const eperm = { exitCode: 1, stderr: "unshare: unshare failed: Operation not permitted\n" };
  test("EPERM from unshare under a filter is the problem", () => {
    const check = checkSeccomp({ status: filtered, probe: eperm });
    expect(check.status).toBe("fail");
    expect(check.detail).toContain("Operation not permitted");
    expect(check.fix).toContain("seccomp profile that allows unshare/clone with namespace flags");
  });
  test("ENOSYS too", () => {
    const probe = { exitCode: 1, stderr: "unshare: unshare failed: Function not implemented\n" };
    expect(checkSeccomp({ status: filtered, probe }).status).toBe("fail");
  });
  test("a filter that allows unshare is ok", () => {
    expect(checkSeccomp({ status: filtered, probe: { exitCode: 0, stderr: "" } }).status).toBe("ok");
  });
  test("EPERM without a filter points elsewhere", () => {
    const check = checkSeccomp({ status: "Seccomp:\t0\n", probe: eperm });
    expect(check.status).toBe("fail");
    expect(check.fix).toContain("chroot");
  });
  test("a filter and no unshare to test it is a warning", () => {
    expect(checkSeccomp({ status: filtered, probe: null }).status).toBe("warn");
  });
});

describe("newuidmap and newgidmap", () => {
  const found = { kind: "UID" as const, path: "/usr/bin/newuidmap", caps: null, root: false, ranges: true };
  test("missing with ranges warns and names the uidmap package", () => {
    const check = checkHelper({ ...found, path: null, stat: null });
    expect(check.status).toBe("warn");
    expect(check.detail).toContain("not found");
    expect(check.fix).toContain("apt-get install uidmap");
  });
  test("missing without ranges, or as root, is only information", () => {
    expect(checkHelper({ ...found, path: null, stat: null, ranges: false }).status).toBe("info");
    expect(checkHelper({ ...found, path: null, stat: null, root: true }).status).toBe("info");
  });
  test("setuid root is ok", () => {
    expect(checkHelper({ ...found, stat: { mode: 0o104755, uid: 0 } }).status).toBe("ok");
  });
  test("not setuid and no capability fails", () => {
    const check = checkHelper({ ...found, stat: { mode: 0o100755, uid: 0 }, caps: "" });
    expect(check.status).toBe("fail");
    expect(check.detail).toContain("neither setuid root nor has cap_setuid");
    expect(check.fix).toContain("chmod u+s /usr/bin/newuidmap");
  });
  test("setuid but not owned by root fails", () => {
    expect(checkHelper({ ...found, stat: { mode: 0o104755, uid: 1000 }, caps: "" }).status).toBe("fail");
  });
  test("a file capability is ok; without getcap it cannot tell", () => {
    const stat = { mode: 0o100755, uid: 0 };
    expect(checkHelper({ ...found, stat, caps: "/usr/bin/newuidmap cap_setuid=ep\n" }).status).toBe("ok");
    const gid = checkHelper({ ...found, kind: "GID", path: "/usr/bin/newgidmap", stat, caps: "/usr/bin/newgidmap cap_setuid=ep\n" });
    expect(gid.status).toBe("fail");
    const unknown = checkHelper({ ...found, stat, caps: null });
    expect(unknown.status).toBe("warn");
    expect(unknown.detail).toContain("cannot tell");
  });
  test("getcap output forms", () => {
    expect(hasCapability("/usr/bin/newuidmap cap_setuid=ep", "cap_setuid")).toBe(true);
    expect(hasCapability("/usr/bin/newuidmap = cap_setuid+ep", "cap_setuid")).toBe(true);
    expect(hasCapability("/x cap_setuid,cap_setgid=ep", "cap_setuid")).toBe(true);
    expect(hasCapability("/x cap_setuid=p", "cap_setuid")).toBe(false);
    expect(hasCapability("/x cap_setgid=ep", "cap_setuid")).toBe(false);
  });
});

describe("devpts", () => {
  const device = describePtmx({ isSymbolicLink: false, isCharacterDevice: true, rdev: 0x502 });
  test("/dev/ptmx as a device is 5:2", () => {
    expect(device).toEqual({ kind: "char", major: 5, minor: 2 });
  });
  test("a mount that works is ok", () => {
    expect(checkDevpts({ probe: { exitCode: 0, stderr: "" }, ptmx: device }).status).toBe("ok");
    expect(checkDevpts({ probe: { exitCode: 0, stderr: "" }, ptmx: { kind: "link", target: "pts/ptmx" } }).status).toBe("ok");
  });
  test("a mount that fails names CONFIG_DEVPTS_MULTIPLE_INSTANCES and /dev/ptmx", () => {
    const probe = { exitCode: 32, stderr: "mount: /dev/pts: permission denied.\n" };
    const check = checkDevpts({ probe, ptmx: device });
    expect(check.status).toBe("fail");
    expect(check.detail).toContain("permission denied");
    expect(check.fix).toContain("CONFIG_DEVPTS_MULTIPLE_INSTANCES");
    expect(check.fix).toContain("pts/ptmx");
  });
  test("an unshare failure is left to the other checks", () => {
    const probe = { exitCode: 1, stderr: "unshare: unshare failed: Operation not permitted\n" };
    expect(checkDevpts({ probe, ptmx: device }).status).toBe("info");
  });
  test("a bad /dev/ptmx is a warning", () => {
    const probe = { exitCode: 0, stderr: "" };
    expect(checkDevpts({ probe, ptmx: { kind: "missing" } }).status).toBe("warn");
    expect(checkDevpts({ probe, ptmx: { kind: "link", target: "/tmp/x" } }).status).toBe("warn");
    expect(checkDevpts({ probe, ptmx: device, ptmxDenied: "EACCES: permission denied" }).status).toBe("warn");
  });
});

describe("cgroup2", () => {
  const unified = "30 22 0:27 / /sys/fs/cgroup rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
  const hybrid = "30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n40 30 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
  test("finds the directory of this process's cgroup", () => {
    const place = cgroupPlace(unified, "0::/user.slice/user-1000.slice/session-2.scope\n");
    expect(place).toEqual({ mount: "/sys/fs/cgroup", dir: "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope" });
    expect(cgroupPlace(hybrid, "4:memory:/x\n0::/\n")).toEqual({ mount: "/sys/fs/cgroup/unified", dir: "/sys/fs/cgroup/unified" });
    expect(cgroupPlace("1 0 0:1 / / rw - ext4 /dev/sda rw\n", "0::/\n")).toEqual({ mount: null, dir: null });
  });
  test("a writable cgroup is ok; not delegated is only information, with systemd-run", () => {
    const place = { mount: "/sys/fs/cgroup", dir: "/sys/fs/cgroup/a" };
    expect(checkCgroup({ ...place, denied: null }).status).toBe("ok");
    const check = checkCgroup({ ...place, denied: "EACCES: permission denied" });
    expect(check.status).toBe("info");
    expect(check.fix).toContain("systemd-run --user --scope -p Delegate=yes");
  });
});

describe("pseudo", () => {
  test("as root on a host, container root is 4294967294 and the full map is the fix", () => {
    const check = checkPseudoRoot({ root: true, uidMap: "0 0 4294967295\n", gidMap: "0 0 4294967295\n" });
    expect(check.status).toBe("info");
    expect(check.detail).toContain("container root is UID 4294967294 (the top of root's own map)");
    expect(check.detail).toContain("dpkg-buildpackage -rpseudo");
    expect(check.fix).toBe("to act as host root on them, map container root onto it: pseudo -u 0:0:4294967295 -g 0:0:4294967295 CMD");
  });
  test("as root of a nested namespace, the map follows root's own", () => {
    const check = checkPseudoRoot({ root: true, uidMap: "0 100000 65536\n", gidMap: "0 100000 1000\n" });
    expect(check.detail).toContain("container root is UID 65535");
    expect(check.fix).toContain("pseudo -u 0:0:65536 -g 0:0:1000 CMD");
  });
  test("as a user, nothing to fix", () => {
    const check = checkPseudoRoot({ root: false, uidMap: "", gidMap: "" });
    expect(check).toMatchObject({ status: "info" });
    expect(check.fix).toBeUndefined();
  });
});

describe("output", () => {
  const checks: Check[] = [
    { name: "user namespaces", status: "ok", detail: "max_user_namespaces = 63432" },
    { name: "apparmor", status: "fail", detail: "blocked", fix: "sysctl -w x=0" },
  ];
  test("one line per check, and the fix indented", () => {
    expect(formatDoctor(checks)).toBe(
      "ok    user namespaces: max_user_namespaces = 63432\nfail  apparmor: blocked\n      fix: sysctl -w x=0",
    );
  });
  test("status 1 only when a check fails", () => {
    expect(doctorStatus(checks)).toBe(1);
    expect(doctorStatus([checks[0]!, { name: "x", status: "warn", detail: "" }])).toBe(0);
  });
});

describe("tiocsti", () => {
  test("only information, whatever the kernel allows, and says what contain does", () => {
    for (const legacy of [null, "1", "0\n"]) {
      const check = checkTiocsti(legacy);
      expect(check.status).toBe("info");
      expect(check.fix).toBeUndefined();
    }
    expect(checkTiocsti("1").detail).toMatch(/^dev\.tty\.legacy_tiocsti = 1: .*seccomp filter refuses TIOCSTI/);
    expect(checkTiocsti("0").detail).toMatch(/refuses TIOCSTI too/);
    expect(checkTiocsti(null).detail).toMatch(/before Linux 6\.2/);
  });
});
