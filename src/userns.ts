// Choosing and writing a new user namespace's ID maps. The choice is pure (planMap); the
// writing takes a /proc base so tests can point it at a temporary directory.
import {
  checkDelegated,
  formatMap,
  type IdKind,
  type IdRange,
  isOwnIdOnly,
  type MapItem,
  parseMap,
  parseProcMap,
  parseSubordinate,
  rootDefault,
  userDefault,
  userName,
} from "./maps.ts";
import { ContainError, doctorHint } from "./errors.ts";
import {
  closeFd,
  type MapHelper,
  NativeError,
  readFd,
  readText,
  startMapHelpers,
  Step,
  stepText,
  strerror,
  waitChild,
  writeText,
} from "./native.ts";

const decoder = new TextDecoder();

/** How a map reaches the kernel: root writes it; a user writes their own ID alone (after
 *  denying setgroups); newuidmap/newgidmap write delegated ranges and keep setgroups. */
export type WriteMethod = "direct" | "own" | "helper";

export interface MapPlan {
  kind: IdKind;
  items: MapItem[];
  method: WriteMethod;
  /** With method "helper": the newuidmap or newgidmap found when planning. */
  helper?: string;
  /** Set when the default had to fall back to the user's own ID. */
  warning?: string;
}

export interface Identity {
  /** Effective ID of this kind, and whether we are root in our own namespace. */
  id: number;
  root: boolean;
  name: string;
}

export interface PlanInput {
  kind: IdKind;
  /** -u/-g text, or undefined for the default. */
  text: string | undefined;
  identity: Identity;
  /** Contents of /proc/self/uid_map or gid_map. */
  ownMap: string;
  /** Contents of /etc/subuid or /etc/subgid ("" when missing). */
  subordinate: string;
  /** Path of newuidmap/newgidmap, or null when not installed. */
  helper: string | null;
}

const helperName = (kind: IdKind) => (kind === "UID" ? "newuidmap" : "newgidmap");
const subordinatePath = (kind: IdKind) => (kind === "UID" ? "/etc/subuid" : "/etc/subgid");

export function planMap(input: PlanInput): MapPlan {
  const { kind, text, identity, helper } = input;
  const own = () => parseProcMap(input.ownMap, `/proc/self/${kind.toLowerCase()}_map`);
  if (identity.root) {
    return { kind, items: text === undefined ? rootDefault(own(), kind) : parseMap(text, kind), method: "direct" };
  }
  const delegated: IdRange[] = parseSubordinate(input.subordinate, identity.name, identity.id);
  if (text === undefined) {
    const ownOnly: MapItem[] = [{ inside: 0, outside: identity.id, count: 1 }];
    if (delegated.length === 0) return { kind, items: ownOnly, method: "own" };
    const items = userDefault(identity.id, delegated, own());
    if (isOwnIdOnly(items, identity.id)) return { kind, items, method: "own" };
    if (helper === null) {
      const warning = `${helperName(kind)} not found (install the uidmap package): mapping only your own ${kind}`;
      return { kind, items: ownOnly, method: "own", warning };
    }
    return { kind, items, method: "helper", helper };
  }
  const items = parseMap(text, kind);
  checkDelegated(items, identity.id, delegated);
  if (isOwnIdOnly(items, identity.id)) return { kind, items, method: "own" };
  if (helper === null) {
    throw new ContainError(
      `${helperName(kind)} not found: install the uidmap package to map the IDs delegated in ${subordinatePath(kind)}`,
    );
  }
  return { kind, items, method: "helper", helper };
}

/** The first host ID that the map gives container ID 0, or undefined when it gives none. */
export function hostRoot(plan: MapPlan): number | undefined {
  return plan.items.find((item) => item.inside === 0)?.outside;
}

/**
 * Why DIR, owned by host `owner`, does not suit these maps, when its owner is one of the
 * caller's subordinate IDs rather than container root: a root filesystem made in a user
 * namespace of those IDs (mmdebstrap --mode=unshare). The warning names the map under which
 * that owner is container root again. Null when there is nothing to say.
 */
