//! The processes forked from Bun: pseudo's child, contain's holder and init, inject's joiner.
//!
//! pseudo's child and contain's holder, init and helpers are clone(CLONE_VM) children that
//! share Bun's memory (clone.zig says why and what that forbids); inject's joiner must own
//! its memory to join a user namespace, so it is a plain fork. All of them use raw system
//! calls only and leave by exec or exit_group. A failure travels to the parent as a
//! (step, errno) record on a close-on-exec pipe; EOF on that pipe means CMD was executed.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const exec = @import("exec.zig");
const mounts = @import("mounts.zig");
const clone = @import("clone.zig");
const session = @import("session.zig");
const forward = @import("forward.zig");
const binds = @import("binds.zig");

pub const Mode = enum(u32) { pseudo = 1, contain = 2, inject = 3 };

pub const flag_console: u32 = 1;
pub const flag_host_network: u32 = 2;
/// contain: DIR is the read-only lower layer of a throwaway overlay (binds.zig).
pub const flag_ephemeral: u32 = 4;

/// Shared with src/native.ts, which checks its size against config_size().
pub const Config = extern struct {
    mode: u32,
    flags: u32,
    /// inject: the container's init, whose namespaces are joined.
    target_pidfd: i32,
    /// fds that become the child's 0, 1 and 2; -1 keeps the parent's.
    stdio: [3]i32,
    argv: exec.Argv,
    envp: exec.Argv,
    /// contain: the root directory, the console pty path, the -i and -o helpers.
    root: ?[*:0]const u8,
    console: ?[*:0]const u8,
    inside: ?[*:0]const u8,
    outside: ?[*:0]const u8,
    /// pseudo: the directory CMD starts in (null: the caller's). contain: CMD's working
    /// directory inside the container (null: /).
    cwd: ?[*:0]const u8,
    /// contain: CMD's environment (envp is the helpers').
    init_envp: exec.Argv,
    /// contain: binds and tmpfs mounts made under the new root (binds.zig).
    mounts: ?[*]const binds.Mount,
    mount_count: u32,
};

pub const Result = extern struct {
    pid: i32,
    pidfd: i32,
    report_fd: i32,
    go_fd: i32,
    /// The stacks of the children; free with release_region once the first child is reaped.
    region: i32,
};

/// Steps named in a report. Values are part of the ABI (src/native.ts has the same list).
pub const Step = enum(u32) {
    ready = 1,
    stdio = 2,
    unshare_user = 3,
    become_root = 4,
    unshare_cgroup = 5,
    unshare_ipc = 6,
    unshare_network = 7,
    unshare_mount = 8,
    unshare_time = 9,
    unshare_uts = 10,
    unshare_pid = 11,
    fork = 12,
    helper_outside = 13,
    helper_inside = 14,
    make_private = 15,
    bind_root = 16,
    enter_root = 17,
    create_dev = 18,
    mount_dev = 19,
    mount_pts = 20,
    mount_shm = 21,
    bind_console = 22,
    bind_full = 23,
    bind_null = 24,
    bind_random = 25,
    bind_tty = 26,
    bind_urandom = 27,
    bind_zero = 28,
    mount_proc = 29,
    mount_sys = 30,
    pivot_root = 31,
    detach_root = 32,
    open_console = 33,
    open_namespace = 34,
    join_user = 35,
    join_cgroup = 36,
    join_ipc = 37,
    join_network = 38,
    join_pid = 39,
    join_time = 40,
    join_uts = 41,
    join_mount = 42,
    enter_container_root = 43,
    exec = 44,
    parent_died = 45,
    change_directory = 46,
    create_pts = 47,
    create_shm = 48,
    create_old_root = 49,
    link_dev = 50,
    create_node = 51,
    create_proc = 52,
    create_sys = 53,
    enter_new_root = 54,
    pipe = 55,
    allocate_stacks = 56,
    close_fds = 57,
    new_session = 58,
    take_console = 59,
    leave_keyring = 60,
    deny_terminal_injection = 61,
    forward_signals = 62,
    open_task_dir = 63,
    join_namespaces = 64,
    // 70-89: the root's additions (binds.zig) and CMD's working directory.
    mount_overlay_tmpfs = 70,
    mount_overlay = 71,
    /// Not a failure: the index of the mount whose failure the next record reports.
    mount_index = 72,
    resolve_mount_target = 73,
    create_mount_target = 74,
    bind_source = 75,
    bind_readonly = 76,
    mount_tmpfs = 77,
    attach_mount = 78,
    enter_working_directory = 79,
};

