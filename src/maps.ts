// User and group ID maps: parsing, validation, defaults and the delegation check.
// Pure functions over file contents, so unit tests need no privileges.
import { ContainError } from "./errors.ts";

export type IdKind = "UID" | "GID";

/** One map item: container IDs inside..inside+count-1 onto host IDs outside..outside+count-1. */
export interface MapItem {
  inside: number;
  outside: number;
  count: number;
}

/** A range of host IDs, as /etc/subuid delegates them. */
export interface IdRange {
  start: number;
  count: number;
}

/** The kernel takes at most 340 lines in a uid_map or gid_map. */
export const MAX_ITEMS = 340;
/** IDs are 32 bits and (uid_t) -1 is not an ID, so a range must end at or below 2^32 - 2. */
const ID_LIMIT = 2 ** 32 - 1;

/** A map that cannot be used: bad text, or IDs the user may not map. */
export class MapError extends ContainError {}

/** Decimal digits only (no regular expression: pseudo's start would pay its first use). */
function isNumber(text: string): boolean {
  if (text.length === 0) return false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 48 || code > 57) return false;
  }
  return true;
}

/** The fields of a line split at runs of spaces and tabs. A loop, not split and filter:
 *  /proc pads its maps with dozens of spaces, and a callback per empty field would be
 *  one the JIT compiles at pseudo's every start (a compiler thread, most of a ms). */
function fieldsOf(line: string): string[] {
  const fields: string[] = [];
  let start = -1;
  for (let index = 0; index <= line.length; index++) {
    const blank = index === line.length || line[index] === " " || line[index] === "\t";
    if (blank && start >= 0) {
      fields.push(line.slice(start, index));
      start = -1;
    } else if (!blank && start < 0) {
      start = index;
    }
  }
  return fields;
}

/** An ID (START, LOWER: at most 2^32 - 2) or a count (COUNT: at most 2^32 - 1, which maps
 *  every ID from 0, as the initial namespace's own map does). */
function parseId(text: string, what: string, item: string, kind: IdKind): number {
  if (!isNumber(text)) {
    throw new MapError(`Invalid ${kind} map item '${item}': ${what} is not a number`);
  }
  const value = Number(text);
  const limit = what === "COUNT" ? ID_LIMIT : ID_LIMIT - 1;
  if (value > limit) throw new MapError(`Invalid ${kind} map item '${item}': ${what} is too large`);
  return value;
}

/** Parses START:LOWER:COUNT[,START:LOWER:COUNT]... (`,` or `;` between items) and validates it. */
export function parseMap(text: string, kind: IdKind): MapItem[] {
  const items = text
    .replaceAll(";", ",")
    .split(",")
    .filter((item) => item !== "")
    .map((item) => {
      const fields = item.split(":");
      if (fields.length !== 3) {
        throw new MapError(`Invalid ${kind} map item '${item}': expected START:LOWER:COUNT`);
      }
      const inside = parseId(fields[0]!, "START", item, kind);
      const outside = parseId(fields[1]!, "LOWER", item, kind);
      const count = parseId(fields[2]!, "COUNT", item, kind);
      if (count === 0) throw new MapError(`Invalid ${kind} map item '${item}': COUNT must be at least 1`);
      if (inside + count > ID_LIMIT || outside + count > ID_LIMIT) {
        throw new MapError(`Invalid ${kind} map item '${item}': the range runs past ${ID_LIMIT - 1}`);
      }
      return { inside, outside, count };
    });
  if (items.length === 0) throw new MapError(`Invalid ${kind} map '${text}': no items`);
  validateMap(items, kind);
  return items;
}

/** The checks the kernel makes, with a message that says which IDs are at fault. */
export function validateMap(items: MapItem[], kind: IdKind): void {
  if (items.length > MAX_ITEMS) {
    throw new MapError(`Invalid ${kind} map: ${items.length} items, the kernel takes at most ${MAX_ITEMS}`);
  }
  const inside = overlap(items.map((item) => ({ start: item.inside, count: item.count })));
  if (inside !== null) throw new MapError(`Invalid ${kind} map: container ${kind} ${inside} is listed twice`);
  const outside = overlap(items.map((item) => ({ start: item.outside, count: item.count })));
  if (outside !== null) throw new MapError(`Invalid ${kind} map: host ${kind} ${outside} is mapped twice`);
}

/** The first ID that two ranges share, or null. */
function overlap(ranges: IdRange[]): number | null {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  for (let index = 1; index < sorted.length; index++) {
    const previous = sorted[index - 1]!;
    if (sorted[index]!.start < previous.start + previous.count) return sorted[index]!.start;
  }
  return null;
}

/** Parses /proc/PID/uid_map or gid_map contents: "inside outside count" lines. */
export function parseProcMap(text: string, path: string): MapItem[] {
  const items = text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const fields = fieldsOf(line);
      if (fields.length !== 3 || !fields.every((field) => isNumber(field))) {
        throw new MapError(`Invalid map data in ${path}`);
      }
      const [inside, outside, count] = fields.map(Number) as [number, number, number];
      return { inside, outside, count };
    });
  if (items.length === 0) throw new MapError(`Invalid map data in ${path}`);
  return items;
}

