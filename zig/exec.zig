//! execvp without libc: the PATH search happens in the child, after it has entered the
//! container's mount namespace, so the command is looked up in the container's files.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");

pub const Argv = [*:null]const ?[*:0]const u8;

const default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Executes `argv[0]`, searching PATH (taken from `envp`) when it has no slash.
/// Returns only on failure, with the errno that best describes it, as execvp does:
/// EACCES if some candidate was not executable, else the last error seen.
pub fn exec(argv: Argv, envp: Argv) u32 {
    const file = argv[0] orelse return @intFromEnum(linux.E.NOENT);
    const name = std.mem.span(file);
    if (name.len == 0) return @intFromEnum(linux.E.NOENT);
    if (std.mem.indexOfScalar(u8, name, '/') != null) {
        return sys.errno(linux.execve(file, argv, envp));
    }

    var buffer: [4096]u8 = undefined;
    var seen_eacces = false;
    var last: u32 = @intFromEnum(linux.E.NOENT);
    var entries = std.mem.splitScalar(u8, search_path(envp), ':');
    while (entries.next()) |entry| {
        const path = candidate(&buffer, entry, name) orelse {
            last = @intFromEnum(linux.E.NAMETOOLONG);
            continue;
        };
        const e = sys.errno(linux.execve(path, argv, envp));
        switch (@as(linux.E, @enumFromInt(e))) {
            .NOENT, .NOTDIR, .NAMETOOLONG, .LOOP, .NODEV, .TIMEDOUT, .STALE => last = e,
            // EACCES from a directory the user cannot search is not-found for that entry;
            // only a file that exists but cannot be executed makes the search fail so.
            .ACCES => if (exists(path)) {
                seen_eacces = true;
            },
            else => return e,
        }
    }
    return if (seen_eacces) @intFromEnum(linux.E.ACCES) else last;
}

/// `entry/name` in `buffer`, NUL-terminated (an empty PATH entry is the current
/// directory), or null when it does not fit.
fn candidate(buffer: []u8, entry: []const u8, name: []const u8) ?[*:0]const u8 {
    const dir = if (entry.len == 0) "." else entry;
    if (dir.len + 1 + name.len + 1 > buffer.len) return null;
    @memcpy(buffer[0..dir.len], dir);
    buffer[dir.len] = '/';
    @memcpy(buffer[dir.len + 1 ..][0..name.len], name);
    buffer[dir.len + 1 + name.len] = 0;
    return @ptrCast(buffer.ptr);
}

fn search_path(envp: Argv) []const u8 {
    var index: usize = 0;
    while (envp[index]) |entry| : (index += 1) {
        const text = std.mem.span(entry);
        if (std.mem.startsWith(u8, text, "PATH=")) return text[5..];
    }
    return default_path;
}

/// Exit status for a failed exec, as shells report it.
pub fn exec_status(e: u32) u8 {
    return if (e == @intFromEnum(linux.E.NOENT)) 127 else 126;
}

fn exists(path: [*:0]const u8) bool {
    var stat: linux.Stat = undefined;
    return sys.errno(linux.fstatat(linux.AT.FDCWD, path, &stat, 0)) == 0;
}

const testing = std.testing;

test "search_path takes PATH from the environment, else the default" {
    const with = [_:null]?[*:0]const u8{ "HOME=/root", "PATH=/opt/bin:/bin" };
    try testing.expectEqualStrings("/opt/bin:/bin", search_path(&with));
    const without = [_:null]?[*:0]const u8{"PATHS=/nowhere"};
    try testing.expectEqualStrings(default_path, search_path(&without));
    const empty = [_:null]?[*:0]const u8{"PATH="};
    try testing.expectEqualStrings("", search_path(&empty));
}

test "candidate joins directory and name; an empty entry is the current directory" {
    var buffer: [16]u8 = undefined;
    try testing.expectEqualStrings("/bin/sh", std.mem.span(candidate(&buffer, "/bin", "sh").?));
    try testing.expectEqualStrings("./sh", std.mem.span(candidate(&buffer, "", "sh").?));
    // 15 bytes and the NUL fill the buffer exactly; one more does not fit.
    try testing.expect(candidate(&buffer, "/usr/local/b", "sh") != null);
    try testing.expect(candidate(&buffer, "/usr/local/bi", "sh") == null);
}

test "exec_status: 127 for not found, 126 for anything else" {
    try testing.expectEqual(@as(u8, 127), exec_status(@intFromEnum(linux.E.NOENT)));
    try testing.expectEqual(@as(u8, 126), exec_status(@intFromEnum(linux.E.ACCES)));
    try testing.expectEqual(@as(u8, 126), exec_status(@intFromEnum(linux.E.NOEXEC)));
}

test "exec reports what execvp would, without executing anything" {
    var dir = testing.tmpDir(.{});
    defer dir.cleanup();
    // A file that exists but may not be executed, in the second PATH entry.
    const file = try dir.dir.createFile("plain", .{ .mode = 0o644 });
    file.close();
    var where: [std.fs.MAX_PATH_BYTES]u8 = undefined;
    const real = try dir.dir.realpath(".", &where);
    var text: [std.fs.MAX_PATH_BYTES + 32]u8 = undefined;
    const path = try std.fmt.bufPrintZ(&text, "PATH=/nonexistent:{s}", .{real});
    const envp = [_:null]?[*:0]const u8{path.ptr};

    const missing = [_:null]?[*:0]const u8{"contain-no-such-command"};
    try testing.expectEqual(@as(u32, @intFromEnum(linux.E.NOENT)), exec(&missing, &envp));
    // Root may search any directory but not execute a file without an x bit either.
    const plain = [_:null]?[*:0]const u8{"plain"};
    try testing.expectEqual(@as(u32, @intFromEnum(linux.E.ACCES)), exec(&plain, &envp));
    const empty = [_:null]?[*:0]const u8{""};
    try testing.expectEqual(@as(u32, @intFromEnum(linux.E.NOENT)), exec(&empty, &envp));
    const slash = [_:null]?[*:0]const u8{"/nonexistent/plain"};
    try testing.expectEqual(@as(u32, @intFromEnum(linux.E.NOENT)), exec(&slash, &envp));
}
