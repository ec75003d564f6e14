//! The boundary between the shim and src/native.ts, defined once: the modes, flags and
//! Config that spawn_child reads, its Result, the mounts table, the MapHelper entries that
//! start_map_helpers fills, the Report record a child writes on its report pipe, and every
//! Step with the words of its "Failed to ..." message.
//! root.zig exports their layout, numbers and texts, and TypeScript reads them from there
//! rather than keeping copies of its own.
const std = @import("std");
const exec = @import("exec.zig");

pub const Mode = enum(u32) { pseudo = 1, contain = 2, inject = 3 };

pub const flag_console: u32 = 1;
pub const flag_host_network: u32 = 2;
/// contain: DIR is the read-only lower layer of a throwaway overlay (binds.zig).
pub const flag_ephemeral: u32 = 4;
/// inject: argv is the caller's $SHELL by default, and /bin/sh stands in where the
/// container has no such file.
pub const flag_default_shell: u32 = 8;
/// contain: a network namespace that the supervisor's pasta configures once the holder has
/// made it (the holder reports network_ready and waits for a second go byte).
pub const flag_private_network: u32 = 16;

pub const kind_bind: u32 = 1;
pub const kind_tmpfs: u32 = 2;
pub const mount_readonly: u32 = 1;
/// The bind's source is a directory, so a missing target is made as one (else as a file).
pub const mount_directory: u32 = 2;

/// One entry of Config.mounts (binds.zig makes them); src/native.ts writes the same layout.
pub const Mount = extern struct {
    kind: u32,
    flags: u32,
    /// bind: the host path.
    source: ?[*:0]const u8,
    /// The path inside the container, absolute.
    target: [*:0]const u8,
    /// tmpfs: its size option (bytes, or with a k, m, g or % suffix), or null.
    size: ?[*:0]const u8,
};

/// The go message carries one fd per bind (SCM_RIGHTS), each with a word saying which
/// mount of Config.mounts it is for (its index) and what it is: a detached mount tree the
/// supervisor made (`go_tree`: host root's binds), or the source's O_PATH fd (a user's),
/// which the holder turns into a tree of its own (go.zig carries them, binds.zig mounts
/// them). Sources travel as objects, so no bind source is looked up by its path after
/// contain judged it.
pub const go_tree: u32 = 0x8000_0000;
pub const go_index_mask: u32 = 0xffff;

/// Shared with src/native.ts, which writes it at the offsets that `layout` (below, exported
/// by root.zig's abi_layout) gives.
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
    mounts: ?[*]const Mount,
    mount_count: u32,
    /// contain: an O_PATH fd of DIR, opened and judged by the supervisor; the holder enters
    /// it instead of looking DIR's path up again.
    root_fd: i32,
    /// contain: the ID maps of the container's own user namespace, nested in the holder's
    /// ("inside inside count" lines: each ID the holder's namespace maps, onto itself), so
    /// that the root the holder built is locked for container root (lock.zig).
    lock_uid_map: ?[*:0]const u8,
    lock_gid_map: ?[*:0]const u8,
    /// The soft RLIMIT_NOFILE that the child and CMD start with: the caller's, from before
    /// Bun raised it (at most the hard limit, which Bun leaves alone); 0 keeps ours.
    nofile: u64,
    /// contain: the container's cgroup directory, which the holder is born in (cgroup.zig),
    /// or -1 for none.
    cgroup: i32,
    /// contain: the write end of the supervisor's cgroup.procs, which the holder goes back
    /// to once init runs so that init is alone in the container's cgroup; -1: it stays.
    cgroup_leave: i32,
};

pub const Result = extern struct {
    pid: i32,
    pidfd: i32,
    report_fd: i32,
    go_fd: i32,
    /// The stacks of the children; free with release_region once the first child is reaped.
    region: i32,
};

