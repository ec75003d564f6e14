// A private network (--network private): the holder's network namespace connected to the
// host's by pasta (Debian package passt), which the supervisor starts once the holder has
// made the namespace and waits for until pasta has configured it, as podman does.
import { ContainError, Errno } from "./errors.ts";
import { closeFd, openPath, readFd, readText, sendSignal, startMapHelpers, strerror, waitChild } from "./native.ts";

export type NetworkMode = "none" | "host" | "private";

/** A port of the container published on the host, as -p HOSTIP:HOSTPORT:PORT/udp. */
export interface PublishedPort {
  /** The port on the host. */
  hostPort: number;
  /** The port inside the container. Default: hostPort. */
  port?: number;
  protocol?: "tcp" | "udp";
  /** The host address it is bound to. Default: every address. */
  hostIp?: string;
}

/** Where the container's resolver finds pasta's DNS forwarder (podman's address too). */
export const DNS_FORWARDER = "169.254.1.1";

const SIGKILL = 9;

/** The network a ContainOptions asks for: `network`, else hostNetwork's. */
export function networkMode(network: NetworkMode | undefined, hostNetwork: boolean | undefined): NetworkMode {
  if (network === undefined) return hostNetwork ? "host" : "none";
  if (network !== "none" && network !== "host" && network !== "private") {
    throw new ContainError(`Cannot use network ${String(network)}: expected none, host or private`, { errno: Errno.EINVAL });
  }
  if (hostNetwork && network !== "host") throw new ContainError(`Cannot use network ${network} with hostNetwork`, { errno: Errno.EINVAL });
  return network;
}

