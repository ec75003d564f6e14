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
        const dir = if (entry.len == 0) "." else entry;
        if (dir.len + 1 + name.len + 1 > buffer.len) {
            last = @intFromEnum(linux.E.NAMETOOLONG);
            continue;
        }
        @memcpy(buffer[0..dir.len], dir);
        buffer[dir.len] = '/';
        @memcpy(buffer[dir.len + 1 ..][0..name.len], name);
        buffer[dir.len + 1 + name.len] = 0;
        const path: [*:0]const u8 = @ptrCast(&buffer);
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