/// What spawn_child returns on failure: the step in the high half, the errno in the low.
pub fn failure(step: Step, e: u32) u32 {
    std.debug.assert(e != 0 and e < 0x10000);
    return @intFromEnum(step) << 16 | e;
}

const Record = extern struct { step: u32, value: u32 };

/// The child's end of the report pipe.
pub const Reporter = struct {
    fd: sys.fd_t,

    pub fn send(self: Reporter, step: Step, value: u32) void {
        const record = Record{ .step = @intFromEnum(step), .value = value };
        _ = sys.write_all(self.fd, std.mem.asBytes(&record));
    }

    /// Reports a failed step and exits with the status of an own failure.
    pub fn fail(self: Reporter, step: Step, e: u32) noreturn {
        self.send(step, e);
        sys.exit(125);
    }

    /// Fails `step` if the raw system call result `rc` is an error.
    pub fn check(self: Reporter, step: Step, rc: usize) void {
        self.check_errno(step, sys.errno(rc));
    }

    /// Fails `step` if `e` is an errno rather than 0.
    pub fn check_errno(self: Reporter, step: Step, e: u32) void {
        if (e != 0) self.fail(step, e);
    }
};

/// Starts the first child. Runs on the calling (main JS) thread, so PDEATHSIG follows it.
/// Returns 0, or failure(step, errno).
pub fn spawn(config: *const Config, result: *Result) u32 {
    const region = clone.region_alloc() orelse return failure(.allocate_stacks, @intFromEnum(linux.E.AGAIN));
    var report: [2]i32 = .{ -1, -1 };
    var go: [2]i32 = .{ -1, -1 };
    var e = sys.errno(linux.pipe2(&report, linux.O.CLOEXEC));
    // A socket, not a pipe: the go message may carry ID-mapped mounts (binds.zig).
    if (e == 0) e = sys.errno(linux.socketpair(linux.AF.UNIX, linux.SOCK.STREAM | linux.SOCK.CLOEXEC, 0, &go));
    if (e != 0) {
        for ([_]i32{ report[0], report[1], go[0], go[1] }) |fd| sys.close(fd);
        clone.region_free(region);
        return failure(.pipe, e);
    }

    const args = Start{ .config = config, .parent = linux.getpid(), .report = report[1], .go = go[0], .region = region };
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
        clone.start(Start, child, clone.stack(region, 0), linux.CLONE.PIDFD | linux.CLONE.NEWUSER, &pidfd, args);
    sys.sigmask(old_mask, null);

    sys.close(report[1]);
    sys.close(go[0]);
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
        _ = sys.wait_status(sys.value(rc));
        for ([_]i32{ report[0], go[1], pidfd }) |fd| sys.close(fd);
        clone.region_free(region);
        return failure(.forward_signals, e);
    }
    result.* = .{ .pid = sys.value(rc), .pidfd = pidfd, .report_fd = report[0], .go_fd = go[1], .region = @intCast(region) };
    return 0;
}

const Start = struct {
    config: *const Config,
    parent: i32,
    report: sys.fd_t,
    go: sys.fd_t,
    region: u32,
    /// A plain fork: the user namespace is unshared here rather than made by clone.
    owns_memory: bool = false,
};

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
    sys.set_pdeathsig();
    if (sys.value(linux.syscall0(.getppid)) != args.parent) sys.exit(125);
    setup_stdio(config, reporter);
    // contain's cwd is inside the container: init enters it after the pivot.
    if (config.mode != @intFromEnum(Mode.contain)) {
        if (config.cwd) |cwd| reporter.check(.change_directory, linux.chdir(cwd));
    }
    // inject's joiner keeps the pidfd of the init whose namespaces it joins.
    const pidfd = if (config.mode == @intFromEnum(Mode.inject)) config.target_pidfd else -1;
    var keep = [3]i32{ args.report, args.go, pidfd };
    std.sort.insertion(i32, &keep, {}, std.sort.asc(i32));
    reporter.check_errno(.close_fds, sys.close_others(&keep));

    switch (@as(Mode, @enumFromInt(config.mode))) {
        .pseudo => pseudo(args, reporter),
        .contain => holder(args, reporter),
        .inject => joiner(args, reporter),
    }
}

