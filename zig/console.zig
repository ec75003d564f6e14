//! The container console: a host pty whose slave is bound at /dev/console, relayed to and
//! from contain's own stdin and stdout by a poll loop on the shim's watcher thread (watch.zig).
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");

/// Opens a pty master and its slave (both close-on-exec). The slave's path goes to `path`.
/// The supervisor keeps the slave open so the master never reads EIO while the container
/// has no console fd open for a moment.
pub fn open(path: []u8, fds: *[2]i32) u32 {
    std.debug.assert(path.len >= 32);
    const flags = linux.O.RDWR | linux.O.NOCTTY | linux.O.CLOEXEC;
    const rc = linux.openat(linux.AT.FDCWD, "/dev/ptmx", flags, 0);
    if (sys.errno(rc) != 0) return sys.errno(rc);
    const master = sys.value(rc);
    var unlock: c_int = 0;
    var number: c_uint = 0;
    var e = sys.errno(linux.ioctl(master, linux.T.IOCSPTLCK, @intFromPtr(&unlock)));
    if (e == 0) e = sys.errno(linux.ioctl(master, linux.T.IOCGPTN, @intFromPtr(&number)));
    if (e != 0) {
        sys.close(master);
        return e;
    }
    const name = std.fmt.bufPrintZ(path, "/dev/pts/{d}", .{number}) catch unreachable;
    const slave_rc = linux.openat(linux.AT.FDCWD, name, flags, 0);
    if (sys.errno(slave_rc) != 0) {
        sys.close(master);
        return sys.errno(slave_rc);
    }
    fds.* = .{ master, sys.value(slave_rc) };
    return 0;
}

pub const termios_size = @sizeOf(linux.termios);

/// Saves the terminal's mode into `saved` and switches it to raw, as cfmakeraw does.
pub fn make_raw(fd: i32, saved: *linux.termios) u32 {
    const e = sys.errno(linux.ioctl(fd, linux.T.CGETS, @intFromPtr(saved)));
    if (e != 0) return e;
    var raw = saved.*;
    raw.iflag &= ~(linux.IGNBRK | linux.BRKINT | linux.PARMRK | linux.ISTRIP | linux.INLCR |
        linux.IGNCR | linux.ICRNL | linux.IXON);
    raw.oflag &= ~linux.OPOST;
    raw.lflag &= ~(linux.ECHO | linux.ECHONL | linux.ICANON | linux.ISIG | linux.IEXTEN);
    raw.cflag &= ~(linux.CSIZE | linux.PARENB);
    raw.cflag |= linux.CS8;
    raw.cc[linux.V.MIN] = 1;
    raw.cc[linux.V.TIME] = 0;
    return sys.errno(linux.ioctl(fd, linux.T.CSETS, @intFromPtr(&raw)));
}

pub fn restore(fd: i32, saved: *const linux.termios) u32 {
    return sys.errno(linux.ioctl(fd, linux.T.CSETS, @intFromPtr(saved)));
}

/// Turns off echo on the console when contain's stdin is not a terminal: piped input is
/// data, and nobody is watching it being typed.
pub fn no_echo(fd: i32) u32 {
    var mode: linux.termios = undefined;
    const e = sys.errno(linux.ioctl(fd, linux.T.CGETS, @intFromPtr(&mode)));
    if (e != 0) return e;
    mode.lflag &= ~linux.ECHO;
    return sys.errno(linux.ioctl(fd, linux.T.CSETS, @intFromPtr(&mode)));
}

/// The terminal whose size the console follows, and the console's master, for the
/// SIGWINCH handler.
var size_from = std.atomic.Atomic(i32).init(-1);
var size_to = std.atomic.Atomic(i32).init(-1);

fn on_resize(_: i32, _: *const linux.siginfo_t, _: ?*const anyopaque) callconv(.C) void {
    // Two ioctls: safe in a handler, on whichever thread takes the signal.
    _ = copy_size(size_from.load(.SeqCst), size_to.load(.SeqCst));
}

/// Copies `from`'s window size to `to` on every SIGWINCH from now on, natively: for a
/// supervisor whose JS thread blocks while the relay runs. Returns an errno.
pub fn follow_size(from: i32, to: i32) u32 {
    size_from.store(from, .SeqCst);
    size_to.store(to, .SeqCst);
    var action = linux.Sigaction{
        .handler = .{ .sigaction = on_resize },
        .mask = linux.empty_sigset,
        .flags = linux.SA.SIGINFO | linux.SA.RESTART,
    };
    return sys.errno(linux.sigaction(linux.SIG.WINCH, &action, null));
}

