//! newuidmap and newgidmap for a user's child, started together (and pasta, alone, for a
//! private network): each is a clone(CLONE_VM) child (clone.zig) that execs its helper at
//! once, with stdin and stdout on /dev/null, stderr on a pipe that the supervisor reads,
//! and SIGKILL as its parent-death signal. Neither waits for the other: they write
//! different files, and newgidmap writes setgroups only for a map of the user's own GID
//! alone, which src/userns.ts writes itself rather than through it.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const exec = @import("exec.zig");
const clone = @import("clone.zig");
const abi = @import("abi.zig");
const report = @import("report.zig");

const Helper = abi.MapHelper;
const Step = abi.Step;

/// What a child reads from its stack: the helper's argv and environment, its stdio, and
/// its end of the report pipe, which is close-on-exec, so EOF says it ran the helper.
const Child = struct {
    argv: exec.Argv,
    envp: exec.Argv,
    stdio: [3]i32,
    report: i32,
};

const Failed = struct { step: Step, e: u32 };

/// The region's stack that no child runs on holds the argv and envp lists, which must
/// live until the children have executed their helpers, as the stacks must.
const lists_stack = 2;

/// Starts a helper for every entry of `helpers` that has arguments, with `environment`
/// (NUL-terminated strings one after another, as the arguments), and returns once each
/// one has executed it or failed to (no longer than an exec takes), with its pidfd, stderr
/// and failure filled in. Returns 0, or report.failure(step, errno) with nothing left
/// running or open.
pub fn start(helpers: *[2]Helper, environment: []const u8) u32 {
    for (helpers) |*helper| {
        // stdin is the caller's to give.
        helper.pidfd = -1;
        helper.stderr = -1;
        helper.failure = 0;
    }
    const region = clone.region_alloc() orelse return report.failure(.allocate_stacks, @intFromEnum(linux.E.AGAIN));
    var reports = [2]i32{ -1, -1 };
    const failed = start_all(helpers, environment, region, &reports);
    // A child leaves the stacks before its end of the report pipe closes, at exec or exit,
    // so the stacks are freed only at EOF, never at a failure record (it sends one at most).
    for (helpers, reports) |*helper, fd| {
        if (fd < 0) continue;
        if (report.read_only_record(fd)) |record| helper.failure = report.failure(@enumFromInt(record.step), record.value);
        sys.close(fd);
    }
    clone.region_free(region);
    const reason = failed orelse return 0;
    for (helpers) |*helper| abandon(helper);
    return report.failure(reason.step, reason.e);
}

/// Lays out the lists and starts the helpers, until one cannot be started.
fn start_all(helpers: *[2]Helper, environment: []const u8, region: u32, reports: *[2]i32) ?Failed {
    const malformed = Failed{ .step = .exec, .e = @intFromEnum(linux.E.INVAL) };
    const too_long = Failed{ .step = .exec, .e = @intFromEnum(linux.E.@"2BIG") };
    const space: [*]?[*:0]const u8 = @ptrCast(clone.stack(region, lists_stack).ptr);
    var lists = Lists{ .free = space[0 .. clone.stack_size / @sizeOf(?[*:0]const u8)] };
    if (!Lists.terminated(environment)) return malformed;
    const envp = lists.split(environment) orelse return too_long;
    var argv: [2]?exec.Argv = .{ null, null };
    for (helpers, &argv) |helper, *list| {
        const args = (helper.args orelse continue)[0..helper.args_len];
        if (args.len == 0 or !Lists.terminated(args)) return malformed;
        list.* = lists.split(args) orelse return too_long;
    }
    const rc = linux.openat(linux.AT.FDCWD, "/dev/null", linux.O.RDWR | linux.O.CLOEXEC, 0);
    if (sys.errno(rc) != 0) return .{ .step = .stdio, .e = sys.errno(rc) };
    const dev_null = sys.value(rc);
    defer sys.close(dev_null);
    for (helpers, argv, reports, 0..) |*helper, list, *fd, which| {
        const command = list orelse continue;
        if (start_one(helper, command, envp, dev_null, region, @intCast(which), fd)) |failed| return failed;
    }
    return null;
}

