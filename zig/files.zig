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

/// The soft (`hard` false) or hard limit on open files of process `pid` (0: this one), as
/// /proc/PID/limits gives it, which anyone may read: inf for unlimited, -1 when it cannot
/// be read. A number, so that the supervisor asks without buffers or pointers.
pub fn nofile_limit(pid: i32, hard: bool) f64 {
    var path_buffer: [32]u8 = undefined;
    const path = if (pid == 0) "/proc/self/limits" else std.fmt.bufPrintZ(&path_buffer, "/proc/{d}/limits", .{pid}) catch unreachable;
    var buffer: [4096]u8 = undefined;
    const count = read(@ptrCast(path.ptr), &buffer);
    if (count <= 0) return -1;
    return parse_nofile(buffer[0..@intCast(count)], hard);
}

fn parse_nofile(text: []const u8, hard: bool) f64 {
    const name = "\nMax open files";
    const at = std.mem.indexOf(u8, text, name) orelse return -1;
    const end = std.mem.indexOfScalarPos(u8, text, at + 1, '\n') orelse text.len;
    var words = std.mem.tokenizeScalar(u8, text[at + name.len .. end], ' ');
    if (hard) _ = words.next();
    const word = words.next() orelse return -1;
    if (std.mem.eql(u8, word, "unlimited")) return std.math.inf(f64);
    const value = std.fmt.parseUnsigned(u64, word, 10) catch return -1;
    return @floatFromInt(value);
}

test "parse_nofile reads both limits of /proc/PID/limits" {
    const text = "Limit  Soft Limit  Hard Limit  Units\nMax open files            1024                 524288               files     \nMax locked memory  8388608  8388608  bytes\n";
    try std.testing.expectEqual(@as(f64, 1024), parse_nofile(text, false));
    try std.testing.expectEqual(@as(f64, 524288), parse_nofile(text, true));
    const unlimited = "x\nMax open files            unlimited            unlimited            files     \n";
    try std.testing.expect(std.math.isInf(parse_nofile(unlimited, true)));
    try std.testing.expectEqual(@as(f64, -1), parse_nofile("nothing", false));
}
