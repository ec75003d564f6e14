//! Watching a child until it exits, and relaying its console meanwhile, on a thread of
//! our own: the caller gets a pipe that yields one u32 (the relay's result, 0 without a
//! console) and then EOF once the child has exited and may be reaped. A pipe is what Bun
//! can wait on without blocking its event loop, in a Worker as on the main thread, and
//! without a timer, a SIGCHLD listener or a Worker of our own.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const clone = @import("clone.zig");
const console = @import("console.zig");

/// The relay copies through a 64 KiB buffer on its stack.
const stack_size = 256 * 1024;

const Slot = struct {
    /// The stack's mapping, or 0 when the slot is free.
    base: usize = 0,
    /// Nonzero while the thread on it runs; the kernel zeroes it when the thread exits.
    running: i32 = 0,
};

/// More children watched at once than a process can start threads for; a full table is
/// EAGAIN. Scanning it reads only zero pages where nothing ever ran.
var slots = [_]Slot{.{}} ** 4096;
/// Serializes the table between threads that start watchers (Bun's main thread, Workers).
/// A futex mutex: a Worker that finds the table busy sleeps instead of spinning on a
/// core while the holder of the lock maps a stack. In ReleaseSafe, which the shim is built
/// with, it is a plain futex word and touches no thread-local storage.
var busy = std.Thread.Mutex{};

const Args = struct {
    pidfd: i32,
    master: i32,
    input: i32,
    output: i32,
    notify: i32,
};

fn run(args: *const Args) noreturn {
    var result: u32 = 0;
    if (args.master >= 0) {
        result = console.relay(args.master, args.input, args.output, args.pidfd);
        // Stopped early: stdout is gone (EPIPE), or the relay could not go on. The
        // container cannot be heard any more, so it ends now, as a writer into a closed
        // pipe would.
        if (result != 0) _ = linux.syscall4(.pidfd_send_signal, @intCast(args.pidfd), linux.SIG.KILL, 0, 0);
    }
    var fds = [1]linux.pollfd{.{ .fd = args.pidfd, .events = linux.POLL.IN, .revents = 0 }};
    while (true) {
        const rc = linux.poll(&fds, 1, -1);
        if (sys.errno(rc) == @intFromEnum(linux.E.INTR)) continue;
        // A pidfd is readable once its process has exited; poll fails on nothing else here.
        break;
    }
    // The last use of anything the caller owns: after this the caller may close the pidfd.
    _ = sys.write_all(args.notify, std.mem.asBytes(&result));
    sys.close(args.notify);
    linux.exit(0);
}

/// Starts watching the child behind `pidfd`; with `master` >= 0, relays `input` to the
/// console and the console to `output` until it exits. Returns the pipe's read end
/// (close-on-exec), or -errno.
pub fn start(pidfd: i32, master: i32, input: i32, output: i32) i32 {
    var pipe: [2]i32 = undefined;
    var e = sys.errno(linux.pipe2(&pipe, linux.O.CLOEXEC));
    if (e != 0) return -@as(i32, @intCast(e));
    busy.lock();
    const slot = claim();
    if (slot) |s| {
        const args = Args{ .pidfd = pidfd, .master = master, .input = input, .output = output, .notify = pipe[1] };
        const base: [*]align(16) u8 = @ptrFromInt(s.base);
        s.running = 1;
        const rc = clone.start_thread(Args, run, base[0..stack_size], &s.running, args);
        e = sys.errno(rc);
        if (e != 0) s.running = 0;
    } else {
        e = @intFromEnum(linux.E.AGAIN);
    }
    busy.unlock();
    if (e != 0) {
        sys.close(pipe[0]);
        sys.close(pipe[1]);
        return -@as(i32, @intCast(e));
    }
    return pipe[0];
}

/// Frees the stacks of watchers that have exited, then gives a slot with a stack.
fn claim() ?*Slot {
    var free: ?*Slot = null;
    for (&slots) |*slot| {
        if (slot.base != 0 and @atomicLoad(i32, &slot.running, .Acquire) == 0) {
            _ = linux.munmap(@ptrFromInt(slot.base), stack_size);
            slot.base = 0;
        }
        if (slot.base == 0 and free == null) free = slot;
    }
    const slot = free orelse return null;
    const rc = linux.mmap(null, stack_size, linux.PROT.READ | linux.PROT.WRITE, linux.MAP.PRIVATE | linux.MAP.ANONYMOUS | linux.MAP.NORESERVE, -1, 0);
    if (sys.errno(rc) != 0) return null;
    slot.base = rc;
    return slot;
}
