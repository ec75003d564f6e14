//! How the holder and the joiner wait for what they started: passing signals on, ending a
//! start that was aborted, and taking down everything they started when they end or when
//! the supervisor dies (SIG_END).
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");

const SI_KERNEL = 0x80;

/// "End everything": what the kernel sends the holder and the joiner when the supervisor
/// dies, instead of SIGKILL. Unlike SIGKILL it can be waited for, so that they can take
/// down what they started (end). CMD's own PR_SET_PDEATHSIG is no such guarantee: the
/// kernel clears it whenever CMD changes its credentials (su, setpriv), and helpers'
/// children never had one. Neither process changes its credentials again once it has set
/// this. SIGRTMIN: no libc here reserves it.
const SIG_END = 34;

/// Takes SIG_END as the parent-death signal, and ends at once if the parent is gone.
pub fn end_with_parent(parent: i32, pid: i32, others: Others) void {
    // A valid signal number, so prctl cannot fail.
    _ = linux.prctl(@intFromEnum(linux.PR.SET_PDEATHSIG), SIG_END, 0, 0, 0);
    if (sys.value(linux.syscall0(.getppid)) != parent) end(pid, others, 125);
}

/// Signals that end a start before CMD runs: the supervisor's death, and whatever the
/// supervisor forwards meanwhile (a TERM or ^C while a helper or newuidmap runs). They
/// wait as pending signals, blocked since spawn; CMD must then not run at all.
const set_abort = sys.sigset_forward | sys.bit(SIG_END);

/// The status a start aborted by `signal` ends with, as a shell shows a death by it.
fn aborted_status(signal: u32) u8 {
    return if (signal == SIG_END) 125 else @intCast(128 + signal);
}

/// Ends at once if a signal that aborts the start is pending.
pub fn end_if_asked(others: Others) void {
    var pending: u64 = 0;
    // It fails only for a bad pointer or size, and these are ours: nothing to handle.
    _ = linux.syscall2(.rt_sigpending, @intFromPtr(&pending), 8);
    const asked = pending & set_abort;
    if (asked == 0) return;
    end(0, others, aborted_status(@ctz(asked) + 1));
}

/// Waits for the helper `pid`, or ends everything on a signal that aborts the start.
/// Returns the helper's status.
pub fn wait_or_end(pid: i32, others: Others) u8 {
    const set = sys.bit(linux.SIG.CHLD) | set_abort;
    while (true) {
        var status: linux.siginfo_t = undefined;
        const reaped = sys.reap(.PID, pid, &status);
        if (reaped < 0) return 125;
        if (reaped == pid) return sys.shell_status(&status);
        var info: linux.siginfo_t = undefined;
        const signal = linux.syscall4(.rt_sigtimedwait, @intFromPtr(&set), @intFromPtr(&info), 0, 8);
        if (sys.errno(signal) == 0 and signal != linux.SIG.CHLD) end(pid, others, aborted_status(@intCast(signal)));
    }
}

/// The signals that ask a process to stop: a PID 1 without a handler for one never sees
/// it (the kernel drops it), so its supervisor ends the container instead.
pub const set_stop = sys.bit(linux.SIG.INT) | sys.bit(linux.SIG.TERM) | sys.bit(linux.SIG.HUP) | sys.bit(linux.SIG.QUIT);

/// contain's init, which as a PID namespace's first process is immune to the signals it
/// does not handle. `proc` is a /proc directory where `pid` is found, or -1 for a CMD
/// that is no PID 1 (inject's).
pub const Init = struct { proc: sys.fd_t = -1 };