fn setup_stdio(config: *const Config, reporter: Reporter) void {
    // Copy every source above 2 first, so that moving one cannot clobber another.
    var copies = [3]i32{ -1, -1, -1 };
    for (config.stdio, 0..) |fd, index| {
        if (fd < 0 or fd == index) continue;
        const rc = linux.fcntl(fd, sys.F_DUPFD_CLOEXEC, 3);
        reporter.check(.stdio, rc);
        copies[index] = sys.value(rc);
    }
    for (copies, 0..) |fd, index| {
        if (fd < 0) continue;
        reporter.check(.stdio, linux.dup3(fd, @intCast(index), 0));
        sys.close(fd);
    }
}

/// Tells the parent that the user namespace exists and waits while it writes the ID maps.
/// Returns how many ID-mapped mounts came with the go message into `idmapped`.
fn enter_user_namespace(args: *const Start, reporter: Reporter, idmapped: *[binds.max_idmapped]i32) usize {
    if (args.owns_memory) reporter.check(.unshare_user, linux.unshare(linux.CLONE.NEWUSER));
    reporter.send(.ready, 0);
    // EOF instead of the go byte: the parent gave up (its message is its own).
    const count = binds.receive_go(args.go, idmapped) orelse sys.exit(125);
    sys.close(args.go);
    become_root(reporter, args.parent);
    return count;
}

/// A change of credentials clears the parent-death signal, so it is set again after.
fn become_root(reporter: Reporter, parent: i32) void {
    const e = sys.become_root();
    if (e != 0) reporter.fail(.become_root, e);
    sys.set_pdeathsig();
    if (sys.value(linux.syscall0(.getppid)) != parent) sys.exit(125);
}

fn pseudo(args: *const Start, reporter: Reporter) noreturn {
    var none: [binds.max_idmapped]i32 = undefined;
    _ = enter_user_namespace(args, reporter, &none);
    sys.sigmask(0, null);
    const e = exec.exec(args.config.argv, args.config.envp);
    reporter.send(.exec, e);
    sys.exit(exec.exec_status(e));
}

/// contain's holder: a child of the supervisor that owns the new namespaces, builds the
/// root, starts init in the new PID namespace and passes signals on to it.
fn holder(args: *const Start, reporter: Reporter) noreturn {
    const config = args.config;
    // What the helpers leave running (their background children) reparents here rather
    // than to the host's init, so that it ends with the container (see `end`).
    _ = linux.prctl(@intFromEnum(linux.PR.SET_CHILD_SUBREAPER), 1, 0, 0, 0);
    // Opened while /proc is the host's: init's pivot_root moves this process's root too.
    const task_dir = sys.open_task_dir();
    reporter.check(.open_task_dir, @bitCast(@as(isize, task_dir)));
    var others = Others{ .task_dir = task_dir };
    // The -o helper starts before the user namespace so that it stays in the host's.
    var outside = Helper{};
    if (config.outside) |command| {
        others.keeper = start_keeper(reporter);
        outside = Helper.start_outside(args, command, reporter);
    }

    var idmapped: [binds.max_idmapped]i32 = undefined;
    const idmapped_count = enter_user_namespace(args, reporter, &idmapped);
    end_with_parent(args.parent, 0, others);
    reporter.check(.unshare_cgroup, linux.unshare(linux.CLONE.NEWCGROUP));
    reporter.check(.unshare_ipc, linux.unshare(linux.CLONE.NEWIPC));
    if (config.flags & flag_host_network == 0) {
        reporter.check(.unshare_network, linux.unshare(linux.CLONE.NEWNET));
    }
    reporter.check(.unshare_mount, linux.unshare(linux.CLONE.NEWNS));
    reporter.check(.unshare_time, linux.unshare(linux.CLONE.NEWTIME));
    reporter.check(.unshare_uts, linux.unshare(linux.CLONE.NEWUTS));
    // The -o helper may look at /proc/$PPID/ns as the user; after it, nothing in the
    // container may read this image. A holder that shares Bun's memory must leave the
    // flag alone: it belongs to the memory, and Bun's /proc files would turn root's.
    if (outside.pid > 0) outside.finish(reporter, .helper_outside, others);
    if (args.owns_memory) sys.set_dumpable(false);

    mounts.build_root(config, idmapped[0..idmapped_count], reporter);
    if (config.inside) |command| {
        var inside = Helper.start_inside(args, command, reporter);
        inside.finish(reporter, .helper_inside, others);
    }

    reporter.check(.unshare_pid, linux.unshare(linux.CLONE.NEWPID));
    end_if_asked(others);
    const init_pid = start_watched(Start, init, args.region, 1, reporter, args.*);
    sys.close(reporter.fd);
    supervise(init_pid, args.parent, others);
}

