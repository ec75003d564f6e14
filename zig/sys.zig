//! Raw Linux system calls for the code that runs between fork and exec.
//!
//! After a fork from Bun only the calling thread exists, and any lock another thread held
//! stays held forever. So nothing here touches libc, allocates or logs: every helper is a
//! system call and a failure is a plain errno number.
const std = @import("std");
const linux = std.os.linux;

pub const fd_t = i32;

/// The errno of a raw system call result, or 0 when it succeeded.
pub fn errno(rc: usize) u32 {
    return @intFromEnum(linux.getErrno(rc));
}

/// The result as a non-negative integer (a pid or an fd) when the call succeeded.
pub fn value(rc: usize) i32 {
    return @truncate(@as(isize, @bitCast(rc)));
}

pub const sigset_all: u64 = ~@as(u64, 0);

/// The signals a supervisor passes on to the process it watches.
pub const sigset_forward: u64 = bit(linux.SIG.INT) | bit(linux.SIG.TERM) | bit(linux.SIG.HUP) |
    bit(linux.SIG.QUIT) | bit(linux.SIG.USR1) | bit(linux.SIG.USR2);

pub fn bit(signal: u32) u64 {
    return @as(u64, 1) << @intCast(signal - 1);
}

pub fn sigmask(set: u64, old: ?*u64) void {
    const old_ptr: usize = if (old) |o| @intFromPtr(o) else 0;
    // Fails only for a bad `how` (EINVAL) or pointer (EFAULT): neither can happen here.
    _ = linux.syscall4(.rt_sigprocmask, linux.SIG.SETMASK, @intFromPtr(&set), old_ptr, 8);
}

/// Handled signals go back to default: their handlers point into an image that exec is
/// about to replace. Ignored ones stay ignored, as exec itself would keep them, so what
/// the caller ignored (nohup's HUP, a background job's INT) stays ignored in CMD; except
/// PIPE and XFSZ, which Bun ignores for itself (else `yes | head -1` in a container
/// prints "Broken pipe"). Whether the caller ignored those too cannot be known any more.
pub fn signals_reset() void {
    var signal: u32 = 1;
    while (signal <= 64) : (signal += 1) {
        if (signal == linux.SIG.KILL or signal == linux.SIG.STOP) continue;
        const bun_own = signal == linux.SIG.PIPE or signal == linux.SIG.XFSZ;
        if (ignored(signal) and !bun_own) continue;
        set_default(signal);
    }
}

const SIG_IGN = 1;

/// Whether `signal` is ignored in this process.
pub fn ignored(signal: u32) bool {
    var old = [4]usize{ 0, 0, 0, 0 };
    _ = linux.syscall4(.rt_sigaction, signal, 0, @intFromPtr(&old), 8);
    return old[0] == SIG_IGN;
}

/// Gives `signal` its default action. Every number from 1 to 64 but KILL and STOP takes
/// one (EINVAL is only for those and numbers out of range), so this cannot fail.
pub fn set_default(signal: u32) void {
    // A zeroed kernel sigaction is SIG_DFL with no flags and an empty mask on every arch.
    const action = [4]usize{ 0, 0, 0, 0 };
    _ = linux.syscall4(.rt_sigaction, signal, @intFromPtr(&action), 0, 8);
}

/// fork(2) without libc. With CLONE_PIDFD the parent gets a pidfd, which sees the child's
/// exit however the rest of the process reaps; `pidfd` may be null where none is wanted.
pub fn fork(pidfd: ?*i32) usize {
    if (pidfd) |p| {
        return linux.syscall5(.clone, linux.CLONE.PIDFD | linux.SIG.CHLD, 0, @intFromPtr(p), 0, 0);
    }
    return linux.syscall5(.clone, linux.SIG.CHLD, 0, 0, 0, 0);
}

pub fn exit(status: u8) noreturn {
    linux.exit_group(status);
}

pub fn close(fd: fd_t) void {
    if (fd >= 0) _ = linux.close(fd);
}

