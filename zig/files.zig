//! Small file operations for the supervisor's fast path. Bun's node:fs costs several
//! milliseconds to load, more than everything else pseudo does; these cost nothing.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");

/// Reads up to `buffer.len` bytes of the file at `path`. Returns the count or -errno.
pub fn read(path: [*:0]const u8, buffer: []u8) i32 {
    const rc = linux.openat(linux.AT.FDCWD, path, linux.O.RDONLY | linux.O.CLOEXEC, 0);
    if (sys.errno(rc) != 0) return -@as(i32, @intCast(sys.errno(rc)));
    const fd = sys.value(rc);
    defer sys.close(fd);
    return sys.read_full(fd, buffer);
}

/// Writes `data` to the existing file at `path` in one write, as /proc's map files need.
pub fn write(path: [*:0]const u8, data: []const u8) u32 {
    const rc = linux.openat(linux.AT.FDCWD, path, linux.O.WRONLY | linux.O.CLOEXEC, 0);
    if (sys.errno(rc) != 0) return sys.errno(rc);
    const fd = sys.value(rc);
    defer sys.close(fd);
    return sys.write_all(fd, data);
}

/// The mode, owner and group of `path` (following links) into `out`.
pub fn stat(path: [*:0]const u8, out: *[3]u32) u32 {
    var st: linux.Stat = undefined;
    const e = sys.errno(linux.fstatat(linux.AT.FDCWD, path, &st, 0));
    if (e != 0) return e;
    out.* = .{ st.mode, st.uid, st.gid };
    return 0;
}

pub fn open(path: [*:0]const u8, writable: bool) i32 {
    const mode: u32 = if (writable) linux.O.WRONLY else linux.O.RDONLY;
    const rc = linux.openat(linux.AT.FDCWD, path, mode | linux.O.CLOEXEC, 0);
    if (sys.errno(rc) != 0) return -@as(i32, @intCast(sys.errno(rc)));
    return sys.value(rc);
}

pub fn chown_fd(fd: i32, uid: u32, gid: u32) u32 {
    return sys.errno(linux.fchown(fd, uid, gid));
}