export function ownerWarning(
  dir: string,
  owner: { uid: number; gid: number },
  maps: [MapPlan, MapPlan],
  delegated: { uid: IdRange[]; gid: IdRange[] },
): string | null {
  const root = hostRoot(maps[0]);
  if (owner.uid === root) return null;
  const option = (flag: string, id: number, ranges: IdRange[]) => {
    const range = ranges.find((item) => item.start <= id && id < item.start + item.count);
    return range === undefined ? null : `${flag} 0:${id}:${range.start + range.count - id}`;
  };
  const uid = option("-u", owner.uid, delegated.uid);
  if (uid === null) return null;
  const gid = option("-g", owner.gid, delegated.gid);
  const map = gid === null ? uid : `${uid} ${gid}`;
  const rootText = root === undefined ? "no host UID" : `host UID ${root}`;
  return (
    `${dir} is owned by host UID ${owner.uid}, one of your subordinate IDs, not by container root (${rootText}); ` +
    `for a root filesystem made in a user namespace (mmdebstrap --mode=unshare), use ${map}`
  );
}

/** The ranges of /etc/subuid and /etc/subgid delegated to this process's user. */
export function delegatedRanges(): { uid: IdRange[]; gid: IdRange[] } {
  const uid = process.geteuid!();
  const name = ownName(uid);
  return {
    uid: parseSubordinate(readOr("/etc/subuid", ""), name, uid),
    gid: parseSubordinate(readOr("/etc/subgid", ""), name, uid),
  };
}

function readOr(path: string, fallback: string): string {
  try {
    return readText(path) ?? fallback;
  } catch (error) {
    throw new ContainError(`Cannot read ${path}: ${strerror((error as NativeError).errno)}`, { errno: (error as NativeError).errno, cause: error });
  }
}

/** The name of this process's user (`uid`), as /etc/subuid and /etc/subgid may name it. */
function ownName(uid: number): string {
  return uid === 0 ? "root" : userName(readOr("/etc/passwd", ""), uid);
}

function findHelper(kind: IdKind): string | null {
  return Bun.which(helperName(kind), { PATH: `${process.env.PATH ?? ""}:/usr/bin:/bin:/usr/sbin:/sbin` });
}

/** Plans both maps for this process, reading /proc/self and /etc. */
export function planMaps(uidText: string | undefined, gidText: string | undefined): [MapPlan, MapPlan] {
  const uid = process.geteuid!();
  const gid = process.getegid!();
  const root = uid === 0;
  const name = ownName(uid);
  const plan = (kind: IdKind, text: string | undefined, id: number) => {
    // Root needs neither /etc/sub?id nor the helper.
    return planMap({
      kind,
      text,
      identity: { id, root, name },
      ownMap: root || text === undefined ? readOr(`/proc/self/${kind.toLowerCase()}_map`, "") : "",
      subordinate: root ? "" : readOr(subordinatePath(kind), ""),
      helper: root ? null : findHelper(kind),
    });
  };
  return [plan("UID", uidText, uid), plan("GID", gidText, gid)];
}

/**
 * Writes the maps for the process `pid`. Root's and a user's own are written here, the GID
 * map first: the kernel wants setgroups settled before it. Then newgidmap and newuidmap run
 * at once for the maps that need them; neither waits for the other, since newgidmap
 * writes setgroups only for a map of the user's own GID alone, which planMap never gives it.
 */
export function writeMaps(pid: number, uid: MapPlan, gid: MapPlan, proc = "/proc"): void {
  const running = startMaps(pid, [gid, uid], proc);
  finishMaps(running, running.map(({ helper }) => readStderr(helper.stderr)));
}

/** writeMaps without blocking the event loop while newuidmap and newgidmap run. */
export async function writeMapsAsync(pid: number, uid: MapPlan, gid: MapPlan, proc = "/proc"): Promise<void> {
  const running = startMaps(pid, [gid, uid], proc);
  finishMaps(running, await Promise.all(running.map(({ helper }) => readStderrAsync(helper.stderr))));
}

/** A helper started for `plan`, with the command it was given. */
interface Running {
  plan: MapPlan;
  command: string[];
  helper: MapHelper;
}

