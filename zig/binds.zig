//! What a caller adds to the container's root: a throwaway overlay over DIR, and bind and
//! tmpfs mounts at targets inside it. Run by the holder in its private mount namespace,
//! before the pivot, with raw system calls only. The binds' sources or trees come with the
//! go message (go.zig); host root's trees are made by the supervisor (idmap.zig).
//!
//! Targets are resolved under the root with openat2(RESOLVE_BENEATH) one prefix at a
//! time: a `..` or a symbolic link that leads out of DIR is refused (EXDEV) instead of
//! being followed onto the host's files, and mounts attach to the resolved fd, so no path
//! is looked up twice.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const abi = @import("abi.zig");

const Reporter = @import("report.zig").Reporter;
const cwd = linux.AT.FDCWD;

const kind_tmpfs = abi.kind_tmpfs;
const mount_readonly = abi.mount_readonly;
const mount_directory = abi.mount_directory;
const Mount = abi.Mount;

const Go = @import("go.zig").Go;

// Constants from the kernel's uapi headers that Zig 0.11's std lacks.
const OPEN_TREE_CLONE = 1;
const AT_RECURSIVE = 0x8000;
const AT_EMPTY_PATH = 0x1000;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH = 0x40;
const MOUNT_ATTR_RDONLY = 0x1;
const FSOPEN_CLOEXEC = 1;
const FSMOUNT_CLOEXEC = 1;
const FSCONFIG_SET_STRING = 1;
const FSCONFIG_CMD_CREATE = 6;
const FSCONFIG_SET_FLAG = 0;
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_NO_SYMLINKS = 0x04;
const RESOLVE_BENEATH = 0x08;

const OpenHow = extern struct { flags: u64, mode: u64, resolve: u64 };
pub const MountAttr = extern struct { attr_set: u64, attr_clr: u64, propagation: u64, userns_fd: u64 };

/// open_tree(OPEN_TREE_CLONE) of the mount tree at `at` (an fd, or AT_FDCWD for the
/// current directory), recursive: a detached copy, close-on-exec. The raw result.
pub fn clone_tree(at: sys.fd_t) usize {
    const flags = OPEN_TREE_CLONE | linux.O.CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH;
    return linux.syscall3(.open_tree, @bitCast(@as(isize, at)), @intFromPtr(""), flags);
}

/// mount_setattr(`attr`) on the whole detached tree `tree`. The raw result.
pub fn set_tree_attr(tree: sys.fd_t, attr: MountAttr) usize {
    return linux.syscall5(.mount_setattr, @intCast(tree), @intFromPtr(""), AT_EMPTY_PATH | AT_RECURSIVE, @intFromPtr(&attr), @sizeOf(MountAttr));
}

/// Makes the directory that is the current directory (DIR, entered through the fd the
/// supervisor opened) the root of a mount of its own, and enters that mount: a recursive
/// copy of DIR attached onto DIR itself, from the fd, so DIR's path is never looked up.
pub fn bind_root(reporter: Reporter) void {
    const rc = clone_tree(cwd);
    reporter.check(.bind_root, rc);
    attach_and_enter(sys.value(rc), .bind_root, reporter);
}

/// Attaches the detached mount `tree` onto the current directory and enters its root.
fn attach_and_enter(tree: sys.fd_t, step: abi.Step, reporter: Reporter) void {
    reporter.check(step, linux.syscall5(.move_mount, @intCast(tree), @intFromPtr(""), @bitCast(@as(isize, cwd)), @intFromPtr("."), MOVE_MOUNT_F_EMPTY_PATH));
    reporter.check(.enter_root, linux.fchdir(tree));
    sys.close(tree);
}