/// Closes every fd above 2 except the ones in `keep` (sorted ascending). Returns 0 or the
/// errno: only 0, 1 and 2 may reach CMD, so a failure must stop the start.
pub fn close_others(keep: []const fd_t) u32 {
    var first: u32 = 3;
    for (keep) |fd| {
        if (fd < first) continue;
        const fd_u: u32 = @intCast(fd);
        if (fd_u > first) {
            const e = close_range(first, fd_u - 1, 0);
            if (e != 0) return e;
        }
        first = fd_u + 1;
    }
    return close_range(first, std.math.maxInt(u32), 0);
}

/// Marks every fd above 2 close-on-exec, so that only 0, 1 and 2 reach an exec while the
/// report pipe stays open until it. Returns 0 or the errno.
pub fn cloexec_above_stdio() u32 {
    return close_range(3, std.math.maxInt(u32), CLOSE_RANGE_CLOEXEC);
}

/// close_range(2), or the same done one fd at a time from the list in /proc/self/fd where
/// the kernel lacks it (Linux 5.9 added the call, 5.11 the CLOEXEC flag: the time namespace
/// needs only 5.6). `flags` is 0 (close) or CLOSE_RANGE_CLOEXEC.
pub fn close_range(first: u32, last: u32, flags: u32) u32 {
    const e = errno(linux.syscall3(.close_range, first, last, flags));
    if (e != @intFromEnum(linux.E.NOSYS) and e != @intFromEnum(linux.E.INVAL)) return e;
    return each_open_fd(first, last, flags);
}