/** Writes the direct maps, then starts the helpers for the others. */
function startMaps(pid: number, plans: [MapPlan, MapPlan], proc: string): Running[] {
  for (const plan of plans) {
    if (plan.method === "helper") continue;
    try {
      writeDirect(pid, plan, proc);
    } catch (error) {
      throw mapError(plan, error);
    }
  }
  const commands = plans.map((plan) => (plan.method === "helper" ? helperCommand(pid, plan) : null)) as [string[] | null, string[] | null];
  const first = plans.find((plan) => plan.method === "helper");
  if (first === undefined) return [];
  let helpers;
  try {
    // No environment: the setuid helpers need none (the C library would drop most of it
    // anyway), their messages are then the untranslated ones we quote, and building
    // process.env costs a start a megabyte.
    helpers = startMapHelpers(commands, []);
  } catch (error) {
    throw mapError(first, error);
  }
  return plans.flatMap((plan, index) => (helpers[index] ? [{ plan, command: commands[index]!, helper: helpers[index]! }] : []));
}

/** Reaps every helper, then throws for the first that failed, newgidmap before newuidmap
 *  as the maps are listed. `stderr`: what each wrote there. */
function finishMaps(running: Running[], stderr: string[]): void {
  const statuses = running.map(({ helper }) => {
    try {
      return waitChild(helper.pidfd, true);
    } catch (error) {
      return error as NativeError;
    } finally {
      closeFd(helper.pidfd);
    }
  });
  running.forEach(({ plan, command, helper }, index) => {
    const status = statuses[index]!;
    if (status instanceof NativeError) throw mapError(plan, status);
    if (helper.failed) {
      const { step, errno } = helper.failed;
      const what = step === Step.exec ? `execute ${command[0]}` : `${stepText(step)} for ${command[0]}`;
      throw new ContainError(`Failed to set container ${plan.kind} map: cannot ${what}: ${strerror(errno)}`, {
        step: `set container ${plan.kind} map`,
        errno,
      });
    }
    helperResult(plan, { exitCode: status, stderr: stderr[index]! });
  });
}

/** All that `fd` gives until EOF, as text; then closes it. */
function readStderr(fd: number): string {
  const parts: Uint8Array[] = [];
  try {
    for (let n = 4096; n === 4096; ) {
      const chunk = new Uint8Array(4096);
      n = readFd(fd, chunk);
      parts.push(chunk.subarray(0, n));
    }
  } catch {
    // A read error ends the text; the helper's status still tells.
  } finally {
    closeFd(fd);
  }
  return decoder.decode(parts.length === 1 ? parts[0] : Buffer.concat(parts));
}

async function readStderrAsync(fd: number): Promise<string> {
  try {
    return await new Response(Bun.file(fd).stream()).text();
  } catch {
    return "";
  } finally {
    closeFd(fd);
  }
}

function writeDirect(pid: number, plan: MapPlan, proc: string): void {
  if (plan.kind === "GID" && plan.method === "own") writeText(`${proc}/${pid}/setgroups`, "deny");
  writeText(`${proc}/${pid}/${plan.kind.toLowerCase()}_map`, formatMap(plan.items));
}

function mapError(plan: MapPlan, error: unknown): unknown {
  if (!(error instanceof NativeError)) return error;
  const message = `Failed to set container ${plan.kind} map: ${strerror(error.errno)}${doctorHint(error.errno)}`;
  return new ContainError(message, { step: `set container ${plan.kind} map`, errno: error.errno, cause: error });
}

function helperCommand(pid: number, plan: MapPlan): string[] {
  const args = plan.items.flatMap((item) => [item.inside, item.outside, item.count].map(String));
  return [plan.helper!, String(pid), ...args];
}

function helperResult(plan: MapPlan, result: { exitCode: number; stderr: string }): void {
  if (result.exitCode !== 0) {
    const text = result.stderr.trim().split("\n")[0] ?? "";
    throw new ContainError(`Failed to set container ${plan.kind} map: ${helperName(plan.kind)} said: ${text}`);
  }
}
