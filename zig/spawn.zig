//! The processes forked from Bun: pseudo's child, contain's holder and init, inject's joiner.
//!
//! pseudo's child and contain's holder, init and helpers are clone(CLONE_VM) children that
//! share Bun's memory (clone.zig says why and what that forbids); inject's joiner must own
//! its memory to join a user namespace, so it is a plain fork. All of them use raw system
//! calls only and leave by exec or exit_group. A failure travels to the parent as a
//! report record (abi.Report: step, errno, object) on a close-on-exec pipe; EOF on that
//! pipe means CMD was executed.
//!
//! This file starts the first child and sends it to its role: pseudo's child (here),
//! contain's holder (holder.zig) or inject's joiner (joiner.zig).
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const exec = @import("exec.zig");
const clone = @import("clone.zig");
const forward = @import("forward.zig");
const Go = @import("go.zig").Go;
const abi = @import("abi.zig");
const start = @import("start.zig");
const holder = @import("holder.zig");
const joiner = @import("joiner.zig");

const Config = abi.Config;
const Result = abi.Result;
const Mode = abi.Mode;
const Reporter = @import("report.zig").Reporter;
const Start = start.Start;
const failure = @import("report.zig").failure;

/// Starts the first child. Runs on the calling (main JS) thread, so PDEATHSIG follows it.
/// Returns 0, or failure(step, errno).
pub fn spawn(config: *const Config, result: *Result) u32 {
    const region = clone.region_alloc() orelse return failure(.allocate_stacks, @intFromEnum(linux.E.AGAIN));
    var report: [2]i32 = .{ -1, -1 };
    var go: [2]i32 = .{ -1, -1 };
    var e = sys.errno(linux.pipe2(&report, linux.O.CLOEXEC));
    // A socket, not a pipe: the go message may carry ID-mapped mounts (go.zig).
    if (e == 0) e = sys.errno(linux.socketpair(linux.AF.UNIX, linux.SOCK.STREAM | linux.SOCK.CLOEXEC, 0, &go));
    if (e != 0) {
        for ([_]i32{ report[0], report[1], go[0], go[1] }) |fd| sys.close(fd);
        clone.region_free(region);
        return failure(.pipe, e);
    }

    var args = Start{ .config = config, .parent = linux.getpid(), .report = report[1], .go = go[0], .region = region };
    // A holder that is not born in the container's cgroup moves itself there.
    if (config.cgroup >= 0 and config.outside != null) args.cgroup_procs = open_procs(config.cgroup);
    var old_mask: u64 = 0;
    // Block everything so no Bun handler runs in the child before its dispositions reset.
    sys.sigmask(sys.sigset_all, &old_mask);
    var pidfd: i32 = -1;
    // inject's joiner must own its memory to join a user namespace, and so must contain's
    // holder when it forks the -o helper before its own user namespace exists.
    const own_memory = config.mode == @intFromEnum(Mode.inject) or config.outside != null;
    const rc = if (own_memory)
        fork_own(&args, &pidfd)
    else
        clone_first(config, &args, region, &pidfd);
    sys.sigmask(old_mask, null);

    sys.close(report[1]);
    sys.close(go[0]);
    sys.close(args.cgroup_procs);
    e = sys.errno(rc);
    if (e != 0) {
        sys.close(report[0]);
        sys.close(go[1]);
        clone.region_free(region);
        return failure(.fork, e);
    }
    // The forwarding handler cannot fail to know its child: it learns of it here.
    e = forward.adopt(pidfd);
    if (e != 0) {
        _ = linux.syscall4(.pidfd_send_signal, @intCast(pidfd), linux.SIG.KILL, 0, 0);
        _ = sys.wait_status(.PID, sys.value(rc));
        for ([_]i32{ report[0], go[1], pidfd }) |fd| sys.close(fd);
        clone.region_free(region);
        return failure(.forward_signals, e);
    }
    result.* = .{ .pid = sys.value(rc), .pidfd = pidfd, .report_fd = report[0], .go_fd = go[1], .region = @intCast(region) };
    return 0;
}

