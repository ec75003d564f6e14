//! The C ABI that src/native.ts loads through bun:ffi. Every export takes integers and
//! pointers to caller-owned buffers and returns an integer: 0 or an errno, or an fd/pid
//! that is negative errno on failure. Nothing here allocates.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const spawn = @import("spawn.zig");
const abi = @import("abi.zig");
const console = @import("console.zig");
const clone = @import("clone.zig");
const files = @import("files.zig");
const forward = @import("forward.zig");
const go = @import("go.zig");
const idmap = @import("idmap.zig");
const cgroup = @import("cgroup.zig");
const watch = @import("watch.zig");
const map = @import("map.zig");
const objects = @import("objects.zig");

/// Bumped on every change to a signature, struct layout or step number.
export fn abi_version() u32 {
    return 20;
}

/// Copies abi.layout, the JSON object of numbers that gives TypeScript the struct layouts,
/// modes, flags and step codes, into `buffer`. Returns its length; a short buffer gets none
/// of it.
export fn abi_layout(buffer: [*]u8, len: u32) u32 {
    return copy_text(abi.layout, buffer, len);
}

/// The words of `step` for "Failed to ..." into `buffer`: returns their length, or 0 for a
/// number that is no step.
export fn step_text(step: u32, buffer: [*]u8, len: u32) u32 {
    const known = std.meta.intToEnum(abi.Step, step) catch return 0;
    return copy_text(abi.text(known), buffer, len);
}

fn copy_text(text: []const u8, buffer: [*]u8, len: u32) u32 {
    if (text.len > len) return @intCast(text.len);
    @memcpy(buffer[0..text.len], text);
    return @intCast(text.len);
}

/// Describes, as text in `buffer`, every field of `config` as this side reads it, so that
/// a test can compare it with what TypeScript meant to write. Returns the length, or 0 if
/// it does not fit.
export fn config_echo(config: *const abi.Config, buffer: [*]u8, len: u32) u32 {
    var stream = std.io.fixedBufferStream(buffer[0..len]);
    abi.echo(config, stream.writer()) catch return 0;
    return @intCast(stream.pos);
}

export fn termios_size() u32 {
    return console.termios_size;
}

/// Forks the first child of pseudo, contain or inject (see spawn.zig). Fills `result`.
/// Returns 0, or the failed step in the high 16 bits and its errno in the low 16.
export fn spawn_child(config: *const abi.Config, result: *abi.Result) u32 {
    std.debug.assert(config.mode >= 1 and config.mode <= 3);
    return spawn.spawn(config, result);
}

/// Starts newgidmap and newuidmap (the entries of `helpers` that have arguments) at once,
/// with `environment` (NUL-terminated strings one after another), and returns when both
/// are running (see map.zig). Fills their pidfds, stderr pipes and failures. Returns 0, or
/// the failed step and errno as spawn_child does, with nothing left running or open.
export fn start_map_helpers(helpers: *[2]abi.MapHelper, environment: [*]const u8, environment_len: u32) u32 {
    return map.start(helpers, environment[0..environment_len]);
}

/// Reads `fd` until `buffer` is full or EOF: returns the count, or -errno. Blocks.
export fn read_fd(fd: i32, buffer: [*]u8, len: u32) i32 {
    return sys.read_full(fd, buffer[0..len]);
}

/// Waits for the child behind `pidfd` without blocking (`block` = 0) or until it exits.
/// Returns its status in shell terms (0-255), plus 0x100 if a signal killed it, or -1
/// while it runs, or -errno.
export fn wait_child(pidfd: i32, block: u32) i32 {
    var info: linux.siginfo_t = undefined;
    info.fields.common.first.piduid.pid = 0;
    const nohang: u32 = if (block == 0) linux.W.NOHANG else 0;
    const flags: u32 = linux.W.EXITED | nohang;
    while (true) {
        const rc = linux.waitid(.PIDFD, pidfd, &info, flags);
        const e = sys.errno(rc);
        if (e == @intFromEnum(linux.E.INTR)) continue;
        if (e != 0) return -@as(i32, @intCast(e));
        if (info.fields.common.first.piduid.pid == 0) return -1;
        return sys.wait_code(&info);
    }
}