/// close_range by hand: reads /proc/self/fd on the stack (no allocation after fork).
pub fn each_open_fd(first: u32, last: u32, flags: u32) u32 {
    const rc = linux.openat(linux.AT.FDCWD, "/proc/self/fd", linux.O.RDONLY | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
    if (errno(rc) != 0) return errno(rc);
    const dir = value(rc);
    defer close(dir);
    var buffer: [1024]u8 align(8) = undefined;
    while (true) {
        const n = linux.getdents64(dir, &buffer, buffer.len);
        if (errno(n) != 0) return errno(n);
        if (n == 0) return 0;
        var at: usize = 0;
        while (at < n) {
            const entry: *align(1) const linux.dirent64 = @ptrCast(&buffer[at]);
            at += entry.d_reclen;
            const name = std.mem.sliceTo(@as([*:0]const u8, @ptrCast(&entry.d_name)), 0);
            const fd = std.fmt.parseInt(u32, name, 10) catch continue;
            if (fd < first or fd > last or fd == dir) continue;
            // Closing an entry already read does not disturb the listing.
            const result = if (flags & CLOSE_RANGE_CLOEXEC != 0)
                linux.fcntl(@intCast(fd), linux.F.SETFD, linux.FD_CLOEXEC)
            else
                linux.close(@intCast(fd));
            if (errno(result) != 0) return errno(result);
        }
    }
}

/// Makes `fds[i]` fd i, left open across exec (-1 leaves fd i as it is). Every source is
/// first copied above 2, so that moving one cannot clobber another. Returns 0 or the errno.
pub fn move_to_stdio(fds: [3]fd_t) u32 {
    var copies = [3]fd_t{ -1, -1, -1 };
    for (fds, 0..) |fd, index| {
        if (fd < 0) continue;
        // Already in place: only close-on-exec to clear.
        const rc = if (fd == index) linux.fcntl(fd, linux.F.SETFD, 0) else linux.fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (errno(rc) != 0) return errno(rc);
        if (fd != index) copies[index] = value(rc);
    }
    for (copies, 0..) |fd, index| {
        if (fd < 0) continue;
        const e = errno(linux.dup3(fd, @intCast(index), 0));
        if (e != 0) return e;
        close(fd);
    }
    return 0;
}

pub fn write_all(fd: fd_t, bytes: []const u8) u32 {
    var done: usize = 0;
    while (done < bytes.len) {
        const rc = linux.write(fd, bytes.ptr + done, bytes.len - done);
        const e = errno(rc);
        if (e == @intFromEnum(linux.E.INTR)) continue;
        if (e != 0) return e;
        done += rc;
    }
    return 0;
}

/// Reads until `buffer` is full or EOF, retrying on EINTR. Returns the count or -errno.
pub fn read_full(fd: fd_t, buffer: []u8) i32 {
    var done: usize = 0;
    while (done < buffer.len) {
        const n = linux.read(fd, buffer.ptr + done, buffer.len - done);
        const e = errno(n);
        if (e == @intFromEnum(linux.E.INTR)) continue;
        if (e != 0) return -@as(i32, @intCast(e));
        if (n == 0) break;
        done += n;
    }
    return @intCast(done);
}

/// Reads one byte, retrying on EINTR. False on EOF or error.
pub fn read_byte(fd: fd_t) bool {
    var byte: u8 = 0;
    while (true) {
        const rc = linux.read(fd, @ptrCast(&byte), 1);
        if (errno(rc) == @intFromEnum(linux.E.INTR)) continue;
        return errno(rc) == 0 and rc == 1;
    }
}

pub fn set_pdeathsig() void {
    // prctl(PR_SET_PDEATHSIG) fails only for a number that is not a signal (EINVAL);
    // SIGKILL is one, so nothing outlives its parent and there is no error to report.
    _ = linux.prctl(@intFromEnum(linux.PR.SET_PDEATHSIG), linux.SIG.KILL, 0, 0, 0);
}

/// The directory of this thread in the host's /proc, whose `children` file kill_children
/// reads. Opened while /proc is still the host's: init's pivot_root moves the root of
/// every process in the mount namespace, the holder's too. Returns an fd or -errno.
/// Sets the soft RLIMIT_NOFILE to `soft` (at most the hard limit), unless it is 0. Bun
/// raises its own soft limit to the hard one as it starts, and CMD would inherit that;
/// programs that close every fd up to the limit crawl under a million.
pub fn restore_nofile(soft: u64) void {
    if (soft == 0) return;
    const nofile = @intFromEnum(linux.rlimit_resource.NOFILE);
    var limit = [2]u64{ 0, 0 };
    if (errno(linux.syscall4(.prlimit64, 0, nofile, 0, @intFromPtr(&limit))) != 0) return;
    limit[0] = @min(soft, limit[1]);
    _ = linux.syscall4(.prlimit64, 0, nofile, @intFromPtr(&limit), 0);
}

/// An O_PATH fd of the directory at `path`, or -1.
pub fn open_path_directory(path: [*:0]const u8) fd_t {
    const rc = linux.openat(linux.AT.FDCWD, path, linux.O.PATH | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
    return if (errno(rc) == 0) value(rc) else -1;
}

pub fn open_task_dir() i32 {
    var path_buffer: [64]u8 = undefined;
    const path = std.fmt.bufPrintZ(&path_buffer, "/proc/self/task/{d}", .{linux.gettid()}) catch unreachable;
    const rc = linux.openat(linux.AT.FDCWD, path, linux.O.PATH | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
    if (errno(rc) != 0) return -@as(i32, @intCast(errno(rc)));
    return value(rc);
}

/// SIGKILLs every child of this process listed in `task_dir`'s children file (Linux 4.2)
/// and reaps them; one this process may not signal is handed to `proxy` (a keeper's pipe,
/// or -1). `spare` is left alone: the keeper, which goes when this process does. Returns
/// how many there were: 0 when none are left.
pub fn kill_children(task_dir: fd_t, proxy: fd_t, spare: i32) u32 {
    const rc = linux.openat(task_dir, "children", linux.O.RDONLY | linux.O.CLOEXEC, 0);
    if (errno(rc) != 0) return 0;
    const fd = value(rc);
    var buffer: [4096]u8 = undefined;
    const n = read_full(fd, &buffer);
    close(fd);
    if (n <= 0) return 0;
    var count: u32 = 0;
    var words = std.mem.tokenizeAny(u8, buffer[0..@intCast(n)], " \n");
    while (words.next()) |word| {
        const pid = std.fmt.parseInt(i32, word, 10) catch continue;
        if (pid == spare) continue;
        // A child this process may not signal (EPERM: the -o helper's, which kept host
        // root's credentials) goes to the proxy. It stays our child, unreaped, until it
        // dies, so its PID cannot name another process meanwhile.
        if (errno(linux.kill(pid, linux.SIG.KILL)) != 0) {
            if (proxy < 0 or write_all(proxy, std.mem.asBytes(&pid)) != 0) continue;
        }
        var info: linux.siginfo_t = undefined;
        _ = linux.waitid(.PID, pid, &info, linux.W.EXITED);
        count += 1;
    }
    return count;
}

/// The PID a pidfd names, from /proc/self/fdinfo ("Pid:" line), or -1.
pub fn pidfd_pid(pidfd: fd_t) i32 {
    var path_buffer: [64]u8 = undefined;
    const path = std.fmt.bufPrintZ(&path_buffer, "/proc/self/fdinfo/{d}", .{pidfd}) catch return -1;
    const rc = linux.openat(linux.AT.FDCWD, path, linux.O.RDONLY | linux.O.CLOEXEC, 0);
    if (errno(rc) != 0) return -1;
    var buffer: [512]u8 = undefined;
    const n = read_full(value(rc), &buffer);
    close(value(rc));
    if (n <= 0) return -1;
    var lines = std.mem.splitScalar(u8, buffer[0..@intCast(n)], '\n');
    while (lines.next()) |line| {
        if (!std.mem.startsWith(u8, line, "Pid:")) continue;
        return std.fmt.parseInt(i32, std.mem.trim(u8, line[4..], " \t"), 10) catch -1;
    }
    return -1;
}

/// Whether process `pid` is in this process's namespace of kind `name` ("net", ...).
pub fn same_namespace(pid: i32, name: []const u8) bool {
    var theirs_buffer: [64]u8 = undefined;
    var ours_buffer: [64]u8 = undefined;
    const theirs_path = std.fmt.bufPrintZ(&theirs_buffer, "/proc/{d}/ns/{s}", .{ pid, name }) catch return false;
    const ours_path = std.fmt.bufPrintZ(&ours_buffer, "/proc/self/ns/{s}", .{name}) catch return false;
    var theirs: linux.Stat = undefined;
    var ours: linux.Stat = undefined;
    // fstatat: aarch64 has no stat system call.
    if (errno(linux.fstatat(linux.AT.FDCWD, theirs_path, &theirs, 0)) != 0) return false;
    if (errno(linux.fstatat(linux.AT.FDCWD, ours_path, &ours, 0)) != 0) return false;
    return theirs.dev == ours.dev and theirs.ino == ours.ino;
}

/// Closes every fd but `keep`, standard streams included.
pub fn close_all_but(keep: fd_t) void {
    if (keep > 0) _ = close_range(0, @intCast(keep - 1), 0);
    _ = close_range(@intCast(keep + 1), std.math.maxInt(u32), 0);
}

pub fn set_dumpable(dumpable: bool) void {
    // EINVAL is only for values other than 0 and 1.
    _ = linux.prctl(@intFromEnum(linux.PR.SET_DUMPABLE), @intFromBool(dumpable), 0, 0, 0);
}

/// Becomes uid and gid 0 of the current user namespace. setgroups may be denied (a user
/// mapping only their own ID must deny it), which leaves no groups to drop anyway. A map
/// may give container root no ID (`-u 5:1000:1`): then setresuid and setresgid answer
/// EINVAL and the process stays the ID it is, as the original's ignored setuid does.
pub fn become_root() u32 {
    const unmapped = @intFromEnum(linux.E.INVAL);
    var e = errno(linux.setresgid(0, 0, 0));
    if (e != 0 and e != unmapped) return e;
    e = errno(linux.syscall2(.setgroups, 0, 0));
    if (e != 0 and e != @intFromEnum(linux.E.PERM)) return e;
    e = errno(linux.setresuid(0, 0, 0));
    return if (e == unmapped) 0 else e;
}

/// Waits for the child `id` (a pid, or a pidfd with .PIDFD) to exit and returns its status
/// in shell terms: the exit code, or 128 + N when signal N killed it.
pub fn wait_status(which: linux.P, id: i32) u8 {
    while (true) {
        var info: linux.siginfo_t = undefined;
        const rc = linux.waitid(which, id, &info, linux.W.EXITED);
        if (errno(rc) == @intFromEnum(linux.E.INTR)) continue;
        if (errno(rc) != 0) return 125;
        return shell_status(&info);
    }
}

/// Reaps a child that has exited, without waiting: its pid (0 if none has exited) with its
/// status in `info`, or -errno. `which` and `id` as waitid takes them.
pub fn reap(which: linux.P, id: i32, info: *linux.siginfo_t) i32 {
    info.fields.common.first.piduid.pid = 0;
    const rc = linux.waitid(which, id, info, linux.W.EXITED | linux.W.NOHANG);
    if (errno(rc) != 0) return -@as(i32, @intCast(errno(rc)));
    return info.fields.common.first.piduid.pid;
}

/// shell_status, with 0x100 added when a signal killed the process: what callers need to
/// die of the same signal rather than exit 128 + N.
pub fn wait_code(info: *const linux.siginfo_t) u16 {
    const killed: u16 = if (info.code == 1) 0 else 0x100;
    return killed | shell_status(info);
}

/// Dies of `signal` as the process it supervised did: core dumps off first (as GNU
/// timeout does: the dump would be ours, not CMD's), its default action restored and
/// unblocked. Exits 128 + signal should the signal not kill (a stop signal, say).
pub fn die_of(signal: u32) noreturn {
    const no_core = [2]usize{ 0, 0 };
    _ = linux.syscall4(.prlimit64, 0, @intFromEnum(linux.rlimit_resource.CORE), @intFromPtr(&no_core), 0);
    set_default(signal);
    const unblock = bit(signal);
    _ = linux.syscall4(.rt_sigprocmask, linux.SIG.UNBLOCK, @intFromPtr(&unblock), 0, 8);
    _ = linux.kill(linux.getpid(), @intCast(signal));
    exit(@truncate(128 +% signal));
}

pub fn shell_status(info: *const linux.siginfo_t) u8 {
    const status = info.fields.common.second.sigchld.status;
    const code: u8 = @truncate(@as(u32, @bitCast(status)));
    // CLD_EXITED is 1; CLD_KILLED and CLD_DUMPED report the signal number.
    if (info.code == 1) return code;
    return 128 +% code;
}

/// Constants that Zig 0.11's std.os.linux lacks (values from the kernel's uapi headers).
pub const F_DUPFD_CLOEXEC = 1030;
pub const CLOSE_RANGE_CLOEXEC = 4;

const testing = std.testing;

/// si_code values of SIGCHLD, which Zig 0.11 does not name.
const CLD = enum(i32) { EXITED = 1, KILLED = 2, DUMPED = 3 };

fn exited(code: CLD, status: i32) linux.siginfo_t {
    var info = std.mem.zeroes(linux.siginfo_t);
    info.code = @intFromEnum(code);
    info.fields.common.second.sigchld.status = status;
    return info;
}

test "shell_status: the exit code, or 128 + the signal" {
    try testing.expectEqual(@as(u8, 0), shell_status(&exited(.EXITED, 0)));
    try testing.expectEqual(@as(u8, 42), shell_status(&exited(.EXITED, 42)));
    try testing.expectEqual(@as(u8, 255), shell_status(&exited(.EXITED, 255)));
    try testing.expectEqual(@as(u8, 137), shell_status(&exited(.KILLED, linux.SIG.KILL)));
    try testing.expectEqual(@as(u8, 139), shell_status(&exited(.DUMPED, linux.SIG.SEGV)));
}

test "errno and value split a raw system call result" {
    const failed: usize = @bitCast(@as(isize, -@as(isize, @intFromEnum(linux.E.ACCES))));
    try testing.expectEqual(@as(u32, @intFromEnum(linux.E.ACCES)), errno(failed));
    try testing.expectEqual(@as(u32, 0), errno(7));
    try testing.expectEqual(@as(i32, 7), value(7));
}

test "the forwarded signals are the process contract's six" {
    try testing.expectEqual(@as(u64, 1), bit(1));
    try testing.expectEqual(@as(u32, 6), @popCount(sigset_forward));
    try testing.expect(sigset_forward & bit(linux.SIG.CHLD) == 0);
}

fn open_null() !fd_t {
    const rc = linux.openat(linux.AT.FDCWD, "/dev/null", linux.O.RDONLY, 0);
    try testing.expectEqual(@as(u32, 0), errno(rc));
    return value(rc);
}

fn is_cloexec(fd: fd_t) bool {
    return linux.fcntl(fd, linux.F.GETFD, 0) & linux.FD_CLOEXEC != 0;
}

test "each_open_fd marks or closes what close_range would, on kernels without it" {
    const a = try open_null();
    const b = try open_null();
    defer close(b);
    try testing.expect(!is_cloexec(a) and !is_cloexec(b));
    try testing.expectEqual(@as(u32, 0), each_open_fd(@intCast(a), @intCast(a), CLOSE_RANGE_CLOEXEC));
    try testing.expect(is_cloexec(a) and !is_cloexec(b));
    try testing.expectEqual(@as(u32, 0), each_open_fd(@intCast(a), @intCast(a), 0));
    try testing.expectEqual(@as(u32, @intFromEnum(linux.E.BADF)), errno(linux.fcntl(a, linux.F.GETFD, 0)));
    try testing.expect(!is_cloexec(b));
}

test "move_to_stdio swaps fds without clobbering one, and leaves them open across exec" {
    // It changes 0, 1 and 2, which the test runner talks through: a fork does it.
    const rc = fork(null);
    try testing.expectEqual(@as(u32, 0), errno(rc));
    if (rc == 0) {
        // Two different files on 0 and 1, so that a swap shows.
        var pipe: [2]fd_t = undefined;
        const null_rc = linux.openat(linux.AT.FDCWD, "/dev/null", linux.O.RDONLY, 0);
        if (errno(null_rc) != 0 or errno(linux.pipe2(&pipe, 0)) != 0) exit(1);
        _ = linux.dup3(value(null_rc), 0, 0);
        _ = linux.dup3(pipe[1], 1, 0);
        _ = linux.fcntl(2, linux.F.SETFD, linux.FD_CLOEXEC);
        var before = [2]linux.Stat{ undefined, undefined };
        for (&before, 0..) |*stat, fd| _ = linux.fstat(@intCast(fd), stat);
        // 0 and 1 trade places; 2 stays, open across exec.
        if (move_to_stdio(.{ 1, 0, 2 }) != 0) exit(2);
        var after = [2]linux.Stat{ undefined, undefined };
        for (&after, 0..) |*stat, fd| _ = linux.fstat(@intCast(fd), stat);
        if (after[0].ino != before[1].ino or after[1].ino != before[0].ino) exit(3);
        for ([_]fd_t{ 0, 1, 2 }) |fd| if (is_cloexec(fd)) exit(4);
        exit(0);
    }
    try testing.expectEqual(@as(u8, 0), wait_status(.PID, value(rc)));
}

test "close_range marks a range close-on-exec" {
    const a = try open_null();
    defer close(a);
    try testing.expectEqual(@as(u32, 0), close_range(@intCast(a), @intCast(a), CLOSE_RANGE_CLOEXEC));
    try testing.expect(is_cloexec(a));
}
