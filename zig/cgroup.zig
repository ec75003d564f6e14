//! The container's cgroup (cgroup2): made under the supervisor's own cgroup and handed to
//! container root (make), entered by the holder before it unshares CLONE_NEWCGROUP so that
//! the container's cgroup namespace is rooted there (holder.zig), and removed by a cleaner
//! that outlives the supervisor (start_cleaner): when the supervisor dies of SIGKILL,
//! nobody else is left on the host with the right to remove it.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const clone = @import("clone.zig");

/// The files systemd's delegation hands over with the directory (systemd.resource-control(5)).
const delegated = [_][*:0]const u8{ "cgroup.procs", "cgroup.subtree_control", "cgroup.threads" };

/// Makes cgroup `name` in the directory `parent` and, unless `uid` is maxInt, gives it and
/// its delegated files to uid:gid. Returns 0 or an errno; a cgroup it made is removed again
/// on failure.
pub fn make(parent: [*:0]const u8, name: [*:0]const u8, uid: u32, gid: u32) u32 {
    const rc = linux.openat(linux.AT.FDCWD, parent, linux.O.RDONLY | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
    if (sys.errno(rc) != 0) return sys.errno(rc);
    const parent_fd = sys.value(rc);
    defer sys.close(parent_fd);
    var e = sys.errno(linux.mkdirat(parent_fd, name, 0o755));
    if (e != 0 or uid == std.math.maxInt(u32)) return e;
    e = chown(parent_fd, name, uid, gid);
    if (e == 0) {
        const dir_rc = linux.openat(parent_fd, name, linux.O.RDONLY | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
        e = sys.errno(dir_rc);
        if (e == 0) {
            const dir = sys.value(dir_rc);
            for (delegated) |file| {
                if (e == 0) e = chown(dir, file, uid, gid);
            }
            sys.close(dir);
        }
    }
    if (e != 0) _ = linux.unlinkat(parent_fd, name, linux.AT.REMOVEDIR);
    return e;
}

fn chown(dir: sys.fd_t, name: [*:0]const u8, uid: u32, gid: u32) u32 {
    const dir_arg: usize = @bitCast(@as(isize, dir));
    return sys.errno(linux.syscall5(.fchownat, dir_arg, @intFromPtr(name), uid, gid, linux.AT.SYMLINK_NOFOLLOW));
}

pub const name_max = 128;

const Cleaner = struct {
    parent: sys.fd_t,
    lifeline: sys.fd_t,
    name: [name_max]u8,
};

/// Starts the cleaner of cgroup `name` in `parent`: a child sharing this memory, in a
/// session of its own with every signal blocked, that waits until the read end of
/// `lifeline` reaches EOF (its writers, the supervisor, are gone or done), kills what is
/// left in the cgroup, waits until it is empty and removes it with what container root
/// made inside. It is not killed with the supervisor, so it is the one that cleans up
/// after a SIGKILL. Returns the clone result; `pidfd` gets its pidfd.
pub fn start_cleaner(parent: [*:0]const u8, name: []const u8, lifeline: sys.fd_t, region: u32, pidfd: *i32) usize {
    std.debug.assert(name.len < name_max);
    const rc = linux.openat(linux.AT.FDCWD, parent, linux.O.RDONLY | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
    if (sys.errno(rc) != 0) return rc;
    var args = Cleaner{ .parent = sys.value(rc), .lifeline = lifeline, .name = [_]u8{0} ** name_max };
    @memcpy(args.name[0..name.len], name);
    var old_mask: u64 = 0;
    sys.sigmask(sys.sigset_all, &old_mask);
    const child = clone.start(Cleaner, run_cleaner, clone.stack(region, 0), linux.CLONE.PIDFD, pidfd, args);
    sys.sigmask(old_mask, null);
    sys.close(args.parent);
    return child;
}

fn run_cleaner(args: *const Cleaner) noreturn {
    // Its own session: a signal to the supervisor's process group does not reach it.
    _ = linux.syscall0(.setsid);
    var keep = [2]i32{ args.parent, args.lifeline };
    std.sort.insertion(i32, &keep, {}, std.sort.asc(i32));
    // Nothing of the supervisor's stays open here: a pipe's reader would wait for us.
    _ = sys.close_others(&keep);
    for ([_]i32{ 0, 1, 2 }) |fd| sys.close(fd);
    while (sys.read_byte(args.lifeline)) {}
    const name: [*:0]const u8 = @ptrCast(&args.name);
    // After a clean end the cgroup is empty, and usually has no children: one call.
    const e = sys.errno(linux.unlinkat(args.parent, name, linux.AT.REMOVEDIR));
    if (e == 0 or e == @intFromEnum(linux.E.NOENT)) sys.exit(0);
    const rc = linux.openat(args.parent, name, linux.O.RDONLY | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
    if (sys.errno(rc) != 0) sys.exit(0);
    const dir = sys.value(rc);
    // The holder takes the container down itself when the supervisor dies, the -o
    // helper's children outside this cgroup included (through its keeper): killing it
    // first would leave those. So cgroup.kill (Linux 5.14) only after a grace period, for
    // what did not end by then.
    if (!wait_empty(dir, 50)) {
        write_file(dir, "cgroup.kill", "1");
        _ = wait_empty(dir, 100);
    }
    sys.close(dir);
    sys.exit(@truncate(remove(args.parent, name)));
}

fn write_file(dir: sys.fd_t, file: [*:0]const u8, data: []const u8) void {
    const rc = linux.openat(dir, file, linux.O.WRONLY | linux.O.CLOEXEC, 0);
    if (sys.errno(rc) != 0) return;
    _ = sys.write_all(sys.value(rc), data);
    sys.close(sys.value(rc));
}

/// Waits (at most `rounds` times 100 ms) until cgroup.events says nothing is left in the
/// cgroup or below it: the kernel wakes a poll for POLLPRI when that changes. Returns
/// whether it is empty (true too where it cannot tell).
fn wait_empty(dir: sys.fd_t, rounds: u32) bool {
    const rc = linux.openat(dir, "cgroup.events", linux.O.RDONLY | linux.O.CLOEXEC, 0);
    if (sys.errno(rc) != 0) return true;
    const events = sys.value(rc);
    defer sys.close(events);
    var round: u32 = 0;
    while (round < rounds) : (round += 1) {
        var buffer: [256]u8 = undefined;
        const n = linux.pread(events, &buffer, buffer.len, 0);
        if (sys.errno(n) != 0) return true;
        if (std.mem.indexOf(u8, buffer[0..n], "populated 0") != null) return true;
        var poll_fd = [1]linux.pollfd{.{ .fd = events, .events = linux.POLL.PRI, .revents = 0 }};
        _ = linux.poll(&poll_fd, 1, 100);
    }
    return false;
}

/// Removes cgroup `name` in `parent` and every cgroup below it, deepest first (a cgroup
/// with children cannot be removed). Iterative, with no limit on depth: container root may
/// nest cgroups as deep as it likes, and a recursion would run out of stack, or a bounded
/// one leave them. It walks down into a child that will not go and back up by "..";
/// `budget` bounds the system calls should something never empty. Returns 0 or the errno
/// of the last failure.
fn remove(parent: sys.fd_t, name: [*:0]const u8) u32 {
    var e = sys.errno(linux.unlinkat(parent, name, linux.AT.REMOVEDIR));
    if (e != @intFromEnum(linux.E.BUSY)) return if (e == @intFromEnum(linux.E.NOENT)) 0 else e;
    var rc = linux.openat(parent, name, linux.O.RDONLY | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
    if (sys.errno(rc) != 0) return sys.errno(rc);
    var dir = sys.value(rc);
    var depth: u32 = 0;
    var budget: u32 = 100_000;
    while (budget > 0) : (budget -= 1) {
        // The first child that will not go now: go down into it.
        const busy = first_busy_child(dir, &budget) orelse {
            if (depth == 0) break;
            rc = linux.openat(dir, "..", linux.O.RDONLY | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
            sys.close(dir);
            if (sys.errno(rc) != 0) return sys.errno(rc);
            dir = sys.value(rc);
            depth -= 1;
            continue;
        };
        sys.close(dir);
        dir = busy;
        depth += 1;
    }
    sys.close(dir);
    // A child that was just emptied may still be on its way out: a few tries.
    var tries: u32 = 0;
    while (tries < 50) : (tries += 1) {
        e = sys.errno(linux.unlinkat(parent, name, linux.AT.REMOVEDIR));
        if (e == 0 or e == @intFromEnum(linux.E.NOENT)) return 0;
        if (e != @intFromEnum(linux.E.BUSY)) return e;
        const pause = linux.timespec{ .tv_sec = 0, .tv_nsec = 20 * std.time.ns_per_ms };
        _ = linux.nanosleep(&pause, null);
    }
    return e;
}

/// Removes the child cgroups of `dir` that can go, and opens the first that cannot (it has
/// children of its own), or returns null when none is left but those that fail otherwise.
fn first_busy_child(dir: sys.fd_t, budget: *u32) ?sys.fd_t {
    _ = linux.lseek(dir, 0, linux.SEEK.SET);
    var buffer: [1024]u8 align(8) = undefined;
    while (budget.* > 0) {
        const n = linux.getdents64(dir, &buffer, buffer.len);
        if (sys.errno(n) != 0 or n == 0) return null;
        var at: usize = 0;
        while (at < n) {
            const entry: *align(1) const linux.dirent64 = @ptrCast(&buffer[at]);
            at += entry.d_reclen;
            if (entry.d_type != linux.DT.DIR) continue;
            const child: [*:0]const u8 = @ptrCast(&entry.d_name);
            const child_name = std.mem.span(child);
            if (std.mem.eql(u8, child_name, ".") or std.mem.eql(u8, child_name, "..")) continue;
            budget.* -|= 1;
            const e = sys.errno(linux.unlinkat(dir, child, linux.AT.REMOVEDIR));
            if (e != @intFromEnum(linux.E.BUSY)) continue;
            const rc = linux.openat(dir, child, linux.O.RDONLY | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
            if (sys.errno(rc) == 0) return sys.value(rc);
        }
    }
    return null;
}