/// The first child, sharing this memory: contain's holder is born in the container's
/// cgroup where the kernel has clone3 (Linux 5.7), else it moves itself there.
fn clone_first(config: *const Config, args: *Start, region: u32, pidfd: *i32) usize {
    const flags = linux.CLONE.PIDFD | linux.CLONE.NEWUSER;
    if (config.cgroup >= 0) {
        const rc = clone.start_in_cgroup(Start, child, clone.stack(region, 0), linux.CLONE.NEWUSER, pidfd, config.cgroup, args.*);
        // ENOSYS before Linux 5.3, E2BIG before 5.7 (no cgroup field yet).
        const e = sys.errno(rc);
        if (e != @intFromEnum(linux.E.NOSYS) and e != @intFromEnum(linux.E.@"2BIG")) return rc;
        args.cgroup_procs = open_procs(config.cgroup);
    }
    return clone.start(Start, child, clone.stack(region, 0), flags, pidfd, args.*);
}

/// The container's cgroup.procs, opened here, by the supervisor, for the holder to write.
fn open_procs(cgroup: i32) i32 {
    const rc = linux.openat(cgroup, "cgroup.procs", linux.O.WRONLY | linux.O.CLOEXEC, 0);
    return if (sys.errno(rc) == 0) sys.value(rc) else -1;
}

fn fork_own(args: *const Start, pidfd: *i32) usize {
    const rc = sys.fork(pidfd);
    if (rc == 0) {
        var own = args.*;
        own.owns_memory = true;
        child(&own);
    }
    return rc;
}

fn child(args: *const Start) noreturn {
    const config = args.config;
    const reporter = Reporter{ .fd = args.report };
    sys.signals_reset();
    sys.restore_nofile(config.nofile);
    sys.set_pdeathsig();
    if (sys.value(linux.syscall0(.getppid)) != args.parent) sys.exit(125);
    reporter.check_errno(.stdio, sys.move_to_stdio(config.stdio));
    // pseudo enters its cwd as CMD's credentials allow (pseudo below); contain's is inside
    // the container, where init enters it after the pivot; inject has none.
    // inject's joiner keeps the pidfd of the init whose namespaces it joins, and contain's
    // holder the fd of DIR.
    const pidfd = if (config.mode == @intFromEnum(Mode.inject)) config.target_pidfd else -1;
    const root_fd = if (config.mode == @intFromEnum(Mode.contain)) config.root_fd else -1;
    var keep = [6]i32{ args.report, args.go, pidfd, root_fd, args.cgroup_procs, config.cgroup_leave };
    std.sort.insertion(i32, &keep, {}, std.sort.asc(i32));
    reporter.check_errno(.close_fds, sys.close_others(&keep));

    switch (@as(Mode, @enumFromInt(config.mode))) {
        .pseudo => pseudo(args, reporter),
        .contain => holder.holder(args, reporter),
        .inject => joiner.joiner(args, reporter),
    }
}

fn pseudo(args: *const Start, reporter: Reporter) noreturn {
    // Opened with the caller's credentials, entered with CMD's: container root may enter
    // a 0700 directory of its own (where roots are kept) that the caller's credentials,
    // in a user namespace without maps yet, may not.
    const cwd = if (args.config.cwd) |path| sys.open_path_directory(path) else -1;
    var none = Go{};
    start.enter_user_namespace(args, reporter, &none);
    if (args.config.cwd) |path| {
        if (cwd < 0 or sys.errno(linux.fchdir(cwd)) != 0) reporter.check(.change_directory, linux.chdir(path));
        if (cwd >= 0) sys.close(cwd);
    }
    sys.sigmask(0, null);
    const e = exec.exec(args.config.argv, args.config.envp);
    reporter.send(.exec, e);
    sys.exit(exec.exec_status(e));
}