/// Starts one helper on stack `which`. Returns what failed, if anything, having closed
/// what it opened; else fills the helper's pidfd and stderr and `report_fd`.
fn start_one(helper: *Helper, argv: exec.Argv, envp: exec.Argv, dev_null: i32, region: u32, which: u32, report_fd: *i32) ?Failed {
    var stderr: [2]i32 = undefined;
    var e = sys.errno(linux.pipe2(&stderr, linux.O.CLOEXEC));
    if (e != 0) return .{ .step = .pipe, .e = e };
    var reports: [2]i32 = undefined;
    e = sys.errno(linux.pipe2(&reports, linux.O.CLOEXEC));
    if (e != 0) {
        for (stderr) |fd| sys.close(fd);
        return .{ .step = .pipe, .e = e };
    }
    const child = Child{ .argv = argv, .envp = envp, .stdio = .{ if (helper.stdin >= 0) helper.stdin else dev_null, dev_null, stderr[1] }, .report = reports[1] };
    var old_mask: u64 = 0;
    // Blocked until the child has reset the handlers: Bun's must not run on its stack.
    sys.sigmask(sys.sigset_all, &old_mask);
    var pidfd: i32 = -1;
    const rc = clone.start(Child, run, clone.stack(region, which), linux.CLONE.PIDFD, &pidfd, child);
    sys.sigmask(old_mask, null);
    sys.close(stderr[1]);
    sys.close(reports[1]);
    e = sys.errno(rc);
    if (e != 0) {
        sys.close(stderr[0]);
        sys.close(reports[0]);
        return .{ .step = .fork, .e = e };
    }
    helper.pidfd = pidfd;
    helper.stderr = stderr[0];
    report_fd.* = reports[0];
    return null;
}

/// NULL-terminated lists of pointers, made in free space that start() owns.
const Lists = struct {
    free: []?[*:0]const u8,

    /// Whether `strings` is empty or ends with a NUL, as split needs it.
    fn terminated(strings: []const u8) bool {
        return strings.len == 0 or strings[strings.len - 1] == 0;
    }

    /// `strings` (terminated), NUL-terminated one after another, as a list: null when it
    /// does not fit.
    fn split(self: *Lists, strings: []const u8) ?exec.Argv {
        std.debug.assert(terminated(strings));
        var count: usize = 0;
        var at: usize = 0;
        while (at < strings.len) : (count += 1) {
            const end = std.mem.indexOfScalarPos(u8, strings, at, 0).?;
            if (count + 1 >= self.free.len) return null;
            self.free[count] = @ptrCast(strings.ptr + at);
            at = end + 1;
        }
        if (count >= self.free.len) return null;
        self.free[count] = null;
        const list: exec.Argv = @ptrCast(self.free.ptr);
        self.free = self.free[count + 1 ..];
        return list;
    }
};

fn run(child: *const Child) noreturn {
    const reporter = report.Reporter{ .fd = child.report };
    sys.signals_reset();
    // A helper ends with the thread that started it, whatever ends that (src/network.ts
    // counts on this for pasta, which runs as long as the container).
    sys.set_pdeathsig();
    reporter.check_errno(.stdio, sys.move_to_stdio(child.stdio));
    reporter.check_errno(.close_fds, sys.cloexec_above_stdio());
    sys.sigmask(0, null);
    const e = exec.exec(child.argv, child.envp);
    reporter.send(.exec, e);
    sys.exit(exec.exec_status(e));
}

/// Kills and reaps a started helper and closes its fds: the start failed as a whole.
fn abandon(helper: *Helper) void {
    if (helper.pidfd >= 0) {
        _ = linux.syscall4(.pidfd_send_signal, @intCast(helper.pidfd), linux.SIG.KILL, 0, 0);
        _ = sys.wait_status(.PIDFD, helper.pidfd);
    }
    sys.close(helper.pidfd);
    sys.close(helper.stderr);
    helper.pidfd = -1;
    helper.stderr = -1;
}