/// Covers DIR (the current directory) with an overlay whose lower layer is DIR and whose
/// upper layer is a tmpfs of this mount namespace only: the container writes there, DIR
/// is never written, and the tmpfs goes with the namespace. Mounted over DIR itself, so
/// nothing is made on the host; the layers are named through /proc/self/fd so that no
/// path needs escaping, and entered through the overlay's own fd.
pub fn overlay_root(reporter: Reporter) void {
    const lower_rc = linux.openat(cwd, ".", linux.O.PATH | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
    reporter.check(.mount_overlay_tmpfs, lower_rc);
    const lower = sys.value(lower_rc);
    const layers = make_filesystem("tmpfs", &.{.{ "mode", "0755" }}, 0, .mount_overlay_tmpfs, reporter);
    // Attached (over DIR) before overlayfs takes it as a layer: a layer must be a mount
    // of this namespace.
    reporter.check(.mount_overlay_tmpfs, linux.syscall5(.move_mount, @intCast(layers), @intFromPtr(""), @bitCast(@as(isize, cwd)), @intFromPtr("."), MOVE_MOUNT_F_EMPTY_PATH));
    reporter.check(.mount_overlay_tmpfs, linux.mkdirat(layers, "upper", 0o755));
    reporter.check(.mount_overlay_tmpfs, linux.mkdirat(layers, "work", 0o755));
    // The upper root shows as the container's /: give it DIR's mode and owners.
    var stat: linux.Stat = undefined;
    if (sys.errno(linux.fstatat(lower, "", &stat, AT_EMPTY_PATH)) == 0) {
        _ = linux.fchmodat(layers, "upper", stat.mode & 0o7777, 0);
        _ = linux.syscall5(.fchownat, @intCast(layers), @intFromPtr("upper"), stat.uid, stat.gid, 0);
    }

    var lower_option: [40]u8 = undefined;
    var upper_option: [40]u8 = undefined;
    var work_option: [40]u8 = undefined;
    const options = [_][2][*:0]const u8{
        .{ "lowerdir", (std.fmt.bufPrintZ(&lower_option, "/proc/self/fd/{d}", .{lower}) catch unreachable).ptr },
        .{ "upperdir", (std.fmt.bufPrintZ(&upper_option, "/proc/self/fd/{d}/upper", .{layers}) catch unreachable).ptr },
        .{ "workdir", (std.fmt.bufPrintZ(&work_option, "/proc/self/fd/{d}/work", .{layers}) catch unreachable).ptr },
        // In a user namespace overlayfs may keep its bookkeeping in user.* xattrs only.
        .{ "userxattr", "" },
    };
    const overlay = make_filesystem("overlay", &options, 0, .mount_overlay, reporter);
    sys.close(lower);
    sys.close(layers);
    attach_and_enter(overlay, .mount_overlay, reporter);
}

/// A new, detached filesystem of `kind` with `options` (an empty value: a flag), mounted
/// with the MS_ `attributes` that fsmount takes (nosuid, nodev).
fn make_filesystem(kind: [*:0]const u8, options: []const [2][*:0]const u8, attributes: u32, step: abi.Step, reporter: Reporter) sys.fd_t {
    const rc = linux.syscall2(.fsopen, @intFromPtr(kind), FSOPEN_CLOEXEC);
    reporter.check(step, rc);
    const context = sys.value(rc);
    for (options) |option| {
        const flag = option[1][0] == 0;
        const command: usize = if (flag) FSCONFIG_SET_FLAG else FSCONFIG_SET_STRING;
        const value: usize = if (flag) 0 else @intFromPtr(option[1]);
        reporter.check(step, linux.syscall5(.fsconfig, @intCast(context), command, @intFromPtr(option[0]), value, 0));
    }
    reporter.check(step, linux.syscall5(.fsconfig, @intCast(context), FSCONFIG_CMD_CREATE, 0, 0, 0));
    const mounted = linux.syscall3(.fsmount, @intCast(context), FSMOUNT_CLOEXEC, attributes);
    sys.close(context);
    reporter.check(step, mounted);
    return sys.value(mounted);
}

/// Makes every mount of `mounts`, in order, under the root that is the current directory.
/// `go`: the binds' trees and sources that came with the go message. A failure's report
/// names the mount by its index (src/child.ts names its target or source).
pub fn add_mounts(mounts: []const Mount, go: *const Go, reporter: Reporter) void {
    if (mounts.len == 0) return;
    const root_rc = linux.openat(cwd, ".", linux.O.PATH | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
    reporter.check(.resolve_mount_target, root_rc);
    const root = sys.value(root_rc);
    for (mounts, 0..) |mount, index| add_mount(root, mount, index, go, reporter.about(@intCast(index)));
    sys.close(root);
}

fn add_mount(root: sys.fd_t, mount: Mount, index: usize, go: *const Go, reporter: Reporter) void {
    const directory = mount.kind == kind_tmpfs or mount.flags & mount_directory != 0;
    const target = resolve(root, std.mem.span(mount.target), directory, reporter);
    const detached = if (mount.kind == kind_tmpfs) new_tmpfs(mount, reporter) else bind_tree(mount, index, go, reporter);
    reporter.check(.attach_mount, linux.syscall5(
        .move_mount,
        @intCast(detached),
        @intFromPtr(""),
        @intCast(target),
        @intFromPtr(""),
        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
    ));
    sys.close(detached);
    sys.close(target);
}

/// The detached tree to attach for bind `index`: the supervisor's, or one made here from
/// the source's fd. A bind without either cannot happen (the supervisor sends one for
/// every bind), and is refused rather than looked up by its path.
fn bind_tree(mount: Mount, index: usize, go: *const Go, reporter: Reporter) sys.fd_t {
    const at = go.find(index) orelse {
        reporter.check(.bind_source, errno_rc(.BADF));
        unreachable;
    };
    if (go.tags[at] & abi.go_tree != 0) return make_readonly(go.fds[at], mount, reporter);
    const tree = clone_source(go.fds[at], reporter);
    sys.close(go.fds[at]);
    return make_readonly(tree, mount, reporter);
}

/// A detached copy of the mount tree at `source`, an O_PATH fd the supervisor opened in
/// the host's mount namespace. The kernel copies only mounts of the caller's namespace,
/// so the fd is found again here: by the path the kernel gives for it, without following
/// any symbolic link, and taken only if it is the same file (device and inode); a source
/// moved or replaced meanwhile is refused (ESTALE). Recursive: a user namespace may not
/// copy a mount without the ones locked on top of it.
fn clone_source(source: sys.fd_t, reporter: Reporter) sys.fd_t {
    var link: [32]u8 = undefined;
    const link_path = std.fmt.bufPrintZ(&link, "/proc/self/fd/{d}", .{source}) catch unreachable;
    var path: [4097]u8 = undefined;
    const length_rc = linux.readlinkat(cwd, link_path, &path, path.len - 1);
    reporter.check(.bind_source, length_rc);
    path[@intCast(length_rc)] = 0;
    const how = OpenHow{ .flags = linux.O.PATH | linux.O.CLOEXEC | linux.O.NOFOLLOW, .mode = 0, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
    const here_rc = linux.syscall4(.openat2, @bitCast(@as(isize, cwd)), @intFromPtr(&path), @intFromPtr(&how), @sizeOf(OpenHow));
    reporter.check(.bind_source, here_rc);
    const here = sys.value(here_rc);
    var was: linux.Stat = undefined;
    var is: linux.Stat = undefined;
    reporter.check(.bind_source, linux.fstatat(source, "", &was, AT_EMPTY_PATH));
    reporter.check(.bind_source, linux.fstatat(here, "", &is, AT_EMPTY_PATH));
    if (was.dev != is.dev or was.ino != is.ino) reporter.check(.bind_source, errno_rc(.STALE));
    const rc = clone_tree(here);
    reporter.check(.bind_source, rc);
    sys.close(here);
    return sys.value(rc);
}

fn make_readonly(tree: sys.fd_t, mount: Mount, reporter: Reporter) sys.fd_t {
    if (mount.flags & mount_readonly != 0) {
        const attr = MountAttr{ .attr_set = MOUNT_ATTR_RDONLY, .attr_clr = 0, .propagation = 0, .userns_fd = 0 };
        reporter.check(.bind_readonly, set_tree_attr(tree, attr));
    }
    return tree;
}

fn new_tmpfs(mount: Mount, reporter: Reporter) sys.fd_t {
    const options: []const [2][*:0]const u8 = if (mount.size) |size| &.{.{ "size", size }} else &.{};
    return make_filesystem("tmpfs", options, linux.MS.NOSUID | linux.MS.NODEV, .mount_tmpfs, reporter);
}

/// An O_PATH fd of `target` under `root`, creating what is missing: directories on the
/// way, and the last component as a directory or an empty file. Each prefix is opened
/// from the root with RESOLVE_BENEATH, so symbolic links are followed only while they
/// stay inside the root; anything made is made in an already resolved directory with a
/// name that mkdirat and O_NOFOLLOW never follow.
fn resolve(root: sys.fd_t, target: []const u8, directory: bool, reporter: Reporter) sys.fd_t {
    var prefix: [4096]u8 = undefined;
    var length: usize = 0;
    var parent: sys.fd_t = root;
    var components = std.mem.tokenizeScalar(u8, target, '/');
    while (components.next()) |name| {
        if (length + name.len + 2 > prefix.len) reporter.check(.resolve_mount_target, errno_rc(.NAMETOOLONG));
        if (length > 0) {
            prefix[length] = '/';
            length += 1;
        }
        @memcpy(prefix[length..][0..name.len], name);
        length += name.len;
        prefix[length] = 0;
        const last = components.peek() == null;
        var rc = open_beneath(root, prefix[0..length :0]);
        if (sys.errno(rc) == @intFromEnum(linux.E.NOENT)) {
            var name_z: [256]u8 = undefined;
            if (name.len >= name_z.len) reporter.check(.resolve_mount_target, errno_rc(.NAMETOOLONG));
            @memcpy(name_z[0..name.len], name);
            name_z[name.len] = 0;
            create(parent, name_z[0..name.len :0], directory or !last, reporter);
            rc = open_beneath(root, prefix[0..length :0]);
        }
        reporter.check(.resolve_mount_target, rc);
        if (parent != root) sys.close(parent);
        parent = sys.value(rc);
    }
    // An empty target is the root itself, which the container's root mount already is.
    if (parent == root) reporter.check(.resolve_mount_target, errno_rc(.INVAL));
    return parent;
}

fn open_beneath(root: sys.fd_t, path: [*:0]const u8) usize {
    const how = OpenHow{ .flags = linux.O.PATH | linux.O.CLOEXEC, .mode = 0, .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
    return linux.syscall4(.openat2, @intCast(root), @intFromPtr(path), @intFromPtr(&how), @sizeOf(OpenHow));
}

fn create(parent: sys.fd_t, name: [*:0]const u8, directory: bool, reporter: Reporter) void {
    const rc = if (directory)
        linux.mkdirat(parent, name, 0o755)
    else
        linux.openat(parent, name, linux.O.WRONLY | linux.O.CREAT | linux.O.EXCL | linux.O.NOFOLLOW | linux.O.CLOEXEC, 0o644);
    // EEXIST: a dangling symbolic link or a race; the open that follows judges it.
    if (sys.errno(rc) == @intFromEnum(linux.E.EXIST)) return;
    reporter.check(.create_mount_target, rc);
    if (!directory) sys.close(sys.value(rc));
}

fn errno_rc(e: linux.E) usize {
    return @bitCast(-@as(isize, @intFromEnum(e)));
}