/** The map as the kernel wants it written. */
export function formatMap(items: MapItem[]): string {
  return items.map((item) => `${item.inside} ${item.outside} ${item.count}\n`).join("");
}

/**
 * The default for root: container 0 onto the highest ID of root's own map, every other
 * ID onto itself, and the highest left out (it is container root's). `own` is root's own
 * map, from /proc/self/uid_map or gid_map, so nesting works.
 */
export function rootDefault(own: MapItem[], kind: IdKind): MapItem[] {
  const last = Math.max(...own.map((item) => item.inside + item.count - 1));
  const result: MapItem[] = [{ inside: 0, outside: last, count: 1 }];
  for (const item of own) {
    let { inside: first, count } = item;
    if (first === 0) {
      if (count === 1 && first >= last) throw new MapError(`No unprivileged ${kind} available`);
      first++;
      count--;
    }
    if (count > 0 && last <= first + count - 1) count--;
    if (count > 0) result.push({ inside: first, outside: first, count });
  }
  return result;
}

/** Every well-formed NAME:START:COUNT line of /etc/subuid or /etc/subgid contents, in
 *  order; comments, blank lines and malformed lines are skipped. */
export function parseSubordinateAll(text: string): { owner: string; range: IdRange }[] {
  const entries: { owner: string; range: IdRange }[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(":");
    if (fields.length !== 3) continue;
    const [owner, start, count] = fields as [string, string, string];
    if (!isNumber(start) || !isNumber(count) || Number(count) === 0) continue;
    entries.push({ owner, range: { start: Number(start), count: Number(count) } });
  }
  return entries;
}

/** The ranges delegated to a user, whose lines name them or their UID; several allowed. */
export function parseSubordinate(text: string, name: string, id: number): IdRange[] {
  return parseSubordinateAll(text)
    .filter((entry) => entry.owner === name || entry.owner === String(id))
    .map((entry) => entry.range);
}

/** Parts of [start, start+count) not covered by `used`. */
function subtract(range: IdRange, used: IdRange[]): IdRange[] {
  let pieces = [range];
  for (const taken of used) {
    pieces = pieces.flatMap((piece) => {
      const end = piece.start + piece.count;
      const takenEnd = taken.start + taken.count;
      if (takenEnd <= piece.start || end <= taken.start) return [piece];
      const rest: IdRange[] = [];
      if (piece.start < taken.start) rest.push({ start: piece.start, count: taken.start - piece.start });
      if (takenEnd < end) rest.push({ start: takenEnd, count: end - takenEnd });
      return rest;
    });
  }
  return pieces;
}

/**
 * The default for a user: container 0 onto the user's own ID, then 1, 2, ... onto the
 * delegated ranges in order. Only IDs that exist in the user's own namespace (`own`) can
 * be mapped, and none twice, so the ranges are clipped to it and to each other.
 */
export function userDefault(id: number, delegated: IdRange[], own: MapItem[]): MapItem[] {
  const visible = own.map((item) => ({ start: item.inside, count: item.count }));
  const used: IdRange[] = [];
  const result: MapItem[] = [];
  let next = 0;
  for (const range of [{ start: id, count: 1 }, ...delegated]) {
    for (const piece of subtract(range, used)) {
      for (const part of intersect(piece, visible)) {
        result.push({ inside: next, outside: part.start, count: part.count });
        next += part.count;
        used.push(part);
      }
    }
    if (result.length >= MAX_ITEMS) break;
  }
  return result.slice(0, MAX_ITEMS);
}

function intersect(range: IdRange, within: IdRange[]): IdRange[] {
  const parts: IdRange[] = [];
  for (const area of [...within].sort((a, b) => a.start - b.start)) {
    const start = Math.max(range.start, area.start);
    const end = Math.min(range.start + range.count, area.start + area.count);
    if (start < end) parts.push({ start, count: end - start });
  }
  return parts;
}

/** A user may map only onto their own ID and the ranges delegated to them. */
export function checkDelegated(items: MapItem[], id: number, delegated: IdRange[]): void {
  const allowed = [{ start: id, count: 1 }, ...delegated];
  for (const item of items) {
    if (subtract({ start: item.outside, count: item.count }, allowed).length > 0) {
      throw new MapError("Cannot map onto IDs that are not delegated to you");
    }
  }
}

/** True when the map is the one item an unprivileged user may write without help. */
export function isOwnIdOnly(items: MapItem[], id: number): boolean {
  return items.length === 1 && items[0]!.count === 1 && items[0]!.outside === id;
}

/** The login name of `uid` from /etc/passwd contents; subuid entries name users either way,
 *  so a UID without an entry (as inside some containers) stands for itself. */
export function userName(passwd: string, uid: number): string {
  for (const line of passwd.split("\n")) {
    const fields = line.split(":");
    if (fields.length >= 3 && fields[2] === String(uid) && fields[0] !== "") return fields[0]!;
  }
  return String(uid);
}
