//! The boundary between the shim and src/native.ts, defined once: the modes, flags and
//! Config that spawn_child reads, its Result, the mounts table, and every Step with the
//! words of its "Failed to ..." message. root.zig exports their layout, numbers and texts,
//! and TypeScript reads them from there rather than keeping copies of its own.
const std = @import("std");
const exec = @import("exec.zig");

pub const Mode = enum(u32) { pseudo = 1, contain = 2, inject = 3 };

pub const flag_console: u32 = 1;
pub const flag_host_network: u32 = 2;
/// contain: DIR is the read-only lower layer of a throwaway overlay (binds.zig).
pub const flag_ephemeral: u32 = 4;

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
    /// bind: the index of an ID-mapped copy of the source among the fds that came with the
    /// go message (see idmap_tree), or -1 for a plain bind. Set by the supervisor before go.
    idmapped: i32,
    reserved: u32 = 0,
};

/// Shared with src/native.ts, which writes it at the offsets that config_layout() gives.
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
