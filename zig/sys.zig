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
    _ = linux.syscall4(.rt_sigprocmask, linux.SIG.SETMASK, @intFromPtr(&set), old_ptr, 8);
}

/// Handled signals go back to default: their handlers point into an image that exec is
/// about to replace. Ignored ones stay ignored, as exec itself would keep them, so what
/// the caller ignored (nohup's HUP, a background job's INT) stays ignored in CMD; except
/// PIPE and XFSZ, which Bun ignores for itself (else `yes | head -1` in a container
/// prints "Broken pipe"). Whether the caller ignored those too cannot be known any more.
pub fn signals_reset() void {
    // A zeroed kernel sigaction is SIG_DFL with no flags and an empty mask on every arch.
    const action = [4]usize{ 0, 0, 0, 0 };
    var signal: usize = 1;
    while (signal <= 64) : (signal += 1) {
        if (signal == linux.SIG.KILL or signal == linux.SIG.STOP) continue;
        var old = [4]usize{ 0, 0, 0, 0 };
        _ = linux.syscall4(.rt_sigaction, signal, 0, @intFromPtr(&old), 8);
        const bun_own = signal == linux.SIG.PIPE or signal == linux.SIG.XFSZ;
        if (old[0] == SIG_IGN and !bun_own) continue;
        _ = linux.syscall4(.rt_sigaction, signal, @intFromPtr(&action), 0, 8);
    }
}

pub const SIG_IGN = 1;

/// Whether `signal` is ignored in this process.
pub fn ignored(signal: u32) bool {
    var old = [4]usize{ 0, 0, 0, 0 };
    _ = linux.syscall4(.rt_sigaction, signal, 0, @intFromPtr(&old), 8);
    return old[0] == SIG_IGN;
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

/// Closes every fd above 2 except the ones in `keep` (sorted ascending).
pub fn close_others(keep: []const fd_t) void {
    var first: u32 = 3;
    for (keep) |fd| {
        if (fd < first) continue;
        const fd_u: u32 = @intCast(fd);
        if (fd_u > first) _ = linux.syscall3(.close_range, first, fd_u - 1, 0);
        first = fd_u + 1;
    }
    _ = linux.syscall3(.close_range, first, std.math.maxInt(u32), 0);
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
    _ = linux.prctl(@intFromEnum(linux.PR.SET_PDEATHSIG), linux.SIG.KILL, 0, 0, 0);
}

pub fn set_dumpable(dumpable: bool) void {
    _ = linux.prctl(@intFromEnum(linux.PR.SET_DUMPABLE), @intFromBool(dumpable), 0, 0, 0);
}

/// Becomes uid and gid 0 of the current user namespace. setgroups may be denied (a user
/// mapping only their own ID must deny it), which leaves no groups to drop anyway.
pub fn become_root() u32 {
    var e = errno(linux.setresgid(0, 0, 0));
    if (e != 0) return e;
    e = errno(linux.syscall2(.setgroups, 0, 0));
    if (e != 0 and e != @intFromEnum(linux.E.PERM)) return e;
    return errno(linux.setresuid(0, 0, 0));
}

/// Waits for `pid` to exit and returns its status in shell terms: the exit code, or
/// 128 + N when signal N killed it.
pub fn wait_status(pid: i32) u8 {
    while (true) {
        var info: linux.siginfo_t = undefined;
        const rc = linux.waitid(.PID, pid, &info, linux.W.EXITED);
        if (errno(rc) == @intFromEnum(linux.E.INTR)) continue;
        if (errno(rc) != 0) return 125;
        return shell_status(&info);
    }
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