/// The container's PID 1: mounts proc and sys, pivots, takes the console and execs CMD.
fn init(args: *const Start) noreturn {
    const config = args.config;
    const reporter = Reporter{ .fd = args.report };
    const host_network = config.flags & flag_host_network != 0;
    mounts.mount_proc_sys(reporter, !host_network);
    mounts.enter_root(reporter);
    if (config.cwd) |cwd| reporter.check(.enter_working_directory, linux.chdir(cwd));
    if (config.flags & flag_console != 0) mounts.take_console(reporter);
    leave_host_session(reporter);
    // Only 0, 1 and 2 reach CMD; the report pipe closes itself on exec.
    reporter.check_errno(.close_fds, sys.cloexec_above_stdio());
    sys.sigmask(0, null);
    const e = exec.exec(config.argv, config.init_envp);
    reporter.send(.exec, e);
    sys.exit(exec.exec_status(e));
}

/// Drops what CMD would otherwise share with the session that started contain or inject:
/// its keyring, and the power to type into a terminal it shares with the host.
fn leave_host_session(reporter: Reporter) void {
    reporter.check_errno(.leave_keyring, session.leave_keyring());
    reporter.check_errno(.deny_terminal_injection, session.deny_terminal_injection());
}

/// inject's joiner: enters every namespace of the container's init, then starts CMD in
/// its PID namespace and passes signals on to it.
fn joiner(args: *const Start, reporter: Reporter) noreturn {
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
    become_root(reporter, args.parent);
    end_with_parent(args.parent, 0, .{});
    reporter.check(.enter_container_root, linux.chdir("/"));
    end_if_asked(.{});
    const pid = start_watched(Start, run_command, args.region, 1, reporter, args.*);
    sys.close(reporter.fd);
    supervise(pid, args.parent, .{});
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
    leave_host_session(reporter);
    sys.sigmask(0, null);
    const e = exec.exec(args.config.argv, args.config.envp);
    reporter.send(.exec, e);
    sys.exit(exec.exec_status(e));
}