/// Frees the children's stacks of a spawn_child result once its first child is reaped.
export fn release_region(region: i32) void {
    if (region >= 0) clone.region_free(@intCast(region));
}

/// A pidfd for `pid` (close-on-exec), or -errno.
export fn open_pidfd(pid: i32) i32 {
    const rc = linux.syscall2(.pidfd_open, @intCast(pid), 0);
    if (sys.errno(rc) != 0) return -@as(i32, @intCast(sys.errno(rc)));
    return sys.value(rc);
}

export fn send_signal(pidfd: i32, signal: i32) u32 {
    return sys.errno(linux.syscall4(.pidfd_send_signal, @intCast(pidfd), @intCast(signal), 0, 0));
}

/// Dies of `signal`, as the command it supervised did (core dumps off).
export fn die_of(signal: u32) void {
    sys.die_of(signal);
}

/// Catches INT, TERM, HUP, QUIT, USR1 and USR2 in this process and passes them on to the
/// next child spawn_child starts (held until then); with `terminal_reaches_child` set,
/// the terminal's own signals are not passed on.
export fn forward_start(terminal_reaches_child: u32) u32 {
    return forward.start(terminal_reaches_child != 0);
}

/// A detached copy of the mount tree at the O_PATH fd `source`, ID-mapped for the holder
/// `pid` unless `pid` is 0 (idmap.zig): fd or -errno.
export fn source_tree(source: i32, pid: i32) i32 {
    return idmap.source_tree(source, pid);
}

/// The go message for a holder, with `count` fds of `fds` attached and their `tags`.
export fn send_go(fd: i32, fds: [*]const i32, tags: [*]const u32, count: u32) u32 {
    if (count > abi.max_binds) return @intFromEnum(linux.E.INVAL);
    return go.send(fd, fds[0..count], tags[0..count]);
}

/// An O_PATH fd of what `path` names, symbolic links followed (objects.zig): fd or -errno.
export fn object_open(path: [*:0]const u8) i32 {
    return objects.open(path);
}

/// The mode, owner, group and link count of the object at `fd` into `out`: 0 or an errno.
export fn object_stat(fd: i32, out: *[4]u32) u32 {
    return objects.stat(fd, out);
}

/// Whether users other than host root and `container_root` can reach the object at `fd`
/// (objects.zig): 1, 0, or -errno.
export fn object_reachable(fd: i32, container_root: u32) i32 {
    return objects.reachable(fd, container_root);
}

/// The path the kernel gives for the object at `fd` into `buffer`: its length, or -errno.
export fn object_path(fd: i32, buffer: [*]u8, len: u32) i32 {
    return objects.real_path(fd, buffer[0..len]);
}

export fn close_fd(fd: i32) u32 {
    return sys.errno(linux.close(fd));
}

/// A pipe for the library's "pipe" stdio: both ends close-on-exec.
export fn make_pipe(fds: *[2]i32) u32 {
    return sys.errno(linux.pipe2(fds, linux.O.CLOEXEC));
}

export fn console_open(path: [*]u8, path_len: u32, fds: *[2]i32) u32 {
    return console.open(path[0..path_len], fds);
}

export fn terminal_raw(fd: i32, saved: *linux.termios) u32 {
    return console.make_raw(fd, saved);
}

export fn terminal_restore(fd: i32, saved: *const linux.termios) u32 {
    return console.restore(fd, saved);
}

/// 1 when `fd` is a terminal (TCGETS works on it), else 0: isatty, without node:tty's
/// 9 MB.
export fn terminal_is(fd: i32) u32 {
    var mode: linux.termios = undefined;
    return @intFromBool(sys.errno(linux.ioctl(fd, linux.T.CGETS, @intFromPtr(&mode))) == 0);
}

