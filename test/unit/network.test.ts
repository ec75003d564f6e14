import { describe, expect, test } from "bun:test";
import { splitArgv, usage } from "../../src/argv.ts";
import { command as contain } from "../../src/cli/contain.ts";
import { checkPrivateNetwork } from "../../src/doctor.ts";
import { networkMode, parsePublish, pastaArguments, resolvConf } from "../../src/network.ts";

describe("--network and -p", () => {
  test("--network takes its value separate or attached; -p repeats", () => {
    const split = splitArgv(["--network", "private", "-p", "8080:80", "-p127.0.0.1:5353:53/udp", "dir"], contain);
    expect(split.options.network).toBe("private");
    expect(split.lists.publish).toEqual(["8080:80", "127.0.0.1:5353:53/udp"]);
    expect(splitArgv(["--network=host", "dir"], contain).options.network).toBe("host");
    expect(() => splitArgv(["--network"], contain)).toThrow("option '--network' requires an argument");
    expect(() => splitArgv(["--netwerk", "x", "dir"], contain)).toThrow("unrecognized option '--netwerk'");
    expect(splitArgv(["--publish=8080:80", "dir"], contain).lists.publish).toEqual(["8080:80"]);
    expect(usage(contain, "contain")).toContain("      --network MODE ");
    expect(usage(contain, "contain")).toContain("  -p, --publish PORTS ");
  });
  test("parsePublish", () => {
    expect(parsePublish("8080:80")).toEqual({ hostPort: 8080, port: 80, protocol: "tcp" });
    expect(parsePublish("127.0.0.1:5353:53/udp")).toEqual({ hostPort: 5353, port: 53, protocol: "udp", hostIp: "127.0.0.1" });
    expect(parsePublish("[::1]:8080:80/tcp")).toEqual({ hostPort: 8080, port: 80, protocol: "tcp", hostIp: "::1" });
    for (const bad of ["80", "a:80", "8080:80/sctp", "host:8080:80", "1.2.3.4:80"]) {
      expect(parsePublish(bad)).toBe(`bad port ${bad}: expected [HOSTIP:]HOSTPORT:PORT[/udp]`);
    }
    expect(parsePublish("0:80")).toBe("bad port 0:80: ports are 1 to 65535");
    expect(parsePublish("8080:65536")).toBe("bad port 8080:65536: ports are 1 to 65535");
  });
  test("the library's network and hostNetwork", () => {
    expect(networkMode(undefined, undefined)).toBe("none");
    expect(networkMode(undefined, true)).toBe("host");
    expect(networkMode("private", undefined)).toBe("private");
    expect(networkMode("host", true)).toBe("host");
    expect(() => networkMode("private", true)).toThrow("Cannot use network private with hostNetwork");
    expect(() => networkMode("bridge" as "none", undefined)).toThrow("Cannot use network bridge: expected none, host or private");
  });
});

describe("pasta's command line", () => {
  test("only the ports asked for, no way to the host's loopback, and the DNS forwarder", () => {
    const args = pastaArguments("/usr/bin/pasta", [
      { hostPort: 8080, port: 80 },
      { hostPort: 8443, port: 443, hostIp: "127.0.0.1" },
      { hostPort: 5353, port: 53, protocol: "udp" },
    ], false);
    const value = (flag: string) => args[args.indexOf(flag) + 1];
    expect(args[0]).toBe("/usr/bin/pasta");
    expect(args).toContain("--foreground");
    expect(args).toContain("--config-net");
    expect(args).toContain("--no-map-gw");
    expect([value("-T"), value("-U")]).toEqual(["none", "none"]);
    // One option each: an address would apply to a whole list.
    expect(args.filter((_, index) => args[index - 1] === "-t")).toEqual(["8080:80", "127.0.0.1/8443:443"]);
    expect(value("-u")).toBe("5353:53");
    expect(value("--dns-forward")).toBe("169.254.1.1");
    expect(args).not.toContain("--runas");
    const none = pastaArguments("/usr/bin/pasta", [], true);
    expect([none[none.indexOf("-t") + 1], none[none.indexOf("-u") + 1]]).toEqual(["none", "none"]);
    expect(none[none.indexOf("--runas") + 1]).toBe("0");
  });
  test("a bad port from the library is refused", () => {
    expect(() => pastaArguments("pasta", [{ hostPort: 70000 }], false)).toThrow("Cannot publish a port: bad port 70000:undefined: ports are 1 to 65535");
    expect(() => pastaArguments("pasta", [{ hostPort: 80, hostIp: "a b" }], false)).toThrow("bad host address a b");
  });
  test("resolv.conf names pasta's forwarder and keeps the host's search and options", () => {
    expect(resolvConf("nameserver 127.0.0.53\nsearch example.org\noptions edns0 trust-ad\n# comment\n")).toBe(
      "nameserver 169.254.1.1\nsearch example.org\noptions edns0 trust-ad\n",
    );
    expect(resolvConf(null)).toBe("nameserver 169.254.1.1\n");
  });
});

describe("doctor's private network check", () => {
  const base = { pasta: "/usr/bin/pasta", tun: true, tunDenied: null, root: false };
  test("each problem and its fix", () => {
    expect(checkPrivateNetwork(base).status).toBe("ok");
    expect(checkPrivateNetwork({ ...base, pasta: null })).toMatchObject({ status: "warn", fix: "apt-get install passt" });
    expect(checkPrivateNetwork({ ...base, tun: false })).toMatchObject({ status: "warn", fix: "modprobe tun" });
    const closed = checkPrivateNetwork({ ...base, tunDenied: "EACCES: permission denied" });
    expect(closed.status).toBe("warn");
    expect(closed.fix).toStartWith("as root: chmod 0666 /dev/net/tun");
    // Root's pasta runs as root, whatever the mode.
    expect(checkPrivateNetwork({ ...base, tunDenied: "EACCES", root: true }).status).toBe("ok");
  });
});