/// Waits for `pid` with the forwarded signals blocked, passing each one on, and exits with
/// its status once it has ended what else it started (`others`). On SIG_END (the
/// supervisor died, or aborted), SIGKILLs `pid` (for contain's init, that ends its whole
/// PID namespace) and the rest. For a PID 1 (`init`), a stop signal it has no handler
/// for ends the container, and this process dies of it; one it handles reaches it once,
/// and when it then exits 128+N for that signal N, this process dies of N. Runs in a
/// single-threaded process, so sigwaitinfo sees every signal.
pub fn supervise(pid: i32, parent: i32, others: Others, init: Init) noreturn {
    const set = sys.sigset_forward | sys.bit(linux.SIG.CHLD) | sys.bit(SIG_END);
    sys.sigmask(set, null);
    end_with_parent(parent, pid, others);
    // The stop signals init has been given to handle, and those of them still watched.
    var handed: u64 = 0;
    var watched: u64 = 0;
    var ticks: u32 = 0;
    while (true) {
        var info: linux.siginfo_t = undefined;
        const tick = linux.timespec{ .tv_sec = 0, .tv_nsec = watch_tick_ns };
        const timeout: usize = if (watched != 0) @intFromPtr(&tick) else 0;
        const rc = linux.syscall4(.rt_sigtimedwait, @intFromPtr(&set), @intFromPtr(&info), timeout, 8);
        if (sys.errno(rc) == @intFromEnum(linux.E.AGAIN)) {
            // An init that had a handler when the signal came may have been executing a
            // program meanwhile (sh -c '...; exec sleep 9'), which drops both handler and
            // signal; or its handler only raised the signal again, as busybox sh's does.
            const dropped = watched & ~taken(init.proc, pid);
            if (dropped != 0) end(pid, others, killed_by(@ctz(dropped) + 1));
            ticks += 1;
            if (ticks >= watch_ticks) watched = 0;
            continue;
        }
        if (sys.errno(rc) != 0) continue;
        const signal: u32 = @intCast(rc);
        if (signal == SIG_END) end(pid, others, 125);
        if (signal != linux.SIG.CHLD) {
            // This process shares the supervisor's process group, so the terminal's
            // signals (SI_KERNEL) reach it directly: CMD got its own copy where it shares
            // the group too, and the supervisor passes them on where it does not.
            const terminal = info.code == SI_KERNEL;
            // A TERM that becomes systemd's halt signal is no stop signal to watch: systemd
            // halts, executing systemd-shutdown on the way, which drops every handler.
            const sent = for_init(init, signal, pid);
            const stop = init.proc >= 0 and set_stop & sys.bit(signal) != 0 and sent == signal;
            if (stop and !takes(init.proc, pid, signal)) end(pid, others, killed_by(signal));
            if (!terminal) _ = linux.kill(pid, @intCast(sent));
            if (!stop) continue;
            // Looked at again once sent: an init that has just executed CMD, or dropped
            // its handler, has dropped the signal with it.
            if (!terminal and !takes(init.proc, pid, signal)) end(pid, others, killed_by(signal));
            handed |= sys.bit(signal);
            watched |= sys.bit(signal);
            ticks = 0;
            continue;
        }
        // Reap every child that has exited (orphans included), noting `pid`'s status.
        while (true) {
            var status: linux.siginfo_t = undefined;
            const reaped = sys.reap(.ALL, 0, &status);
            if (reaped <= 0) break;
            if (reaped == pid) end(pid, others, answered(ended(init, sys.wait_code(&status)), handed));
        }
    }
}

/// SIGRTMIN+3: what asks systemd, as PID 1, to halt (systemd(1)), as systemd-nspawn and
/// podman send it. TERM would make it re-execute itself instead, and the container would
/// go on.
const SIG_HALT_SYSTEMD = 37;

/// The signal that asks `pid` for what `signal` asked of us: TERM to a container's init
/// that is systemd (its comm in the host's /proc, read when the signal comes, since CMD
/// may be a shell that execs it) is SIGRTMIN+3; everything else goes as it came.
fn for_init(init: Init, signal: u32, pid: i32) u32 {
    if (init.proc < 0 or signal != linux.SIG.TERM) return signal;
    var path_buffer: [32]u8 = undefined;
    const path = std.fmt.bufPrintZ(&path_buffer, "{d}/comm", .{pid}) catch return signal;
    const rc = linux.openat(init.proc, path, linux.O.RDONLY | linux.O.CLOEXEC, 0);
    if (sys.errno(rc) != 0) return signal;
    var comm: [16]u8 = undefined;
    const n = sys.read_full(sys.value(rc), &comm);
    sys.close(sys.value(rc));
    return if (std.mem.eql(u8, comm[0..@intCast(@max(n, 0))], "systemd\n")) SIG_HALT_SYSTEMD else signal;
}

/// How a container's init ended (its wait status, before `answered` reads it), as the
/// supervisor reports it. One that died of SIGINT was halted or powered off with
/// reboot(2), which the kernel carries out in a PID namespace that way (reboot_pid_ns):
/// nothing else kills an init with a signal it did not ask for but SIGKILL (a stop signal
/// it does not handle ends the container here, with SIGKILL). So that is a clean end,
/// status 0, as systemd-nspawn reports it; a reboot (SIGHUP) stays a death by HUP, since
/// nothing here starts the container again.
fn ended(init: Init, code: u16) u16 {
    if (init.proc >= 0 and code == killed_by(linux.SIG.INT)) return 0;
    return code;
}

/// The status `end` takes to die of `signal`.
fn killed_by(signal: u32) u16 {
    return 0x100 | @as(u16, @intCast(128 + signal));
}

/// An init that handled stop signal N and then exited 128+N said it was stopped by it, as
/// a shell's trap does with `exit 143`: it is taken as a death by N.
fn answered(code: u16, handed: u64) u16 {
    if (code & 0x100 != 0 or code <= 128 or code > 128 + 31) return code;
    const signal: u32 = code - 128;
    return if (handed & sys.bit(signal) != 0) killed_by(signal) else code;
}

