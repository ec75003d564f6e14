import { describe, expect, test } from "bun:test";
import {
  checkDelegated,
  formatMap,
  isOwnIdOnly,
  MapError,
  parseMap,
  parseProcMap,
  parseSubordinate,
  rootDefault,
  userDefault,
} from "../../src/maps.ts";
import { ContainError } from "../../src/errors.ts";

describe("parseMap", () => {
  test("the original's example", () => {
    expect(parseMap("0:1000:1,1:4000:2000", "UID")).toEqual([
      { inside: 0, outside: 1000, count: 1 },
      { inside: 1, outside: 4000, count: 2000 },
    ]);
  });
  test("semicolons and repeated separators", () => {
    expect(parseMap(";0:1:1;;1:2:1,", "GID")).toHaveLength(2);
  });
  test.each([
    ["", "no items"],
    [",", "no items"],
    ["garbage", "expected START:LOWER:COUNT"],
    ["0:1000", "expected START:LOWER:COUNT"],
    ["0:1000:1:5", "expected START:LOWER:COUNT"],
    ["a:1:1", "START is not a number"],
    ["-1:1:1", "START is not a number"],
    ["0: 1:1", "LOWER is not a number"],
    ["0:1:0", "COUNT must be at least 1"],
    ["0:4294967295:1", "LOWER is too large"],
    ["0:4294967294:2", "runs past 4294967294"],
    ["4294967290:0:10", "runs past"],
    ["0:0:99999999999999999999", "COUNT is too large"],
    ["0:0:4294967296", "COUNT is too large"],
    ["1:0:4294967295", "runs past 4294967294"],
    ["4294967295:0:1", "START is too large"],
    ["0:1000:1,0:2000:1", "container UID 0 is listed twice"],
    ["0:1000:10,5:2000:1", "container UID 5 is listed twice"],
    ["0:1000:1,1:1000:1", "host UID 1000 is mapped twice"],
    ["0:1000:10,10:1005:1", "host UID 1005 is mapped twice"],
  ])("rejects %p", (text, message) => {
    expect(() => parseMap(text, "UID")).toThrow(message);
    expect(() => parseMap(text, "UID")).toThrow(MapError);
  });
  test("the highest ID is allowed, one past it is not", () => {
    expect(parseMap("0:4294967294:1", "UID")).toHaveLength(1);
  });
  test("COUNT 2^32 - 1 maps every ID, as the kernel and the original allow", () => {
    expect(parseMap("0:0:4294967295", "UID")).toEqual([{ inside: 0, outside: 0, count: 4294967295 }]);
  });
  test("a MapError is a ContainError, with no errno", () => {
    const error = (() => {
      try {
        parseMap("x", "UID");
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ContainError);
    expect(error).toMatchObject({ status: 125, errno: 0, code: undefined });
  });
  test("at most 340 items", () => {
    const items = (n: number) => Array.from({ length: n }, (_, i) => `${i}:${i + 100}:1`).join(",");
    expect(parseMap(items(340), "UID")).toHaveLength(340);
    expect(() => parseMap(items(341), "UID")).toThrow("at most 340");
  });
  test("formats for the kernel", () => {
    expect(formatMap(parseMap("0:1000:1,1:4000:2000", "UID"))).toBe("0 1000 1\n1 4000 2000\n");
  });
});

describe("defaults", () => {
  const full = parseProcMap("         0          0 4294967295\n", "uid_map");
  test("root on the host: 0 onto the top ID, the rest onto themselves", () => {
    expect(rootDefault(full, "UID")).toEqual([
      { inside: 0, outside: 4294967294, count: 1 },
      { inside: 1, outside: 1, count: 4294967293 },
    ]);
  });
  test("root nested in a namespace whose map is not the full range", () => {
    const own = parseProcMap("0 1000 1\n1 100000 65536\n", "uid_map");
    expect(rootDefault(own, "UID")).toEqual([
      { inside: 0, outside: 65536, count: 1 },
      { inside: 1, outside: 1, count: 65535 },
    ]);
  });
  test("root with only itself mapped has no unprivileged ID", () => {
    expect(() => rootDefault(parseProcMap("0 1000 1", "uid_map"), "GID")).toThrow("No unprivileged GID available");
  });
  test("a user: own ID, then the delegated ranges in order", () => {
    const delegated = [
      { start: 100000, count: 65536 },
      { start: 300000, count: 10 },
    ];
    expect(userDefault(1000, delegated, full)).toEqual([
      { inside: 0, outside: 1000, count: 1 },
      { inside: 1, outside: 100000, count: 65536 },
      { inside: 65537, outside: 300000, count: 10 },
    ]);
  });
  test("a user nested: ranges clipped to the IDs the namespace has", () => {
    const own = parseProcMap("0 1000 1\n1 100000 65536\n", "uid_map");
    // In this namespace the user is 0 and IDs 1-65536 exist; a range past them is cut.
    expect(userDefault(0, [{ start: 60000, count: 10000 }], own)).toEqual([
      { inside: 0, outside: 0, count: 1 },
      { inside: 1, outside: 60000, count: 5537 },
    ]);
  });
  test("overlapping delegated ranges map no host ID twice", () => {
    const items = userDefault(1000, [{ start: 100000, count: 100 }, { start: 100050, count: 100 }, { start: 1000, count: 1 }], full);
    expect(items).toEqual([
      { inside: 0, outside: 1000, count: 1 },
      { inside: 1, outside: 100000, count: 100 },
      { inside: 101, outside: 100100, count: 50 },
    ]);
  });
  test("bad /proc map data", () => {
    expect(() => parseProcMap("", "/proc/self/uid_map")).toThrow("Invalid map data in /proc/self/uid_map");
    expect(() => parseProcMap("0 x 1", "/proc/self/uid_map")).toThrow("Invalid map data");
  });
});

describe("/etc/subuid", () => {
  const text = [
    "# delegated ranges",
    "",
    "alice:100000:65536",
    "bob:165536:65536",
    "   ",
    "alice:300000:1000",
    "1000:400000:5",
    "alice:bad:5",
    "alice:500000:0",
    "alicex:600000:5",
  ].join("\n");
  test("entries by name and by UID, several per user, in order", () => {
    expect(parseSubordinate(text, "alice", 1000)).toEqual([
      { start: 100000, count: 65536 },
      { start: 300000, count: 1000 },
      { start: 400000, count: 5 },
    ]);
  });
  test("other users and none", () => {
    expect(parseSubordinate(text, "bob", 1001)).toEqual([{ start: 165536, count: 65536 }]);
    expect(parseSubordinate(text, "carol", 1002)).toEqual([]);
    expect(parseSubordinate("", "alice", 1000)).toEqual([]);
  });
});

describe("delegation", () => {
  const delegated = [{ start: 100000, count: 65536 }];
  test("own ID and delegated ranges are allowed", () => {
    expect(() => checkDelegated(parseMap("0:1000:1,1:100000:65536", "UID"), 1000, delegated)).not.toThrow();
  });
  test.each(["0:0:1", "0:1000:2", "0:100000:65537", "0:99999:2"])("%p is refused", (text) => {
    expect(() => checkDelegated(parseMap(text, "UID"), 1000, delegated)).toThrow(
      "Cannot map onto IDs that are not delegated to you",
    );
  });
  test("own ID alone can be written without newuidmap", () => {
    expect(isOwnIdOnly(parseMap("0:1000:1", "UID"), 1000)).toBe(true);
    expect(isOwnIdOnly(parseMap("5:1000:1", "UID"), 1000)).toBe(true);
    expect(isOwnIdOnly(parseMap("0:1000:1,1:100000:1", "UID"), 1000)).toBe(false);
  });
});
