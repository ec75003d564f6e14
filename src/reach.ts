// The host-safety policy: who may reach DIR or a bind's source (README, security). As host
// root under the default map, every container ID but root is the host ID of the same
// number, so container root can leave a setuid or setgid file in DIR for any real host
// user or group (chown 1001:42 f; chmod 2755 f: group shadow for whoever runs it). That is
// harmless only where no other host user can reach it. The objects are judged through
// their fds (zig/objects.zig): a symbolic link or a `..` in the path as typed changes
// nothing.
import { type Arg, argText } from "./arg.ts";
import { ContainError, Errno } from "./errors.ts";
import { objectPath, objectReachable } from "./native.ts";
import { realSuffix } from "./paths.ts";

/** Whether the policy applies: host root under the default maps (explicit maps are the
 *  caller's choice). */
export function defaultRootMap(uidMap: string | undefined, gidMap: string | undefined): boolean {
  return process.geteuid!() === 0 && uidMap === undefined && gidMap === undefined;
}

/**
 * Whether another host user than root and `containerRoot` can reach the object at `fd`:
 * none can when it or one of its real ancestors is closed to them (no search permission
 * for others, nor for a group other than root's, nor for a user or group named in its
 * ACL) and belongs to root or to container root. An error counts as reachable.
 */
function reachable(fd: number, containerRoot: number): boolean {
  return objectReachable(fd, containerRoot) !== false;
}

/** Refuses DIR (`name`, opened as `fd`) when other host users can reach it. An ephemeral
 *  root is never written, and is not judged. */
export function refuseReachableRoot(name: Arg, fd: number, containerRoot: number): void {
  if (!reachable(fd, containerRoot)) return;
  const path = objectPath(fd);
  throw new ContainError(
    `Cannot use ${argText(name)} as root filesystem: ${path} is open to other host users, and as host ` +
      `root the default map gives container IDs their own numbers on the host, so the container could leave ` +
      `setuid files there for them: keep it in a directory only container root may enter (made by ` +
      `pseudo mkdir -m 700, or chmod 700 ${path} itself), use -e, or choose maps with -u and -g`,
    { errno: Errno.EPERM },
  );
}

/**
 * The same for a writable bind, and more so: through an ID-mapped bind, container root
 * writes as host root (a setuid-root file, for whoever can reach it), and even a plain
 * one takes files for real host IDs. A file is judged from its directory (and refused
 * when it has other links). A `:ro` bind is not judged.
 */
export function refuseReachableBind(bind: { source: string; fd: number; readonly: boolean }, containerRoot: number): void {
  if (bind.readonly || !reachable(bind.fd, containerRoot)) return;
  throw new ContainError(
    `Cannot bind ${bind.source}${realSuffix(bind.source, objectPath(bind.fd))} writable: as host root, container root writes ` +
      `there as host root (setuid files too), and other host users can reach it: make it private (chmod 700), ` +
      `bind it :ro, or choose maps with -u and -g`,
    { step: "bind", errno: Errno.EPERM },
  );
}