/// newuidmap or newgidmap for map.zig, which starts both at once: its arguments in, the
/// rest out.
pub const MapHelper = extern struct {
    /// The path and the arguments, each NUL-terminated, one after another (one string for
    /// TypeScript to encode rather than one per argument). null: this map needs no helper,
    /// and nothing is started for it.
    args: ?[*]const u8,
    args_len: u32,
    /// -1 when nothing was started.
    pidfd: i32 = -1,
    /// The read end of the pipe that is the helper's stderr, or -1.
    stderr: i32 = -1,
    /// In: an fd to be the helper's stdin, or -1 for /dev/null (pasta's namespace).
    stdin: i32 = -1,
    /// 0 once the helper was executed; else the step that failed before (stdio, exec) and
    /// its errno, packed as spawn_child packs its own. Reap the child either way.
    failure: u32 = 0,
};

/// One record on a child's report pipe (report.zig writes it, src/native.ts reads it): the
/// step, its value (an errno, the -o or -i helper's status, or 0 for `ready`), and the
/// object the step acted on: the index of a mount in Config.mounts, or `no_object`.
pub const Report = extern struct { step: u32, value: u32, object: u32 };
pub const no_object: u32 = 0xffff_ffff;

/// Steps named in a report. Values are part of the ABI: src/native.ts learns the codes of
/// the steps it branches on from `layout` (told_apart), and the words of any other through
/// step_text.
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
    resolve_mount_target = 73,
    create_mount_target = 74,
    bind_source = 75,
    bind_readonly = 76,
    mount_tmpfs = 77,
    attach_mount = 78,
    enter_working_directory = 79,
    // 80-89: the container's cgroup.
    enter_cgroup = 80,
    // 90-99: the container's own user namespace, which locks the mounts (lock.zig).
    lock_mounts = 90,
    unshare_lock_mount = 91,
    /// Not a failure: the holder has unshared its network namespace and waits for a byte
    /// on the go socket while the supervisor connects it (src/network.ts).
    network_ready = 100,
};

/// The words of a step in "Failed to ..." (src/child.ts adds the object, where it has one).
/// Read by TypeScript only on error paths, through step_text().
pub fn text(step: Step) []const u8 {
    return switch (step) {
        .ready => "report that the user namespace is ready",
        .stdio => "set up stdio",
        .unshare_user => "unshare user namespace",
        .become_root => "become root in the user namespace",
        .unshare_cgroup => "unshare cgroup namespace",
        .unshare_ipc => "unshare IPC namespace",
        .unshare_network => "unshare network namespace",
        .unshare_mount => "unshare mount namespace",
        .unshare_time => "unshare time namespace",
        .unshare_uts => "unshare UTS namespace",
        .unshare_pid => "unshare PID namespace",
        .fork => "fork",
        .helper_outside => "run the -o helper",
        .helper_inside => "run the -i helper",
        .make_private => "make the mount namespace private",
        .bind_root => "bind new root filesystem",
        .enter_root => "enter new root filesystem",
        .create_dev => "create /dev in new root filesystem",
        .mount_dev => "mount /dev tmpfs in new root filesystem",
        .mount_pts => "mount /dev/pts in new root filesystem",
        .mount_shm => "mount /dev/shm in new root filesystem",
        .bind_console => "bind the console into new /dev filesystem",
        .bind_full => "bind /dev/full into new /dev filesystem",
        .bind_null => "bind /dev/null into new /dev filesystem",
        .bind_random => "bind /dev/random into new /dev filesystem",
        .bind_tty => "bind /dev/tty into new /dev filesystem",
        .bind_urandom => "bind /dev/urandom into new /dev filesystem",
        .bind_zero => "bind /dev/zero into new /dev filesystem",
        .mount_proc => "mount /proc in new root filesystem",
        .mount_sys => "mount /sys in new root filesystem",
        .pivot_root => "pivot into new root filesystem",
        .detach_root => "detach old root filesystem",
        .open_console => "open console in container",
        .open_namespace => "open the container's namespaces",
        .join_user => "join user namespace",
        .join_cgroup => "join cgroup namespace",
        .join_ipc => "join IPC namespace",
        .join_network => "join network namespace",
        .join_pid => "join PID namespace",
        .join_time => "join time namespace",
        .join_uts => "join UTS namespace",
        .join_mount => "join mount namespace",
        .enter_container_root => "enter container root directory",
        .exec => "execute",
        .parent_died => "start: its parent died",
        .change_directory => "change directory",
        .create_pts => "create /dev/pts in new root filesystem",
        .create_shm => "create /dev/shm in new root filesystem",
        .create_old_root => "create /dev/tmp for the old root filesystem",
        .link_dev => "link /dev/ptmx, fd, stdin, stdout and stderr in new /dev filesystem",
        .create_node => "create a device node in new /dev filesystem",
        .create_proc => "create /proc in new root filesystem",
        .create_sys => "create /sys in new root filesystem",
        .enter_new_root => "change directory to new root filesystem",
        .pipe => "create a pipe",
        .allocate_stacks => "allocate stacks for the child",
        .close_fds => "close file descriptors above 2",
        .new_session => "start a new session for the console",
        .take_console => "make the console the controlling terminal",
        .leave_keyring => "join a new session keyring",
        .deny_terminal_injection => "refuse terminal input injection (seccomp)",
        .forward_signals => "pass signals on to the child",
        .open_task_dir => "open the holder's /proc directory",
        .join_namespaces => "join the container's namespaces",
        .mount_overlay_tmpfs => "mount the tmpfs of the ephemeral root",
        .mount_overlay => "mount the overlay of the ephemeral root",
        .resolve_mount_target => "resolve mount target",
        .create_mount_target => "create mount target",
        .bind_source => "bind",
        .bind_readonly => "make read-only the bind on",
        .mount_tmpfs => "mount tmpfs on",
        .attach_mount => "mount on",
        .enter_working_directory => "enter working directory",
        .lock_mounts => "enter the user namespace that locks the container's mounts",
        .unshare_lock_mount => "unshare the container's locked mount namespace",
        .enter_cgroup => "enter the container's cgroup",
        .network_ready => "report that the network namespace is ready",
    };
}

