//! contain's processes: the holder, which owns the new namespaces and builds the root,
//! its -i and -o helpers and its keeper, and init, the container's PID 1.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const exec = @import("exec.zig");
const mounts = @import("mounts.zig");
const Go = @import("go.zig").Go;
const lock = @import("lock.zig");
const abi = @import("abi.zig");
const start = @import("start.zig");
const supervise = @import("supervise.zig");
const Reporter = @import("report.zig").Reporter;
const Start = start.Start;
const Others = supervise.Others;
const Keeper = supervise.Keeper;

/// contain's holder: a child of the supervisor that owns the new namespaces, builds the
/// root, starts init in the new PID namespace and passes signals on to it.
pub fn holder(args: *const Start, spawned: Reporter) noreturn {
    const config = args.config;
    // What the helpers leave running (their background children) reparents here rather
    // than to the host's init, so that it ends with the container (see `end`).
    _ = linux.prctl(@intFromEnum(linux.PR.SET_CHILD_SUBREAPER), 1, 0, 0, 0);
    // Opened while /proc is the host's: init's pivot_root moves this process's root too.
    const task_dir = sys.open_task_dir();
    spawned.check(.open_task_dir, @bitCast(@as(isize, task_dir)));
    var others = Others{ .task_dir = task_dir };
    // Where init's signal dispositions are read once init's pivot has moved our root too.
    const proc = linux.openat(linux.AT.FDCWD, "/proc", linux.O.PATH | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
    const init_proc: sys.fd_t = if (sys.errno(proc) == 0) sys.value(proc) else -1;
    // The -o helper starts before the user namespace so that it stays in the host's.
    var outside = Helper{};
    if (config.outside != null) others.keeper = start_keeper(spawned);
    // From here on, a failed step ends what the helpers started before the holder exits,
    // as the end of CMD does: nothing they left running may outlive a failed start.
    const reporter = Reporter{ .fd = spawned.fd, .ending = .{ .context = &others, .end = end_others } };
    if (config.outside) |command| outside = Helper.start_outside(args, command, reporter);

    var go = Go{};
    start.enter_user_namespace(args, reporter, &go);
    supervise.end_with_parent(args.parent, 0, others);
    // The root is built in a mount namespace of this user namespace, and reaches the
    // container through a nested one that locks it (lock.zig); the container's other
    // namespaces belong to that one, so that container root has its powers over them.
    mounts.build_root(config, &go, reporter);
    lock.enter(args, reporter);
    // Before the holder unshares CLONE_NEWCGROUP: the namespace is rooted in the cgroup
    // this process is in, which must be the container's own. Born there (spawn.zig), or
    // moved there now, through an fd the supervisor opened: the kernel checks a move
    // against the opener's credentials, which this process no longer has.
    if (args.cgroup_procs >= 0) {
        reporter.check_errno(.enter_cgroup, sys.write_all(args.cgroup_procs, "0"));
        sys.close(args.cgroup_procs);
    }
    reporter.check(.unshare_cgroup, linux.unshare(linux.CLONE.NEWCGROUP));
    reporter.check(.unshare_ipc, linux.unshare(linux.CLONE.NEWIPC));
    if (config.flags & abi.flag_host_network == 0) {
        reporter.check(.unshare_network, linux.unshare(linux.CLONE.NEWNET));
    }
    if (config.flags & abi.flag_private_network != 0) connect_network(args, reporter, others);
    reporter.check(.unshare_time, linux.unshare(linux.CLONE.NEWTIME));
    reporter.check(.unshare_uts, linux.unshare(linux.CLONE.NEWUTS));
    // The -o helper may look at /proc/$PPID/ns as the user; after it, nothing in the
    // container may read this image. A holder that shares Bun's memory must leave the
    // flag alone: it belongs to the memory, and Bun's /proc files would turn root's.
    if (outside.pid > 0) outside.finish(reporter, .helper_outside, others);
    if (args.owns_memory) sys.set_dumpable(false);

    // After the lock: the -i helper is in every namespace of the container, and what it
    // mounts, container root may undo.
    if (config.inside) |command| {
        var inside = Helper.start_inside(args, command, reporter);
        inside.finish(reporter, .helper_inside, others);
    }

    reporter.check(.unshare_pid, linux.unshare(linux.CLONE.NEWPID));
    supervise.end_if_asked(others);
    const init_pid = start.start_watched(Start, init, args.region, 1, reporter, args.*);
    // Init stays in the container's cgroup, alone with what it starts: a cgroup with
    // processes of its own gives its children no controllers (cgroup2's no internal
    // process rule), which systemd wants for its units. The supervisor asks for this only
    // where there are controllers to give, since a move costs milliseconds; where it
    // fails the holder stays, which costs nothing else.
    if (config.cgroup_leave >= 0) _ = sys.write_all(config.cgroup_leave, "0");
    sys.close(config.cgroup_leave);
    sys.close(reporter.fd);
    supervise.supervise(init_pid, args.parent, others, .{ .proc = init_proc });
}

/// A failed start's end: the helpers' children (`others`), but no init yet.
fn end_others(context: *const anyopaque, status: u8) noreturn {
    const others: *const Others = @ptrCast(@alignCast(context));
    supervise.end(0, others.*, status);
}

/// Says that the network namespace exists and waits while the supervisor connects it
/// (src/network.ts starts pasta on it and waits until pasta has configured it), so CMD
/// starts with its network up. EOF instead of the byte: the supervisor gave up, or died.
fn connect_network(args: *const Start, reporter: Reporter, others: Others) void {
    reporter.send(.network_ready, 0);
    const connected = sys.read_byte(args.go);
    sys.close(args.go);
    if (!connected) supervise.end(0, others, 125);
}

/// The container's PID 1: mounts proc and sys, pivots, takes the console and execs CMD.
fn init(args: *const Start) noreturn {
    const config = args.config;
    const reporter = Reporter{ .fd = args.report };
    const host_network = config.flags & abi.flag_host_network != 0;
    mounts.mount_proc_sys(reporter, !host_network);
    mounts.enter_root(reporter);
    if (config.cwd) |cwd| reporter.check(.enter_working_directory, linux.chdir(cwd));
    if (config.flags & abi.flag_console != 0) mounts.take_console(reporter);
    start.leave_host_session(reporter);
    // Only 0, 1 and 2 reach CMD; the report pipe closes itself on exec.
    reporter.check_errno(.close_fds, sys.cloexec_above_stdio());
    sys.sigmask(0, null);
    const e = exec.exec(config.argv, config.init_envp);
    reporter.send(.exec, e);
    sys.exit(exec.exec_status(e));
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
    fn start_outside(holder_args: *const Start, command: [*:0]const u8, reporter: Reporter) Helper {
        var gate: [2]i32 = undefined;
        reporter.check(.pipe, linux.pipe2(&gate, linux.O.CLOEXEC));
        const args = Args{ .command = command, .envp = holder_args.config.envp, .gate = gate };
        const pid = start.start_watched(Args, run_gated, holder_args.region, 2, reporter, args);
        sys.close(gate[0]);
        return .{ .pid = pid, .release = gate[1] };
    }

    fn start_inside(holder_args: *const Start, command: [*:0]const u8, reporter: Reporter) Helper {
        const args = Args{ .command = command, .envp = holder_args.config.envp };
        return .{ .pid = start.start_watched(Args, run_shell, holder_args.region, 3, reporter, args) };
    }

    /// Lets the helper run, waits for it, and stops the holder if it failed.
    fn finish(self: *Helper, reporter: Reporter, step: abi.Step, others: Others) void {
        if (self.release >= 0) {
            _ = sys.write_all(self.release, "x");
            sys.close(self.release);
        }
        const status = supervise.wait_or_end(self.pid, others);
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