/// Starts `entry(&args)` in a child sharing this memory, on stack `which` of the region,
/// that dies with this process. The child may be in a new PID namespace where getppid()
/// is 0, so it checks that its parent is alive through a pipe whose only writer is the
/// parent. Returns the child's pid.
fn start_watched(comptime Args: type, comptime entry: fn (*const Args) noreturn, region: u32, which: u32, reporter: Reporter, args: Args) i32 {
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

const SI_KERNEL = 0x80;

/// "End everything": what the kernel sends the holder and the joiner when the supervisor
/// dies, instead of SIGKILL. Unlike SIGKILL it can be waited for, so that they can take
/// down what they started (end). CMD's own PR_SET_PDEATHSIG is no such guarantee: the
/// kernel clears it whenever CMD changes its credentials (su, setpriv), and helpers'
/// children never had one. Neither process changes its credentials again once it has set
/// this. SIGRTMIN: no libc here reserves it.
const SIG_END = 34;

/// Takes SIG_END as the parent-death signal, and ends at once if the parent is gone.
fn end_with_parent(parent: i32, pid: i32, others: Others) void {
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
fn end_if_asked(others: Others) void {
    var pending: u64 = 0;
    _ = linux.syscall2(.rt_sigpending, @intFromPtr(&pending), 8);
    const asked = pending & set_abort;
    if (asked == 0) return;
    end(0, others, aborted_status(@ctz(asked) + 1));
}

/// Waits for the helper `pid`, or ends everything on a signal that aborts the start.
/// Returns the helper's status.
fn wait_or_end(pid: i32, others: Others) u8 {
    const set = sys.bit(linux.SIG.CHLD) | set_abort;
    while (true) {
        var status: linux.siginfo_t = undefined;
        status.fields.common.first.piduid.pid = 0;
        const rc = linux.waitid(.PID, pid, &status, linux.W.EXITED | linux.W.NOHANG);
        if (sys.errno(rc) != 0) return 125;
        if (status.fields.common.first.piduid.pid == pid) return sys.shell_status(&status);
        var info: linux.siginfo_t = undefined;
        const signal = linux.syscall4(.rt_sigtimedwait, @intFromPtr(&set), @intFromPtr(&info), 0, 8);
        if (sys.errno(signal) == 0 and signal != linux.SIG.CHLD) end(pid, others, aborted_status(@intCast(signal)));
    }
}

/// Waits for `pid` with the forwarded signals blocked, passing each one on, and exits with
/// its status once it has ended what else it started (`others`). On SIG_END (the
/// supervisor died, or aborted), SIGKILLs `pid` (for contain's init, that ends its whole
/// PID namespace) and the rest. Runs in a single-threaded process, so
/// sigwaitinfo sees every signal.
fn supervise(pid: i32, parent: i32, others: Others) noreturn {
    const set = sys.sigset_forward | sys.bit(linux.SIG.CHLD) | sys.bit(SIG_END);
    sys.sigmask(set, null);
    end_with_parent(parent, pid, others);
    while (true) {
        var info: linux.siginfo_t = undefined;
        const rc = linux.syscall4(.rt_sigtimedwait, @intFromPtr(&set), @intFromPtr(&info), 0, 8);
        if (sys.errno(rc) != 0) continue;
        const signal: u32 = @intCast(rc);
        if (signal == SIG_END) end(pid, others, 125);
        if (signal != linux.SIG.CHLD) {
            // This process shares the supervisor's process group, so the terminal's
            // signals (SI_KERNEL) reach it directly: CMD got its own copy where it shares
            // the group too, and the supervisor passes them on where it does not.
            if (info.code != SI_KERNEL) _ = linux.kill(pid, @intCast(signal));
            continue;
        }
        // Reap every child that has exited (orphans included), noting `pid`'s status.
        while (true) {
            var status: linux.siginfo_t = undefined;
            status.fields.common.first.piduid.pid = 0;
            const wrc = linux.waitid(.ALL, 0, &status, linux.W.EXITED | linux.W.NOHANG);
            const reaped = status.fields.common.first.piduid.pid;
            if (sys.errno(wrc) != 0 or reaped == 0) break;
            if (reaped == pid) end(pid, others, sys.wait_code(&status));
        }
    }
}

/// What else a supervising process started: the orphans of contain's helpers, which
/// reparent to the holder and are listed through its /proc task directory, and the
/// keeper that kills those the holder may not.
const Others = struct { task_dir: sys.fd_t = -1, keeper: Keeper = .{} };

/// Kills `pid` and every other child of this process, until none is left (a dying
/// child's orphans reparent here first), then exits with `status` or, when it carries
/// 0x100 (sys.wait_code), dies of the signal that killed `pid`, so that the supervisor
/// can die of it in turn.
fn end(pid: i32, others: Others, status: u16) noreturn {
    // A keeper that is gone must fail the write (EPIPE), not kill this process.
    sys.sigmask(sys.sigset_all, null);
    // Never 0 or -1 here: kill() would take those as a process group or everything.
    if (pid > 0) _ = linux.kill(pid, linux.SIG.KILL);
    if (others.task_dir >= 0) {
        var rounds: u32 = 0;
        const keeper = others.keeper;
        while (rounds < 64 and sys.kill_children(others.task_dir, keeper.requests, keeper.pid) > 0) : (rounds += 1) {}
    }
    if (status & 0x100 != 0) sys.die_of((status & 0xff) - 128);
    sys.exit(@truncate(status));
}

/// A `/bin/sh -c COMMAND` helper of contain's holder.
const Helper = struct {
    pid: i32 = 0,
    release: sys.fd_t = -1,

    const Args = struct {
        command: [*:0]const u8,
        envp: exec.Argv,
        gate: [2]i32 = .{ -1, -1 },
    };

    /// Starts the -o helper, which waits until finish() before it runs.
    fn start_outside(start: *const Start, command: [*:0]const u8, reporter: Reporter) Helper {
        var gate: [2]i32 = undefined;
        reporter.check(.pipe, linux.pipe2(&gate, linux.O.CLOEXEC));
        const args = Args{ .command = command, .envp = start.config.envp, .gate = gate };
        const pid = start_watched(Args, run_gated, start.region, 2, reporter, args);
        sys.close(gate[0]);
        return .{ .pid = pid, .release = gate[1] };
    }

    fn start_inside(start: *const Start, command: [*:0]const u8, reporter: Reporter) Helper {
        const args = Args{ .command = command, .envp = start.config.envp };
        return .{ .pid = start_watched(Args, run_shell, start.region, 3, reporter, args) };
    }

    /// Lets the helper run, waits for it, and stops the holder if it failed.
    fn finish(self: *Helper, reporter: Reporter, step: Step, others: Others) void {
        if (self.release >= 0) {
            _ = sys.write_all(self.release, "x");
            sys.close(self.release);
        }
        const status = wait_or_end(self.pid, others);
        if (status != 0) reporter.fail(step, status);
    }

    fn run_gated(args: *const Args) noreturn {
        sys.close(args.gate[1]);
        if (!sys.read_byte(args.gate[0])) sys.exit(125);
        run_shell(args);
    }

    fn run_shell(args: *const Args) noreturn {
        sys.sigmask(0, null);
        const argv = [_:null]?[*:0]const u8{ "/bin/sh", "-c", args.command };
        // A failure here shows as the helper's status, 127 or 126, as a shell reports it.
        const e = sys.errno(linux.execve("/bin/sh", &argv, args.envp));
        sys.exit(exec.exec_status(e));
    }
};

/// Starts the holder's keeper: a process with the caller's credentials that SIGKILLs, on
/// the holder's behalf, the PIDs written to the returned pipe. What the -o helper leaves
/// running keeps host root's credentials, and once in its user namespace the holder may
/// not signal those; nor can the kernel's parent-death signal reach them from the holder,
/// since it is sent with the dying parent's credentials and dropped. The keeper exits
/// when the holder does (EOF). A fork: it must not share the stacks the helpers use.
fn start_keeper(reporter: Reporter) Keeper {
    var channel: [2]i32 = undefined;
    reporter.check(.pipe, linux.pipe2(&channel, linux.O.CLOEXEC));
    const rc = sys.fork(null);
    reporter.check(.fork, rc);
    if (rc == 0) run_keeper(channel[0]);
    sys.close(channel[0]);
    return .{ .pid = sys.value(rc), .requests = channel[1] };
}

const Keeper = struct { pid: i32 = 0, requests: sys.fd_t = -1 };

fn run_keeper(requests: sys.fd_t) noreturn {
    // Nothing of the holder's may stay open here: the report pipe's end would hide the
    // exec from the supervisor, and stdio would keep its readers waiting.
    sys.close_all_but(requests);
    while (true) {
        var pid: i32 = 0;
        if (sys.read_full(requests, std.mem.asBytes(&pid)) != @sizeOf(i32)) sys.exit(0);
        _ = linux.kill(pid, linux.SIG.KILL);
    }
}