export fn terminal_no_echo(fd: i32) u32 {
    return console.no_echo(fd);
}

/// From now on, every SIGWINCH copies `from`'s window size to `to` (the console).
export fn terminal_follow_size(from: i32, to: i32) u32 {
    return console.follow_size(from, to);
}

export fn terminal_copy_size(from: i32, to: i32) u32 {
    return console.copy_size(from, to);
}

/// Watches the child behind `pidfd` on a thread of the shim's own (watch.zig), relaying the
/// console meanwhile when `master` >= 0. Returns a pipe that gives the relay's result
/// (a u32 errno) and then EOF once the child may be reaped, or -errno.
export fn watch_child(pidfd: i32, master: i32, input: i32, output: i32) i32 {
    return watch.start(pidfd, master, input, output);
}

export fn nofile_limit(pid: i32, hard: u32) f64 {
    return files.nofile_limit(pid, hard != 0);
}

/// Makes the container's cgroup `name` in `parent`, given to uid:gid (maxInt: left as
/// made). Returns 0 or an errno.
export fn cgroup_make(parent: [*:0]const u8, name: [*:0]const u8, uid: u32, gid: u32) u32 {
    return cgroup.make(parent, name, uid, gid);
}

/// Removes the (empty, childless) cgroup at `path`. Returns 0 or an errno.
export fn cgroup_remove(path: [*:0]const u8) u32 {
    return sys.errno(linux.unlinkat(linux.AT.FDCWD, path, linux.AT.REMOVEDIR));
}

/// Starts the cleaner of cgroup `name` in `parent` (cgroup.zig), which removes it once
/// `lifeline`'s write ends are closed. `out` gets its pidfd and the region of its stack
/// (reap it with wait_child, then release_region). Returns 0 or an errno.
export fn cgroup_cleaner(parent: [*:0]const u8, name: [*]const u8, name_len: u32, lifeline: i32, out: *[2]i32) u32 {
    if (name_len >= cgroup.name_max) return @intFromEnum(linux.E.NAMETOOLONG);
    const region = clone.region_alloc() orelse return @intFromEnum(linux.E.AGAIN);
    var pidfd: i32 = -1;
    const rc = cgroup.start_cleaner(parent, name[0..name_len], lifeline, region, &pidfd);
    if (sys.errno(rc) != 0) {
        clone.region_free(region);
        return sys.errno(rc);
    }
    out.* = .{ pidfd, @intCast(region) };
    return 0;
}

export fn file_read(path: [*:0]const u8, buffer: [*]u8, len: u32) i32 {
    return files.read(path, buffer[0..len]);
}

export fn file_write(path: [*:0]const u8, data: [*]const u8, len: u32) u32 {
    return files.write(path, data[0..len]);
}

/// Writes all of `data` to `fd` (retrying short writes and EINTR): 0 or an errno.
export fn fd_write(fd: i32, data: [*]const u8, len: u32) u32 {
    return sys.write_all(fd, data[0..len]);
}

export fn file_stat(path: [*:0]const u8, out: *[3]u32) u32 {
    return files.stat(path, out);
}

export fn file_open(path: [*:0]const u8, writable: u32) i32 {
    return files.open(path, writable != 0);
}

export fn fd_chown(fd: i32, uid: u32, gid: u32) u32 {
    return files.chown_fd(fd, uid, gid);
}

test {
    _ = spawn;
    _ = abi;
    _ = @import("report.zig");
    _ = @import("start.zig");
    _ = @import("supervise.zig");
    _ = @import("holder.zig");
    _ = @import("joiner.zig");
    _ = console;
    _ = sys;
    _ = @import("exec.zig");
    _ = @import("mounts.zig");
    _ = clone;
    _ = files;
    _ = cgroup;
    _ = @import("session.zig");
    _ = map;
    _ = objects;
}