const testing = std.testing;

fn read_all(fd: i32, buffer: []u8) []u8 {
    const n = sys.read_full(fd, buffer);
    return buffer[0..@intCast(@max(n, 0))];
}

fn wait(pidfd: i32) u8 {
    return sys.wait_status(.PIDFD, pidfd);
}

fn with_args(args: []const u8) Helper {
    return .{ .args = args.ptr, .args_len = @intCast(args.len) };
}

test "start runs both helpers with stderr on a pipe, and reports one that cannot be executed" {
    var helpers = [2]Helper{
        with_args("/bin/sh\x00-c\x00echo out; echo \"$SAID\" >&2; read line; exit 3\x00"),
        with_args("/nonexistent/newuidmap\x00"),
    };
    try testing.expectEqual(@as(u32, 0), start(&helpers, "SAID=err\x00"));
    var buffer: [64]u8 = undefined;
    // stdout went to /dev/null, stdin read EOF from it.
    try testing.expectEqualStrings("err\n", read_all(helpers[0].stderr, &buffer));
    try testing.expectEqual(@as(u32, 0), helpers[0].failure);
    try testing.expectEqual(@as(u8, 3), wait(helpers[0].pidfd));
    try testing.expectEqual(report.failure(.exec, @intFromEnum(linux.E.NOENT)), helpers[1].failure);
    try testing.expectEqualStrings("", read_all(helpers[1].stderr, &buffer));
    try testing.expectEqual(@as(u8, 127), wait(helpers[1].pidfd));
    for (helpers) |started| {
        sys.close(started.pidfd);
        sys.close(started.stderr);
    }
}

test "the stacks outlive a child that failed to exec until it has exited" {
    // Freed at its failure record rather than at EOF, they would fault it (SIGSEGV: 139).
    var round: u32 = 0;
    while (round < 200) : (round += 1) {
        var helpers = [2]Helper{ with_args("/nonexistent/newgidmap\x00"), with_args("/nonexistent/newuidmap\x00") };
        try testing.expectEqual(@as(u32, 0), start(&helpers, ""));
        for (helpers) |started| {
            try testing.expectEqual(@as(u8, 127), wait(started.pidfd));
            sys.close(started.pidfd);
            sys.close(started.stderr);
        }
    }
}

test "start leaves an entry without arguments alone, and refuses a string without its NUL" {
    var helpers = [2]Helper{ .{ .args = null, .args_len = 0 }, with_args("/bin/true\x00") };
    try testing.expectEqual(@as(u32, 0), start(&helpers, ""));
    try testing.expectEqual(@as(i32, -1), helpers[0].pidfd);
    try testing.expectEqual(@as(i32, -1), helpers[0].stderr);
    try testing.expectEqual(@as(u8, 0), wait(helpers[1].pidfd));
    sys.close(helpers[1].pidfd);
    sys.close(helpers[1].stderr);
    helpers[1] = with_args("/bin/true");
    try testing.expectEqual(report.failure(.exec, @intFromEnum(linux.E.INVAL)), start(&helpers, ""));
    try testing.expectEqual(@as(i32, -1), helpers[1].pidfd);
}

test "Lists.split makes NULL-terminated lists until the space runs out" {
    var space: [5]?[*:0]const u8 = undefined;
    var lists = Lists{ .free = &space };
    const first = lists.split("a\x00bc\x00").?;
    try testing.expectEqualStrings("a", std.mem.span(first[0].?));
    try testing.expectEqualStrings("bc", std.mem.span(first[1].?));
    try testing.expect(first[2] == null);
    const empty = lists.split("").?;
    try testing.expect(empty[0] == null);
    // One slot is left: room for the NULL, not for a string.
    try testing.expect(lists.split("d\x00") == null);
}
