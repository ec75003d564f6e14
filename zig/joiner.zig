//! inject's processes: the joiner, a plain fork that enters every namespace of the
//! container's init, and CMD, which it starts in that PID namespace.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const exec = @import("exec.zig");
const abi = @import("abi.zig");
const start = @import("start.zig");
const supervise = @import("supervise.zig");
const Reporter = @import("report.zig").Reporter;
const Start = start.Start;

/// inject's joiner: enters every namespace of the container's init, then starts CMD in
/// its PID namespace and passes signals on to it.
pub fn joiner(args: *const Start, reporter: Reporter) noreturn {
    const config = args.config;
    // This process carries Bun's image into the container's namespaces, and so does CMD
    // until it execs (it shares this memory): keep both out of reach of /proc/PID/exe,
    // map_files and ptrace (CVE-2019-5736). This memory is a copy, so the flag is ours.
    sys.set_dumpable(false);
    // The caller's supplementary groups (root's 0, adm, shadow...) would go into the
    // container with CMD: shown there as 65534, but still opening the host's files to it.
    // nsenter drops them too. Only root may (EPERM otherwise), and a user's groups give
    // CMD no more than the user has.
    _ = linux.syscall2(.setgroups, 0, 0);
    // All eight namespaces from one pidfd, which the supervisor opened and checked: they
    // are that one process's, whatever becomes of its PID meanwhile (Linux 5.8).
    reporter.check(.join_namespaces, linux.syscall2(.setns, @intCast(config.target_pidfd), namespaces_to_join(config.target_pidfd)));
    sys.close(config.target_pidfd);
    start.become_root(reporter, args.parent);
    supervise.end_with_parent(args.parent, 0, .{});
    reporter.check(.enter_container_root, linux.chdir("/"));
    supervise.end_if_asked(.{});
    const pid = start.start_watched(Start, run_command, args.region, 1, reporter, args.*);
    sys.close(reporter.fd);
    supervise.supervise(pid, args.parent, .{}, .{});
}

/// The namespaces of the process behind `pidfd` to join: all eight, less those this
/// process is in already. A container started with -n shares the host's network
/// namespace, which belongs to the host's user namespace: joining it along with the
/// container's user namespace would need privileges over the host (EPERM), and it is
/// ours anyway. Which ones those are is read from /proc by the PID the pidfd names; were
/// that PID another process's by now, the pidfd's own process is gone and setns fails.
fn namespaces_to_join(pidfd: i32) usize {
    const kinds = [_]struct { name: []const u8, flag: usize }{
        .{ .name = "user", .flag = linux.CLONE.NEWUSER }, .{ .name = "cgroup", .flag = linux.CLONE.NEWCGROUP },
        .{ .name = "ipc", .flag = linux.CLONE.NEWIPC },   .{ .name = "net", .flag = linux.CLONE.NEWNET },
        .{ .name = "pid", .flag = linux.CLONE.NEWPID },   .{ .name = "time", .flag = linux.CLONE.NEWTIME },
        .{ .name = "uts", .flag = linux.CLONE.NEWUTS },   .{ .name = "mnt", .flag = linux.CLONE.NEWNS },
    };
    const target = sys.pidfd_pid(pidfd);
    var flags: usize = 0;
    for (kinds) |kind| {
        if (target > 0 and sys.same_namespace(target, kind.name)) continue;
        flags |= kind.flag;
    }
    return flags;
}

fn run_command(args: *const Start) noreturn {
    const reporter = Reporter{ .fd = args.report };
    start.leave_host_session(reporter);
    sys.sigmask(0, null);
    var e = exec.exec(args.config.argv, args.config.envp);
    // The caller's $SHELL (/bin/bash) may be missing from the container (busybox).
    if (e == @intFromEnum(linux.E.NOENT) and args.config.flags & abi.flag_default_shell != 0) {
        const shell = [_:null]?[*:0]const u8{"/bin/sh"};
        e = exec.exec(&shell, args.config.envp);
    }
    reporter.send(.exec, e);
    sys.exit(exec.exec_status(e));
}