/// How long init is watched after a stop signal it took: 20 looks, 10 ms apart.
const watch_tick_ns = 10 * std.time.ns_per_ms;
const watch_ticks = 20;

/// Whether process `pid` (in the /proc of `proc`) handles or ignores `signal`: a signal it
/// ignores stays ignored (nohup's HUP).
fn takes(proc: sys.fd_t, pid: i32, signal: u32) bool {
    return taken(proc, pid) & sys.bit(signal) != 0;
}

/// The signals process `pid` handles or ignores. When its status cannot be read, or it has
/// exited, all of them, so that nothing is ended on a guess.
fn taken(proc: sys.fd_t, pid: i32) u64 {
    const all = ~@as(u64, 0);
    var path_buffer: [32]u8 = undefined;
    const path = std.fmt.bufPrintZ(&path_buffer, "{d}/status", .{pid}) catch unreachable;
    const rc = linux.openat(proc, path, linux.O.RDONLY | linux.O.CLOEXEC, 0);
    if (sys.errno(rc) != 0) return all;
    const fd = sys.value(rc);
    defer sys.close(fd);
    var buffer: [4096]u8 = undefined;
    const count = sys.read_full(fd, &buffer);
    if (count <= 0) return all;
    const text = buffer[0..@intCast(count)];
    // A process that has exited shows no handlers: its status comes with SIGCHLD.
    if (std.mem.indexOf(u8, text, "\nState:\tZ") != null or std.mem.indexOf(u8, text, "\nState:\tX") != null) return all;
    const ignored = status_mask(text, "SigIgn:") orelse return all;
    const caught = status_mask(text, "SigCgt:") orelse return all;
    return ignored | caught;
}

/// The hexadecimal mask on the line of /proc/PID/status that starts with `name`.
fn status_mask(text: []const u8, name: []const u8) ?u64 {
    var lines = std.mem.splitScalar(u8, text, '\n');
    while (lines.next()) |line| {
        if (!std.mem.startsWith(u8, line, name)) continue;
        const digits = std.mem.trim(u8, line[name.len..], " \t");
        return std.fmt.parseUnsigned(u64, digits, 16) catch null;
    }
    return null;
}

test "status_mask reads the masks of /proc/PID/status" {
    const text = "Name:\tsleep\nSigQ:\t0/63\nSigIgn:\t0000000000000004\nSigCgt:\t0000000000004002\n";
    try std.testing.expectEqual(@as(?u64, 4), status_mask(text, "SigIgn:"));
    try std.testing.expectEqual(@as(?u64, 0x4002), status_mask(text, "SigCgt:"));
    try std.testing.expectEqual(@as(?u64, null), status_mask(text, "SigBlk:"));
}

test "answered takes exit 128+N as a death by N only for a signal init was given" {
    const term = sys.bit(linux.SIG.TERM);
    try std.testing.expectEqual(@as(u16, 0x100 | 143), answered(143, term));
    try std.testing.expectEqual(@as(u16, 130), answered(130, term));
    try std.testing.expectEqual(@as(u16, 3), answered(3, term));
    try std.testing.expectEqual(@as(u16, 0x100 | 137), answered(0x100 | 137, term));
}

/// What else a supervising process started: the orphans of contain's helpers, which
/// reparent to the holder and are listed through its /proc task directory, and the
/// keeper that kills those the holder may not.
pub const Others = struct { task_dir: sys.fd_t = -1, keeper: Keeper = .{} };

/// Kills `pid` and every other child of this process, until none is left (a dying
/// child's orphans reparent here first), then exits with `status` or, when it carries
/// 0x100 (sys.wait_code), dies of the signal that killed `pid`, so that the supervisor
/// can die of it in turn.
pub fn end(pid: i32, others: Others, status: u16) noreturn {
    // A keeper that is gone must fail the write (EPIPE), not kill this process.
    sys.sigmask(sys.sigset_all, null);
    // Never 0 or -1 here: kill() would take those as a process group or everything. ESRCH,
    // its only failure then, means `pid` is gone already, which is what this wants.
    if (pid > 0) _ = linux.kill(pid, linux.SIG.KILL);
    if (others.task_dir >= 0) {
        var rounds: u32 = 0;
        const keeper = others.keeper;
        while (rounds < 64 and sys.kill_children(others.task_dir, keeper.requests, keeper.pid) > 0) : (rounds += 1) {}
    }
    if (status & 0x100 != 0) sys.die_of((status & 0xff) - 128);
    sys.exit(@truncate(status));
}

pub const Keeper = struct { pid: i32 = 0, requests: sys.fd_t = -1 };
