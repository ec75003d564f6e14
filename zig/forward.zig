//! The supervisor's signal forwarding, as a native handler in Bun's own process.
//!
//! A JS `process.on` listener cannot see who sent a signal, and that decides whether to
//! pass it on: the terminal signals a whole process group (si_code SI_KERNEL), so CMD,
//! when it is in ours, already has its own copy, while `kill`, `timeout` or a CI runner
//! (SI_USER, SI_QUEUE, SI_TKILL) signalled only us. A handler that forwards both would run
//! CMD's INT trap twice for one ^C. The handler runs on whichever of Bun's threads takes
//! the signal and makes one system call, so it is safe whatever that thread was doing.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");

const SI_KERNEL = 0x80;

/// The pidfd signals go to (our own duplicate, so its number cannot be given out again
/// while the handler may use it), or -1 while there is no child yet.
var target = std.atomic.Atomic(i32).init(-1);
/// Signals that arrived before the child existed, delivered once it does.
var pending = std.atomic.Atomic(u64).init(0);
/// Whether CMD shares our process group, and so gets the terminal's signals itself.
var skip_terminal = std.atomic.Atomic(bool).init(false);
/// Set by start: only the commands forward signals, never the library's callers.
var started = std.atomic.Atomic(bool).init(false);

fn handle(signal: i32, info: *const linux.siginfo_t, _: ?*const anyopaque) callconv(.C) void {
    if (info.code == SI_KERNEL and skip_terminal.load(.SeqCst)) return;
    const fd = target.load(.SeqCst);
    if (fd >= 0) {
        _ = linux.syscall4(.pidfd_send_signal, @intCast(fd), @intCast(signal), 0, 0);
        return;
    }
    _ = pending.fetchOr(sys.bit(@intCast(signal)), .SeqCst);
    // The child may have appeared between the two loads: then nobody else will flush.
    if (target.load(.SeqCst) >= 0) flush();
}

fn flush() void {
    const fd = target.load(.SeqCst);
    const signals = pending.swap(0, .SeqCst);
    var signal: u32 = 1;
    while (signal <= 64) : (signal += 1) {
        if (signals & sys.bit(signal) == 0) continue;
        _ = linux.syscall4(.pidfd_send_signal, @intCast(fd), signal, 0, 0);
    }
}

/// Catches the forwarded signals from now on; until `adopt` names a child they are held.
/// `terminal_reaches_child`: signals from the terminal are not passed on. Returns an errno.
pub fn start(terminal_reaches_child: bool) u32 {
    skip_terminal.store(terminal_reaches_child, .SeqCst);
    var action = linux.Sigaction{
        .handler = .{ .sigaction = handle },
        .mask = linux.empty_sigset,
        .flags = linux.SA.SIGINFO | linux.SA.RESTART,
    };
    var signal: u6 = 1;
    while (signal < 32) : (signal += 1) {
        if (sys.sigset_forward & sys.bit(signal) == 0) continue;
        // Ignored by whoever started us (nohup, a script's background job): CMD ignores
        // it too (see sys.signals_reset), so there is nothing to pass on.
        if (sys.ignored(signal)) continue;
        const e = sys.errno(linux.sigaction(signal, &action, null));
        if (e != 0) return e;
    }
    started.store(true, .SeqCst);
    return 0;
}

/// Sends what is held, and every signal from now on, to the child behind `pidfd`, if this
/// process forwards signals at all. Called by spawn the moment the child exists, so no
/// signal can fall between its start and the handler learning about it. Returns an errno.
pub fn adopt(pidfd: i32) u32 {
    if (!started.load(.SeqCst)) return 0;
    const rc = linux.fcntl(pidfd, sys.F_DUPFD_CLOEXEC, 3);
    if (sys.errno(rc) != 0) return sys.errno(rc);
    target.store(sys.value(rc), .SeqCst);
    flush();
    return 0;
}