/// At most this many binds: each travels with the go message as an fd.
pub const max_binds = 64;

/// The steps src/child.ts branches on; the others it only names, through step_text().
const told_apart = [_]Step{ .ready, .helper_outside, .helper_inside, .exec, .resolve_mount_target, .bind_source, .enter_working_directory, .enter_root, .create_dev, .create_proc, .create_sys, .network_ready };

/// Everything TypeScript needs to know of this file, as one JSON object of numbers: struct
/// sizes (`"Config"`) and field offsets (`"Config.mode"`), modes, flags, mount kinds and
/// the codes of the steps it tells apart (fewer keys: JSON.parse costs per key). Made at compile time, so it cannot drift from the declarations above;
/// src/native.ts reads it once, in one call, when it loads the shim (JSON.parse is the
/// cheapest way into a JS object).
pub const layout: []const u8 = describe();

fn describe() []const u8 {
    @setEvalBranchQuota(100_000);
    comptime var out: []const u8 = "";
    inline for (.{ .{ "Config", Config }, .{ "Result", Result }, .{ "Mount", Mount }, .{ "MapHelper", MapHelper }, .{ "Report", Report } }) |entry| {
        out = out ++ entry_text(entry[0], @sizeOf(entry[1]));
        inline for (@typeInfo(entry[1]).Struct.fields) |field| {
            out = out ++ entry_text(entry[0] ++ "." ++ field.name, @offsetOf(entry[1], field.name));
        }
    }
    inline for (@typeInfo(Mode).Enum.fields) |field| out = out ++ entry_text("Mode." ++ field.name, field.value);
    inline for (told_apart) |step| out = out ++ entry_text("Step." ++ @tagName(step), @intFromEnum(step));
    const constants = .{
        .{ "flag.console", flag_console },
        .{ "flag.host_network", flag_host_network },
        .{ "flag.ephemeral", flag_ephemeral },
        .{ "flag.default_shell", flag_default_shell },
        .{ "flag.private_network", flag_private_network },
        .{ "kind.bind", kind_bind },
        .{ "kind.tmpfs", kind_tmpfs },
        .{ "mount_flag.readonly", mount_readonly },
        .{ "mount_flag.directory", mount_directory },
        .{ "max_binds", max_binds },
        .{ "go_tree", go_tree },
        .{ "no_object", no_object },
    };
    inline for (constants) |entry| out = out ++ entry_text(entry[0], entry[1]);
    // Every entry ends with a comma: the last one's becomes the closing brace.
    return "{" ++ out[0 .. out.len - 1] ++ "}";
}

