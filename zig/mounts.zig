//! The container's root filesystem, built by the holder in its new mount namespace.
//!
//! DIR is bound recursively onto itself, which makes it a mount point to pivot into
//! without a temporary directory on the host that a killed holder could leave behind.
//! DIR is never looked up by its path here: the holder enters the fd the supervisor
//! opened and judged before it unshares its mount namespace, which carries the current
//! directory over into the new namespace, and everything is built from there.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const abi = @import("abi.zig");
const binds = @import("binds.zig");
const Go = @import("go.zig").Go;

const Reporter = @import("report.zig").Reporter;
const cwd = linux.AT.FDCWD;

/// Builds the root in a new mount namespace, with DIR (`config.root_fd`) as the current
/// directory. `go`: the binds' trees and sources that came with the go message.
pub fn build_root(config: *const abi.Config, go: *const Go, reporter: Reporter) void {
    reporter.check(.enter_root, linux.fchdir(config.root_fd));
    sys.close(config.root_fd);
    reporter.check(.unshare_mount, linux.unshare(linux.CLONE.NEWNS));
    // Nothing mounted from here on may propagate back to the host.
    reporter.check(.make_private, linux.mount("none", "/", null, linux.MS.REC | linux.MS.PRIVATE, 0));
    if (config.flags & abi.flag_ephemeral != 0) binds.overlay_root(reporter) else binds.bind_root(reporter);

    const mask = linux.syscall1(.umask, 0);
    make_dir(reporter, .create_dev, "dev", 0o755);
    reporter.check(.mount_dev, linux.mount("tmpfs", "dev", "tmpfs", linux.MS.NOSUID, @intFromPtr("mode=0755")));
    make_dir(reporter, .create_pts, "dev/pts", 0o755);
    reporter.check(.mount_pts, linux.mount("devpts", "dev/pts", "devpts", linux.MS.NOSUID | linux.MS.NOEXEC, @intFromPtr("newinstance,ptmxmode=666")));
    make_dir(reporter, .create_shm, "dev/shm", 0o1777);
    reporter.check(.mount_shm, linux.mount("tmpfs", "dev/shm", "tmpfs", linux.MS.NOSUID | linux.MS.NODEV, @intFromPtr("mode=1777")));
    // The old root is parked here by pivot_root and detached by init.
    make_dir(reporter, .create_old_root, "dev/tmp", 0o755);
    _ = linux.syscall1(.umask, mask);

    if (config.console) |console| bind_node(reporter, .bind_console, console, "dev/console");
    bind_node(reporter, .bind_full, "/dev/full", "dev/full");
    bind_node(reporter, .bind_null, "/dev/null", "dev/null");
    bind_node(reporter, .bind_random, "/dev/random", "dev/random");
    bind_node(reporter, .bind_tty, "/dev/tty", "dev/tty");
    bind_node(reporter, .bind_urandom, "/dev/urandom", "dev/urandom");
    bind_node(reporter, .bind_zero, "/dev/zero", "dev/zero");

    const links = [_][2][*:0]const u8{
        .{ "pts/ptmx", "dev/ptmx" },
        .{ "/proc/self/fd", "dev/fd" },
        .{ "/proc/self/fd/0", "dev/stdin" },
        .{ "/proc/self/fd/1", "dev/stdout" },
        .{ "/proc/self/fd/2", "dev/stderr" },
    };
    for (links) |link| reporter.check(.link_dev, linux.symlinkat(link[0], cwd, link[1]));
    if (config.mounts) |list| binds.add_mounts(list[0..config.mount_count], go, reporter);
}

fn make_dir(reporter: Reporter, step: abi.Step, path: [*:0]const u8, mode: u32) void {
    const e = sys.errno(linux.mkdirat(cwd, path, mode));
    if (e != 0 and e != @intFromEnum(linux.E.EXIST)) reporter.fail(step, e);
}

fn bind_node(reporter: Reporter, step: abi.Step, source: [*:0]const u8, target: [*:0]const u8) void {
    const rc = linux.openat(cwd, target, linux.O.WRONLY | linux.O.CREAT | linux.O.CLOEXEC, 0o600);
    reporter.check(.create_node, rc);
    sys.close(sys.value(rc));
    reporter.check(step, linux.mount(source, target, null, linux.MS.BIND, 0));
}

/// proc (and sys) must be mounted while the host's are still visible: the kernel allows a
/// new instance in a user namespace only where a fully visible one exists.
pub fn mount_proc_sys(reporter: Reporter, with_sys: bool) void {
    const mask = linux.syscall1(.umask, 0);
    defer _ = linux.syscall1(.umask, mask);
    const hardened = linux.MS.NOSUID | linux.MS.NODEV | linux.MS.NOEXEC;
    make_dir(reporter, .create_proc, "proc", 0o755);
    reporter.check(.mount_proc, linux.mount("proc", "proc", "proc", hardened, 0));
    if (!with_sys) return;
    make_dir(reporter, .create_sys, "sys", 0o755);
    reporter.check(.mount_sys, linux.mount("sysfs", "sys", "sysfs", hardened, 0));
    // cgroup2 is a bonus: hosts without it still run containers.
    _ = linux.mount("cgroup2", "sys/fs/cgroup", "cgroup2", hardened, 0);
}

pub fn enter_root(reporter: Reporter) void {
    reporter.check(.pivot_root, linux.syscall2(.pivot_root, @intFromPtr("."), @intFromPtr("dev/tmp")));
    reporter.check(.enter_new_root, linux.chdir("/"));
    reporter.check(.detach_root, linux.umount2("/dev/tmp", linux.MNT.DETACH));
    // What could stop this (the directory busy or gone) would leave at most an empty
    // directory in the container's own /dev tmpfs: not worth failing the start over.
    _ = linux.unlinkat(cwd, "/dev/tmp", linux.AT.REMOVEDIR);
}

/// Makes /dev/console the controlling terminal and stdio of a new session.
pub fn take_console(reporter: Reporter) void {
    reporter.check(.new_session, linux.syscall0(.setsid));
    const rc = linux.openat(cwd, "/dev/console", linux.O.RDWR, 0);
    reporter.check(.open_console, rc);
    const console = sys.value(rc);
    reporter.check(.take_console, linux.ioctl(console, linux.T.IOCSCTTY, 0));
    // Flags the console is better with, not ones CMD needs: a pty answers both requests,
    // and if it did not, CMD would still have a working terminal.
    var termios: linux.termios = undefined;
    if (sys.errno(linux.ioctl(console, linux.T.CGETS, @intFromPtr(&termios))) == 0) {
        termios.iflag |= linux.IGNBRK | linux.IUTF8;
        _ = linux.ioctl(console, linux.T.CSETS, @intFromPtr(&termios));
    }
    for (0..3) |fd| reporter.check(.stdio, linux.dup3(console, @intCast(fd), 0));
    if (console > 2) sys.close(console);
}
