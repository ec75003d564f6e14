//! What a path names, judged as an object: contain opens DIR and each bind source once,
//! and from then on asks the fd, never the path. Who can reach an object is a question
//! about its real ancestors (found by walking `..` from the fd, which no symbolic link or
//! textual `..` can fake) and about their modes, owners and POSIX ACLs.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");

const cwd = linux.AT.FDCWD;
const AT_EMPTY_PATH = 0x1000;

/// An O_PATH fd of what `name` names, following symbolic links on purpose: what is judged
/// and mounted is where they lead. Returns the fd or -errno.
pub fn open(name: [*:0]const u8) i32 {
    const rc = linux.openat(cwd, name, linux.O.PATH | linux.O.CLOEXEC, 0);
    if (sys.errno(rc) != 0) return -@as(i32, @intCast(sys.errno(rc)));
    return sys.value(rc);
}

/// The mode, owner, group and link count of the object at `fd` into `out`: 0 or an errno.
pub fn stat(fd: sys.fd_t, out: *[4]u32) u32 {
    var st: linux.Stat = undefined;
    const e = sys.errno(linux.fstatat(fd, "", &st, AT_EMPTY_PATH));
    if (e != 0) return e;
    out.* = .{ st.mode, st.uid, st.gid, @intCast(@min(st.nlink, std.math.maxInt(u32))) };
    return 0;
}

/// The path the kernel gives for `fd` (its real path, links resolved), or -errno.
pub fn real_path(fd: sys.fd_t, buffer: []u8) i32 {
    var link: [32]u8 = undefined;
    const link_path = std.fmt.bufPrintZ(&link, "/proc/self/fd/{d}", .{fd}) catch unreachable;
    const rc = linux.readlinkat(cwd, link_path, buffer.ptr, buffer.len);
    if (sys.errno(rc) != 0) return -@as(i32, @intCast(sys.errno(rc)));
    return @intCast(rc);
}