fn entry_text(comptime name: []const u8, comptime value: comptime_int) []const u8 {
    return std.fmt.comptimePrint("\"{s}\":{d},", .{ name, value });
}

/// Whether `layout` gives `name` the number `value`.
fn layout_has(comptime name: []const u8, comptime value: comptime_int) bool {
    const entry = comptime entry_text(name, value);
    const at = std.mem.indexOf(u8, layout, entry[0 .. entry.len - 1]) orelse return false;
    const next = layout[at + entry.len - 1];
    return next == ',' or next == '}';
}

/// Writes `config` as this side reads it, one `field=value` line each (config_echo).
pub fn echo(config: *const Config, writer: anytype) !void {
    try writer.print("mode={d}\nflags={d}\ntarget_pidfd={d}\nstdio={d},{d},{d}\n", .{ config.mode, config.flags, config.target_pidfd, config.stdio[0], config.stdio[1], config.stdio[2] });
    try echo_list(writer, "argv", config.argv);
    try echo_list(writer, "envp", config.envp);
    const optional = .{ "root", "console", "inside", "outside", "cwd", "lock_uid_map", "lock_gid_map" };
    inline for (optional) |name| {
        const value = @field(config, name);
        try writer.print("{s}={s}\n", .{ name, if (value) |string| std.mem.span(string) else "(null)" });
    }
    try echo_list(writer, "init_envp", config.init_envp);
    try writer.print("mount_count={d}\nroot_fd={d}\nnofile={d}\ncgroup={d}\ncgroup_leave={d}\n", .{ config.mount_count, config.root_fd, config.nofile, config.cgroup, config.cgroup_leave });
    const mounts = if (config.mounts) |table| table[0..config.mount_count] else &[_]Mount{};
    for (mounts) |mount| {
        const source = if (mount.source) |string| std.mem.span(string) else "(null)";
        const size = if (mount.size) |string| std.mem.span(string) else "(null)";
        try writer.print("mount={d},{d},{s},{s},{s}\n", .{ mount.kind, mount.flags, source, std.mem.span(mount.target), size });
    }
}

fn echo_list(writer: anytype, name: []const u8, list: exec.Argv) !void {
    try writer.print("{s}=", .{name});
    var index: usize = 0;
    while (list[index]) |item| : (index += 1) try writer.print("{s}{s}", .{ if (index == 0) "" else " ", std.mem.span(item) });
    try writer.writeByte('\n');
}

test "every step has words of its own, and the layout gives its code" {
    @setEvalBranchQuota(100_000);
    const fields = @typeInfo(Step).Enum.fields;
    inline for (fields, 0..) |field, index| {
        const step: Step = @enumFromInt(field.value);
        try std.testing.expect(text(step).len > 0);
        inline for (fields[index + 1 ..]) |other| {
            try std.testing.expect(!std.mem.eql(u8, text(step), text(@enumFromInt(other.value))));
        }
    }
    inline for (told_apart) |step| try std.testing.expect(layout_has("Step." ++ @tagName(step), @intFromEnum(step)));
}

test "the layout names every field of Config, MapHelper and Report at its offset" {
    inline for (.{ .{ "Config", Config }, .{ "MapHelper", MapHelper }, .{ "Report", Report } }) |entry| {
        inline for (@typeInfo(entry[1]).Struct.fields) |field| {
            try std.testing.expect(layout_has(entry[0] ++ "." ++ field.name, @offsetOf(entry[1], field.name)));
        }
    }
}
