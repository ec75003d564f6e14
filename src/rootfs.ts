// Root filesystems for tests: built in a fresh directory with owners right for the user
// who will run the container, and removed (under pseudo, as container root) afterwards.
import { chownSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { ContainError } from "./errors.ts";
import { pseudo } from "./library.ts";
import { statPath, strerror } from "./native.ts";
import { hostRoot, planMaps } from "./userns.ts";

export interface RootFilesystem {
  /** The root directory. */
  path: string;
  /** Removes it and everything in it. */
  remove(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface MapOptions {
  uidMap?: string | undefined;
  gidMap?: string | undefined;
}

/** Where fromTarball extracts: by default a fresh directory in the temporary directory. */
export interface PlaceOptions {
  /** The fresh directory's name starts with this, as Python's mkdtemp(prefix=) takes it:
   *  relative to the temporary directory, or a path of its own. */
  prefix?: string | undefined;
  /** Or this directory, made (with its parents) and removed with the root; it must not exist. */
  directory?: string | undefined;
}

/** Runs CMD under pseudo, feeding it `input`; returns its stdout, or throws with its stderr. */
async function underPseudo(cmd: string[], maps: MapOptions, input?: ReadableStream<Uint8Array>): Promise<string> {
  const { uidMap, gidMap } = maps;
  const child = pseudo({ cmd, uidMap, gidMap, stdin: input ? "pipe" : "ignore", stdout: "pipe", stderr: "pipe" });
  const output = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  if (input) {
    for await (const chunk of input) child.stdin!.write(chunk);
    await child.stdin!.end();
  }
  const [[stdout, stderr], status] = await Promise.all([output, child.exited]);
  if (status !== 0) throw new ContainError(`pseudo ${cmd.join(" ")} failed with status ${status}: ${stderr.trim()}`);
  return stdout;
}

/** A new directory owned by container root (under pseudo, so by the right host ID). */
/**
 * The root is `root` inside a directory that only container root may enter: no other
 * host user reaches it (as host root, contain requires that under the default map, since
 * container IDs are host IDs there), while the root itself is 0755, as a root filesystem's
 * "/" must be for the container's own unprivileged users.
 */
async function makeRoot(maps: MapOptions, place: PlaceOptions = {}): Promise<RootFilesystem> {
  const placed = place.directory !== undefined || place.prefix !== undefined;
  const home = placed ? placedHome(maps, place) : (await underPseudo(["mktemp", "-d", join(tmpdir(), "contain-root.XXXXXX")], maps)).trim();
  const path = join(home, "root");
  // A directory the caller chose may be in one container root cannot write: it is the
  // caller's to remove, once container root has emptied it.
  const remove = placed
    ? () =>
        underPseudo(["rm", "-rf", path], maps)
          .catch((error) => {
            if (existsSync(path)) throw error;
          })
          .then(() => rmdirSync(home))
    : () => underPseudo(["rm", "-rf", home], maps).then(() => {});
  try {
    await underPseudo(["mkdir", "-m", "755", path], maps);
  } catch (error) {
    await remove();
    throw error;
  }
  return { path, remove, [Symbol.asyncDispose]: remove };
}

/** The private directory of PlaceOptions, made by the caller (where container root may
 *  not write) and given to container root. */
function placedHome(maps: MapOptions, place: PlaceOptions): string {
  let home: string;
  try {
    if (place.directory !== undefined) {
      home = resolve(place.directory);
      mkdirSync(dirname(home), { recursive: true });
      mkdirSync(home, 0o700);
    } else {
      const prefix = place.prefix!;
      home = mkdtempSync(resolve(tmpdir(), prefix) + (prefix.endsWith("/") ? "/" : ""));
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).errno ?? 0;
    const where = place.directory ?? `${place.prefix}XXXXXX`;
    throw new ContainError(`Cannot make ${where}: ${code ? strerror(-code) : (error as Error).message}`, { step: "make directory", errno: -code });
  }
  if (process.geteuid!() === 0) {
    const [uid, gid] = planMaps(maps.uidMap, maps.gidMap).map(hostRoot);
    chownSync(home, uid ?? 0, gid ?? 0);
  }
  return home;
}

/** A root filesystem from a tarball, extracted under pseudo so that every owner is kept. */
export async function fromTarball(tarball: string, options: MapOptions & PlaceOptions = {}): Promise<RootFilesystem> {
  const maps = options;
  const stat = statPath(tarball);
  if (typeof stat === "number") throw new ContainError(`Cannot read ${tarball}: ${strerror(stat)}`, { step: "read tarball", errno: stat });
  const root = await makeRoot(maps, options);
  try {
    // Device nodes cannot be made in a user namespace, and a container mounts its own /dev.
    const args = ["-x", "-f", realpathSync(tarball), "-C", root.path, "--exclude=./dev/*", "--exclude=dev/*"];
    await underPseudo(["tar", ...args], maps);
  } catch (error) {
    await root.remove();
    throw error;
  }
  return root;
}

/**
 * A root filesystem from host programs (names on PATH or paths) and the shared libraries
 * they load, the README demo's way: what the host has, owned by container root.
 * `links` adds symbolic links, such as { "bin/sh": "busybox" }.
 */
export async function fromHost(programs: string[], options: MapOptions & { links?: Record<string, string> | undefined } = {}): Promise<RootFilesystem> {
  const files = hostFiles(programs);
  const root = await makeRoot(options);
  try {
    const tar = Bun.spawn(["tar", "-c", "-f", "-", "-C", "/", ...files], { stdout: "pipe", stderr: "ignore" });
    const links = Object.entries(options.links ?? {}).map(
      ([at, to]) => `mkdir -p "$0/$(dirname '${at}')" && ln -sfn '${to}' "$0/${at}"`,
    );
    await underPseudo(["sh", "-c", ["tar -x -f - -C \"$0\"", ...links].join(" && "), root.path], options, tar.stdout);
    await tar.exited;
  } catch (error) {
    await root.remove();
    throw error;
  }
  return root;
}

/**
 * Paths, relative to /, of host programs (names on PATH or paths), the shared libraries
 * they load, and the top-level links of a merged-/usr system: enough for a small root.
 */
export function hostFiles(programs: string[]): string[] {
  const files = new Set<string>();
  for (const link of ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]) {
    try {
      if (realpathSync(`/${link}`) !== `/${link}`) files.add(link);
    } catch {
      // Not on this host.
    }
  }
  for (const program of programs) {
    const path = program.includes("/") ? program : Bun.which(program);
    if (!path) throw new ContainError(`Cannot find ${program} on this host`);
    addFile(files, path);
    const ldd = Bun.spawnSync(["ldd", path], { stderr: "ignore" }).stdout.toString();
    for (const match of ldd.matchAll(/(\/\S+) \(0x/g)) addFile(files, match[1]!);
  }
  return [...files].sort();
}

/** A file by the name it is used by (its directory resolved, so the top-level links of a
 *  merged /usr come out right) and, when that is a link, the file it points to. */
function addFile(files: Set<string>, path: string): void {
  files.add(join(realpathSync(dirname(path)), basename(path)).slice(1));
  files.add(realpathSync(path).slice(1));
}
