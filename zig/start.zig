//! What every child role shares: the arguments spawn passes them (Start), children that
//! die with their parent (start_watched), entering the user namespace the supervisor maps,
//! and leaving the host's session before CMD runs.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const abi = @import("abi.zig");
const clone = @import("clone.zig");
const session = @import("session.zig");
const go_message = @import("go.zig");
const Reporter = @import("report.zig").Reporter;

pub const Start = struct {
    config: *const abi.Config,
    parent: i32,
    report: sys.fd_t,
    go: sys.fd_t,
    region: u32,
    /// A plain fork: the user namespace is unshared here rather than made by clone.
    owns_memory: bool = false,
    /// contain: the container's cgroup.procs, for a holder that was not born in its cgroup
    /// (a fork, or a kernel without clone3), to move itself there; else -1.
    cgroup_procs: sys.fd_t = -1,
};

/// Tells the parent that the user namespace exists and waits while it writes the ID maps.
/// Keeps the binds' fds that came with the go message in `go`.
pub fn enter_user_namespace(args: *const Start, reporter: Reporter, go: *go_message.Go) void {
    if (args.owns_memory) reporter.check(.unshare_user, linux.unshare(linux.CLONE.NEWUSER));
    reporter.send(.ready, 0);
    // EOF instead of the go message: the parent gave up (its message is its own).
    if (!go_message.receive(args.go, go)) sys.exit(125);
    // A private network needs the channel once more (holder.zig, connect_network).
    if (args.config.flags & abi.flag_private_network == 0) sys.close(args.go);
    become_root(reporter, args.parent);
}

/// A change of credentials clears the parent-death signal, so it is set again after.
pub fn become_root(reporter: Reporter, parent: i32) void {
    const e = sys.become_root();
    if (e != 0) reporter.fail(.become_root, e);
    sys.set_pdeathsig();
    if (sys.value(linux.syscall0(.getppid)) != parent) sys.exit(125);
}

/// Drops what CMD would otherwise share with the session that started contain or inject:
/// its keyring, and the power to type into a terminal it shares with the host.
pub fn leave_host_session(reporter: Reporter) void {
    reporter.check_errno(.leave_keyring, session.leave_keyring());
    reporter.check_errno(.deny_terminal_injection, session.deny_terminal_injection());
}

/// Starts `entry(&args)` in a child sharing this memory, on stack `which` of the region,
/// that dies with this process. The child may be in a new PID namespace where getppid()
/// is 0, so it checks that its parent is alive through a pipe whose only writer is the
/// parent. Returns the child's pid.
pub fn start_watched(comptime Args: type, comptime entry: fn (*const Args) noreturn, region: u32, which: u32, reporter: Reporter, args: Args) i32 {
    const Watched = struct {
        inner: Args,
        lifeline: [2]i32,

        fn run(watched: *const @This()) noreturn {
            sys.close(watched.lifeline[1]);
            sys.set_pdeathsig();
            var poll_fd = [1]linux.pollfd{.{ .fd = watched.lifeline[0], .events = linux.POLL.IN, .revents = 0 }};
            // One fd on the stack and no timeout: no EFAULT, EINVAL, ENOMEM (the kernel
            // copies a few fds onto its own stack) or EINTR (it never sleeps) to miss.
            _ = linux.poll(&poll_fd, 1, 0);
            if (poll_fd[0].revents != 0) sys.exit(125);
            sys.close(watched.lifeline[0]);
            entry(&watched.inner);
        }
    };
    var lifeline: [2]i32 = undefined;
    reporter.check(.pipe, linux.pipe2(&lifeline, linux.O.CLOEXEC));
    const watched = Watched{ .inner = args, .lifeline = lifeline };
    const rc = clone.start(Watched, Watched.run, clone.stack(region, which), 0, null, watched);
    reporter.check(.fork, rc);
    sys.close(lifeline[0]);
    // lifeline[1] stays open (close-on-exec) for as long as this process lives.
    return sys.value(rc);
}