/** -p's text: [HOSTIP:]HOSTPORT:PORT[/udp|/tcp], HOSTIP an IPv4 address or [IPv6]. */
export function parsePublish(text: string): PublishedPort | string {
  const bad = `bad port ${text}: expected [HOSTIP:]HOSTPORT:PORT[/udp]`;
  const match = /^(?:(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):)?(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(text);
  if (!match) return bad;
  const [, address, hostPort, port, protocol] = match;
  const published: PublishedPort = { hostPort: Number(hostPort), port: Number(port), protocol: (protocol ?? "tcp") as "tcp" | "udp" };
  if (address !== undefined) published.hostIp = address.startsWith("[") ? address.slice(1, -1) : address;
  return checkPort(published) ?? published;
}

/** A problem with a published port, or null. */
function checkPort(port: PublishedPort): string | null {
  const valid = (n: unknown) => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
  if (!valid(port.hostPort) || !valid(port.port ?? port.hostPort)) return `bad port ${port.hostPort}:${port.port}: ports are 1 to 65535`;
  if (port.protocol !== undefined && port.protocol !== "tcp" && port.protocol !== "udp") return `bad protocol ${port.protocol}: expected tcp or udp`;
  if (port.hostIp !== undefined && (port.hostIp === "" || /[^0-9A-Fa-f:.]/.test(port.hostIp))) return `bad host address ${port.hostIp}`;
  return null;
}

/** pasta's -t or -u options for `ports`, one for each (an address applies to a whole
 *  option's list), or `FLAG none` when there are none. */
function portOptions(flag: "-t" | "-u", ports: readonly PublishedPort[]): string[] {
  if (ports.length === 0) return [flag, "none"];
  return ports.flatMap((p) => [flag, `${p.hostIp === undefined ? "" : `${p.hostIp}/`}${p.hostPort}:${p.port ?? p.hostPort}`]);
}

/** The first executable `name` on PATH (or the usual directories), or null. */
export function findProgram(name: string, path = process.env.PATH || "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"): string | null {
  return Bun.which(name, { PATH: path });
}

/** pasta's command line, but for the namespace to join (Pasta.spawn adds it). */
export function pastaArguments(program: string, ports: readonly PublishedPort[], asRoot: boolean): string[] {
  for (const port of ports) {
    const problem = checkPort(port);
    if (problem) throw new ContainError(`Cannot publish a port: ${problem}`, { errno: Errno.EINVAL });
  }
  return [
    program,
    // Ours, with the parent-death signal that takes it down with us; no daemon.
    "--foreground",
    "--quiet",
    "--config-net",
    // The host's loopback services stay out of reach: no gateway address that leads to
    // them, no forwarding of the container's own loopback ports to the host's.
    "--no-map-gw",
    "-T",
    "none",
    "-U",
    "none",
    // Only the ports asked for are published (pasta's default would follow every port
    // the container listens on).
    ...portOptions("-t", ports.filter((p) => (p.protocol ?? "tcp") === "tcp")),
    ...portOptions("-u", ports.filter((p) => p.protocol === "udp")),
    "--dns-forward",
    DNS_FORWARDER,
    // As root, pasta would turn into nobody before it joins the namespace, which nobody
    // may not: it stays root, in the sandbox it makes for itself (Pasta.spawn says where).
    ...(asRoot ? ["--runas", "0"] : []),
    // Written once the namespace is configured: that is the signal to go on.
    "--pid",
    "/proc/self/fd/2",
  ];
}

/**
 * The resolver configuration the container gets: pasta's forwarder, which asks the host's
 * first name server (a loopback one like systemd-resolved's included), with the host's
 * search domains and options.
 */
export function resolvConf(host: string | null): string {
  const kept = (host ?? "").split("\n").filter((line) => /^\s*(search|domain|options)\s/.test(line));
  return [`nameserver ${DNS_FORWARDER}`, ...kept, ""].join("\n");
}

/**
 * A file with resolvConf's text for the container's /etc/resolv.conf bind: made in /tmp
 * (where container root, as host root's unprivileged ID, can read it too), under a name
 * of its own, and removed by the caller once the container has started, when the bind no
 * longer needs its name.
 */
export function writeResolvConf(): string {
  const fs = require("node:fs") as typeof import("node:fs");
  const text = resolvConf(readText("/etc/resolv.conf"));
  for (let attempt = 0; ; attempt++) {
    const path = `/tmp/contain-resolv-${process.pid}-${Math.random().toString(36).slice(2, 10)}.conf`;
    try {
      fs.writeFileSync(path, text, { flag: "wx", mode: 0o644 });
      fs.chmodSync(path, 0o644);
      return path;
    } catch (error) {
      if ((error as { code?: string }).code !== "EEXIST" || attempt > 8) {
        throw new ContainError(`Failed to write the container's resolv.conf: ${(error as Error).message}`, {
          step: "write resolv.conf",
          errno: -((error as { errno?: number }).errno ?? 0),
          cause: error,
        });
      }
    }
  }
}

export function removeFile(path: string): void {
  try {
    (require("node:fs") as typeof import("node:fs")).unlinkSync(path);
  } catch {
    // Gone already.
  }
}

/** pasta, running for one container: stop() kills and reaps it. */
export class Pasta {
  #pidfd: number;
  #stderr: number;

  private constructor(pidfd: number, stderr: number) {
    this.#pidfd = pidfd;
    this.#stderr = stderr;
  }

  /**
   * Starts pasta on the network namespace of `pid` (the holder); returns with it started,
   * not yet ready. A user's pasta joins the holder's user namespace too, as its owner. As
   * host root it cannot open the holder's /proc files (the holder shares Bun's memory,
   * which its change of IDs made non-dumpable, and pasta drops CAP_SYS_PTRACE first), so
   * it gets the network namespace as its stdin, opened here, and joins it alone: host
   * root owns the holder's user namespace, so the network namespace is its to join.
   */
  static spawn(args: readonly string[], pid: number): Pasta {
    const asRoot = process.geteuid!() === 0;
    let helper;
    let namespace = -1;
    try {
      if (asRoot) namespace = openPath(`/proc/${pid}/ns/net`, false);
      const target = asRoot ? ["--netns", "/proc/self/fd/0", "--netns-only"] : [String(pid)];
      helper = startMapHelpers([[...args, ...target], null], [], namespace)[0]!;
    } catch (error) {
      throw failure((error as ContainError).message);
    } finally {
      if (namespace >= 0) closeFd(namespace);
    }
    const pasta = new Pasta(helper.pidfd, helper.stderr);
    if (helper.failed) {
      pasta.stop();
      throw failure(`cannot execute ${args[0]}: ${strerror(helper.failed.errno)}`);
    }
    return pasta;
  }

  /** Blocks until pasta has configured the namespace (its PID on stderr), or throws with
   *  what it said when it exits instead. */
  waitReady(): void {
    // A byte at a time (readFd fills its buffer): pasta says little, and then keeps the
    // pipe open for as long as it runs.
    const bytes: number[] = [];
    const byte = new Uint8Array(1);
    for (;;) {
      let n = 0;
      try {
        n = readFd(this.#stderr, byte);
      } catch {
        n = 0;
      }
      if (n <= 0) break;
      bytes.push(byte[0]!);
      if (byte[0] === 0x0a && ready(new TextDecoder().decode(new Uint8Array(bytes)))) return;
    }
    this.#failed(new TextDecoder().decode(new Uint8Array(bytes)));
  }

  /** waitReady without blocking the event loop. */
  async waitReadyAsync(): Promise<void> {
    let text = "";
    const reader = Bun.file(this.#stderr).stream().getReader();
    try {
      while (!ready(text)) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    } catch {
      // The status tells.
    } finally {
      reader.cancel().catch(() => {});
    }
    if (!ready(text)) this.#failed(text);
  }

  #failed(text: string): never {
    this.stop();
    const lines = text
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !/^Failed to send \d+ bytes to syslog/.test(line));
    const said = lines.at(-1) ?? "it exited";
    const hint = /\/dev\/net\/tun/.test(said) ? " (run contain --doctor)" : "";
    throw failure(`${said}${hint}`);
  }

  /** Kills and reaps pasta and closes its fds; once only. */
  stop(): void {
    if (this.#pidfd < 0) return;
    try {
      sendSignal(this.#pidfd, SIGKILL);
      waitChild(this.#pidfd, true);
    } catch {
      // Reaped already.
    }
    closeFd(this.#pidfd);
    closeFd(this.#stderr);
    this.#pidfd = -1;
    this.#stderr = -1;
  }
}

/** pasta wrote its PID (a line of digits): the namespace is configured. */
function ready(text: string): boolean {
  return /(^|\n)\d+\n/.test(text);
}

function failure(reason: string): ContainError {
  return new ContainError(`Failed to start pasta for the private network: ${reason}`, { step: "start pasta" });
}

/** What a missing pasta says: the package to install. */
export function missingPasta(): ContainError {
  return failure("pasta was not found on PATH (install the Debian package passt)");
}