pub fn copy_size(from: i32, to: i32) u32 {
    var size: linux.winsize = undefined;
    const e = sys.errno(linux.ioctl(from, linux.T.IOCGWINSZ, @intFromPtr(&size)));
    if (e != 0) return e;
    return sys.errno(linux.ioctl(to, linux.T.IOCSWINSZ, @intFromPtr(&size)));
}

const buffer_size = 64 * 1024;

/// Copies `input` to the console and the console to `output` until `pidfd` reports that
/// the holder has exited, then drains what the container wrote. Blocks its thread.
/// When `input` ends, the console's end-of-file character follows, so a reader inside sees
/// EOF. When `output` is gone (EPIPE), the console hangs up as a closed terminal would.
/// Any other errno returned is poll's own, and the caller ends the container over it.
pub fn relay(master: i32, input: i32, output: i32, pidfd: i32) u32 {
    var buffer: [buffer_size]u8 = undefined;
    var fds = [3]linux.pollfd{
        .{ .fd = master, .events = linux.POLL.IN, .revents = 0 },
        .{ .fd = input, .events = linux.POLL.IN, .revents = 0 },
        .{ .fd = pidfd, .events = linux.POLL.IN, .revents = 0 },
    };
    var last_input: u8 = '\n';
    var output_open = true;
    while (true) {
        const rc = linux.poll(&fds, fds.len, -1);
        if (sys.errno(rc) == @intFromEnum(linux.E.INTR)) continue;
        if (sys.errno(rc) != 0) return sys.errno(rc);
        if (fds[0].revents != 0) {
            const n = read_gathered(master, &buffer);
            if (n == 0) fds[0].fd = -1;
            if (n > 0 and output_open and sys.write_all(output, buffer[0..n]) != 0) {
                output_open = false;
                return @intFromEnum(linux.E.PIPE);
            }
        }
        if (fds[1].revents != 0) {
            const n = read_some(input, &buffer);
            if (n > 0) {
                _ = sys.write_all(master, buffer[0..n]);
                last_input = buffer[n - 1];
            } else {
                // A partial line needs one EOF character to flush it and one to end it.
                fds[1].fd = -1;
                if (last_input != '\n') _ = sys.write_all(master, &[_]u8{eof_char(master)});
                _ = sys.write_all(master, &[_]u8{eof_char(master)});
            }
        }
        if (fds[2].revents != 0) break;
    }
    drain(master, output, &buffer);
    return 0;
}

fn eof_char(fd: i32) u8 {
    var mode: linux.termios = undefined;
    if (sys.errno(linux.ioctl(fd, linux.T.CGETS, @intFromPtr(&mode))) != 0) return 4;
    return mode.cc[linux.V.EOF];
}

/// Reads what the pty has, then what arrived meanwhile (FIONREAD says), up to a full
/// buffer: fewer, larger writes downstream for the same data.
fn read_gathered(fd: i32, buffer: []u8) usize {
    var done = read_some(fd, buffer);
    while (done > 0 and done < buffer.len) {
        var waiting: c_int = 0;
        if (sys.errno(linux.ioctl(fd, linux.T.FIONREAD, @intFromPtr(&waiting))) != 0 or waiting <= 0) break;
        const n = read_some(fd, buffer[done..]);
        if (n == 0) break;
        done += n;
    }
    return done;
}

/// Bytes read, or 0 on EOF or error (EIO from a master with no slave open is an end too).
fn read_some(fd: i32, buffer: []u8) usize {
    while (true) {
        const rc = linux.read(fd, buffer.ptr, buffer.len);
        const e = sys.errno(rc);
        if (e == @intFromEnum(linux.E.INTR)) continue;
        if (e != 0) return 0;
        return rc;
    }
}

/// Everything in the container has exited, so what is left in the pty is all there is.
fn drain(master: i32, output: i32, buffer: []u8) void {
    var fds = [1]linux.pollfd{.{ .fd = master, .events = linux.POLL.IN, .revents = 0 }};
    while (true) {
        // Without a timeout poll cannot be interrupted, and one fd on the stack leaves it
        // nothing else to fail on: an error here would only end a drain with nothing left.
        const rc = linux.poll(&fds, 1, 0);
        if (sys.errno(rc) != 0 or rc == 0 or fds[0].revents & linux.POLL.IN == 0) return;
        const n = read_some(master, buffer);
        if (n == 0 or sys.write_all(output, buffer[0..n]) != 0) return;
    }
}