/// Whether a host user other than root and `container_root` can reach the object at `fd`:
/// 0 when one of its real ancestors (itself first, for a directory) is closed to them, 1
/// when none is, or -errno. A file is judged from its directory (found by its real path,
/// and checked to hold it), and a file with other hard links is reachable, as it may be
/// through them.
pub fn reachable(fd: sys.fd_t, container_root: u32) i32 {
    var st: linux.Stat = undefined;
    var e = sys.errno(linux.fstatat(fd, "", &st, AT_EMPTY_PATH));
    if (e != 0) return -@as(i32, @intCast(e));
    var at: sys.fd_t = undefined;
    if (st.mode & linux.S.IFMT == linux.S.IFDIR) {
        const rc = linux.openat(fd, ".", linux.O.PATH | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
        if (sys.errno(rc) != 0) return -@as(i32, @intCast(sys.errno(rc)));
        at = sys.value(rc);
    } else {
        if (st.nlink != 1) return 1;
        at = directory_of(fd, st);
        if (at < 0) return at;
    }
    defer sys.close(at);
    while (true) {
        e = sys.errno(linux.fstatat(at, "", &st, AT_EMPTY_PATH));
        if (e != 0) return -@as(i32, @intCast(e));
        var acl: [1024]u8 = undefined;
        // An ACL that cannot be read, or too long for the buffer: assume it lets others in.
        const acl_len = read_acl(at, &acl) catch return 1;
        if (closes(.{ .mode = st.mode, .uid = st.uid, .gid = st.gid }, if (acl_len) |n| acl[0..n] else null, container_root)) return 0;
        const rc = linux.openat(at, "..", linux.O.PATH | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
        if (sys.errno(rc) != 0) return -@as(i32, @intCast(sys.errno(rc)));
        const up = sys.value(rc);
        var up_st: linux.Stat = undefined;
        e = sys.errno(linux.fstatat(up, "", &up_st, AT_EMPTY_PATH));
        if (e != 0 or (up_st.dev == st.dev and up_st.ino == st.ino)) {
            // `..` of the root is the root: no ancestor is left to close it.
            sys.close(up);
            return if (e != 0) -@as(i32, @intCast(e)) else 1;
        }
        sys.close(at);
        at = up;
    }
}

/// The directory that holds the file at `fd`: opened by the file's real path without
/// following links, and taken only if the file's name in it is still that file.
fn directory_of(fd: sys.fd_t, file: linux.Stat) sys.fd_t {
    const noent = -@as(i32, @intFromEnum(linux.E.NOENT));
    var buffer: [4097]u8 = undefined;
    const length = real_path(fd, buffer[0 .. buffer.len - 1]);
    if (length <= 0 or length >= buffer.len - 1 or buffer[0] != '/') return noent;
    const full = buffer[0..@intCast(length)];
    const slash = std.mem.lastIndexOfScalar(u8, full, '/').?;
    var name: [256]u8 = undefined;
    const base = full[slash + 1 ..];
    if (base.len == 0 or base.len >= name.len) return noent;
    @memcpy(name[0..base.len], base);
    name[base.len] = 0;
    if (slash == 0) buffer[1] = 0 else buffer[slash] = 0;
    const how = OpenHow{ .flags = linux.O.PATH | linux.O.DIRECTORY | linux.O.CLOEXEC, .mode = 0, .resolve = RESOLVE_NO_SYMLINKS };
    const rc = linux.syscall4(.openat2, @bitCast(@as(isize, cwd)), @intFromPtr(&buffer), @intFromPtr(&how), @sizeOf(OpenHow));
    if (sys.errno(rc) != 0) return noent;
    const dir = sys.value(rc);
    var st: linux.Stat = undefined;
    const e = sys.errno(linux.fstatat(dir, @ptrCast(&name), &st, linux.AT.SYMLINK_NOFOLLOW));
    if (e != 0 or st.dev != file.dev or st.ino != file.ino) {
        sys.close(dir);
        return -@as(i32, @intFromEnum(linux.E.STALE));
    }
    return dir;
}

const RESOLVE_NO_SYMLINKS = 0x04;
const OpenHow = extern struct { flags: u64, mode: u64, resolve: u64 };

/// The access ACL of the directory at `fd` into `buffer`: its length, or null for none.
fn read_acl(fd: sys.fd_t, buffer: []u8) error{Unreadable}!?usize {
    var link: [32]u8 = undefined;
    const link_path = std.fmt.bufPrintZ(&link, "/proc/self/fd/{d}", .{fd}) catch unreachable;
    const rc = linux.getxattr(link_path, "system.posix_acl_access", buffer.ptr, buffer.len);
    return switch (sys.errno(rc)) {
        0 => rc,
        @intFromEnum(linux.E.NODATA), @intFromEnum(linux.E.OPNOTSUPP) => null,
        else => error.Unreadable,
    };
}

pub const Owner = struct { mode: u32, uid: u32, gid: u32 };

const acl_user = 0x02;
const acl_group = 0x08;
const acl_mask = 0x10;
const acl_execute = 0x01;

/// Whether a directory with `owner` and access ACL `acl` (the xattr's bytes, or null)
/// keeps out every host user but root and container root: it is theirs (so no one else
/// may change its mode or ACL), others may not search it, nor may its group unless that
/// is root's, and no named ACL entry lets another user or group search it. With an ACL
/// the mode's group bits are the mask, which caps the named entries too.
pub fn closes(owner: Owner, acl: ?[]const u8, container_root: u32) bool {
    if (owner.uid != 0 and owner.uid != container_root) return false;
    if (owner.mode & 0o001 != 0) return false;
    if (owner.mode & 0o010 != 0 and owner.gid != 0) return false;
    const bytes = acl orelse return true;
    // The header (version 2), then entries of tag (u16), perm (u16) and id (u32).
    if (bytes.len < 4 or (bytes.len - 4) % 8 != 0) return false;
    var mask: u16 = 0o7;
    var at: usize = 4;
    while (at < bytes.len) : (at += 8) {
        if (std.mem.readIntLittle(u16, bytes[at..][0..2]) == acl_mask) mask = std.mem.readIntLittle(u16, bytes[at + 2 ..][0..2]);
    }
    at = 4;
    while (at < bytes.len) : (at += 8) {
        const tag = std.mem.readIntLittle(u16, bytes[at..][0..2]);
        const perm = std.mem.readIntLittle(u16, bytes[at + 2 ..][0..2]);
        const id = std.mem.readIntLittle(u32, bytes[at + 4 ..][0..4]);
        if (tag != acl_user and tag != acl_group) continue;
        if (perm & mask & acl_execute == 0) continue;
        if (id == 0 or id == container_root) continue;
        return false;
    }
    return true;
}

fn acl_bytes(comptime entries: []const [3]u32) [4 + 8 * entries.len]u8 {
    var out: [4 + 8 * entries.len]u8 = undefined;
    std.mem.writeIntLittle(u32, out[0..4], 2);
    for (entries, 0..) |entry, index| {
        const at = 4 + 8 * index;
        std.mem.writeIntLittle(u16, out[at..][0..2], @as(u16, @intCast(entry[0])));
        std.mem.writeIntLittle(u16, out[at + 2 ..][0..2], @as(u16, @intCast(entry[1])));
        std.mem.writeIntLittle(u32, out[at + 4 ..][0..4], entry[2]);
    }
    return out;
}

test "a directory closes by its owner, mode and ACL" {
    const cr: u32 = 4294967294;
    try std.testing.expect(closes(.{ .mode = 0o40700, .uid = 0, .gid = 0 }, null, cr));
    try std.testing.expect(closes(.{ .mode = 0o40750, .uid = cr, .gid = 0 }, null, cr));
    try std.testing.expect(!closes(.{ .mode = 0o40750, .uid = 0, .gid = 42 }, null, cr));
    try std.testing.expect(!closes(.{ .mode = 0o40701, .uid = 0, .gid = 0 }, null, cr));
    try std.testing.expect(!closes(.{ .mode = 0o40700, .uid = 1000, .gid = 0 }, null, cr));
    // A named user who may search it, under a mask that lets them: open.
    const user = acl_bytes(&.{ .{ 1, 7, 0 }, .{ acl_user, 5, 1000 }, .{ 4, 5, 0 }, .{ acl_mask, 5, 0 }, .{ 0x20, 0, 0 } });
    try std.testing.expect(!closes(.{ .mode = 0o40750, .uid = 0, .gid = 0 }, &user, cr));
    // The same entry under a mask without execute: closed.
    const masked = acl_bytes(&.{ .{ 1, 7, 0 }, .{ acl_user, 5, 1000 }, .{ 4, 4, 0 }, .{ acl_mask, 4, 0 }, .{ 0x20, 0, 0 } });
    try std.testing.expect(closes(.{ .mode = 0o40740, .uid = 0, .gid = 0 }, &masked, cr));
    // A named group, and container root's own entry (which is no one else's).
    const group = acl_bytes(&.{ .{ 1, 7, 0 }, .{ acl_group, 1, 42 }, .{ acl_mask, 1, 0 } });
    try std.testing.expect(!closes(.{ .mode = 0o40710, .uid = 0, .gid = 0 }, &group, cr));
    const own = acl_bytes(&.{ .{ 1, 7, 0 }, .{ acl_user, 7, cr }, .{ acl_mask, 7, 0 } });
    try std.testing.expect(closes(.{ .mode = 0o40770, .uid = 0, .gid = 0 }, &own, cr));
    try std.testing.expect(!closes(.{ .mode = 0o40700, .uid = 0, .gid = 0 }, "bad", cr));
}
