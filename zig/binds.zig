//! What a caller adds to the container's root: a throwaway overlay over DIR, and bind and
//! tmpfs mounts at targets inside it. Run by the holder in its private mount namespace,
//! before the pivot, with raw system calls only.
//!
//! Targets are resolved under the root with openat2(RESOLVE_BENEATH) one prefix at a
//! time: a `..` or a symbolic link that leads out of DIR is refused (EXDEV) instead of
//! being followed onto the host's files, and mounts attach to the resolved fd, so no path
//! is looked up twice.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const spawn = @import("spawn.zig");

const Reporter = spawn.Reporter;
const cwd = linux.AT.FDCWD;

pub const kind_bind: u32 = 1;
pub const kind_tmpfs: u32 = 2;
pub const mount_readonly: u32 = 1;
/// The bind's source is a directory, so a missing target is made as one (else as a file).
pub const mount_directory: u32 = 2;

/// One entry of Config.mounts; src/native.ts writes the same layout.
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

/// At most this many ID-mapped trees travel with the go message; more binds stay plain.
pub const max_idmapped = 16;

// Constants from the kernel's uapi headers that Zig 0.11's std lacks.
const OPEN_TREE_CLONE = 1;
const AT_RECURSIVE = 0x8000;
const AT_EMPTY_PATH = 0x1000;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH = 0x40;
const MOUNT_ATTR_RDONLY = 0x1;
const MOUNT_ATTR_IDMAP = 0x100000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_CMSG_CLOEXEC = 0x40000000;
const FSOPEN_CLOEXEC = 1;
const FSMOUNT_CLOEXEC = 1;
const FSCONFIG_SET_STRING = 1;
const FSCONFIG_CMD_CREATE = 6;
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_BENEATH = 0x08;

const OpenHow = extern struct { flags: u64, mode: u64, resolve: u64 };
const MountAttr = extern struct { attr_set: u64, attr_clr: u64, propagation: u64, userns_fd: u64 };

/// Covers DIR with an overlay whose lower layer is DIR and whose upper layer is a tmpfs
/// of this mount namespace only: the container writes there, DIR is never written, and
/// the tmpfs goes with the namespace. Mounted over DIR itself, so nothing is made on the
/// host; the layers are named through /proc/self/fd so that no path needs escaping.
pub fn overlay_root(root: [*:0]const u8, reporter: Reporter) void {
    const lower_rc = linux.openat(cwd, root, linux.O.PATH | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
    reporter.check(.mount_overlay_tmpfs, lower_rc);
    const lower = sys.value(lower_rc);
    reporter.check(.mount_overlay_tmpfs, linux.mount("tmpfs", root, "tmpfs", linux.MS.NOSUID, @intFromPtr("mode=0755")));
    const layers_rc = linux.openat(cwd, root, linux.O.PATH | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
    reporter.check(.mount_overlay_tmpfs, layers_rc);
    const layers = sys.value(layers_rc);
    reporter.check(.mount_overlay_tmpfs, linux.mkdirat(layers, "upper", 0o755));
    reporter.check(.mount_overlay_tmpfs, linux.mkdirat(layers, "work", 0o755));
    // The upper root shows as the container's /: give it DIR's mode and owners.
    var stat: linux.Stat = undefined;
    if (sys.errno(linux.fstatat(lower, "", &stat, AT_EMPTY_PATH)) == 0) {
        _ = linux.fchmodat(layers, "upper", stat.mode & 0o7777, 0);
        _ = linux.syscall5(.fchownat, @intCast(layers), @intFromPtr("upper"), stat.uid, stat.gid, 0);
    }

    var buffer: [160]u8 = undefined;
    // userxattr: in a user namespace overlayfs may keep its bookkeeping in user.* xattrs only.
    const format = "lowerdir=/proc/self/fd/{d},upperdir=/proc/self/fd/{d}/upper,workdir=/proc/self/fd/{d}/work,userxattr";
    const options = std.fmt.bufPrintZ(&buffer, format, .{ lower, layers, layers }) catch unreachable;
    reporter.check(.mount_overlay, linux.mount("overlay", root, "overlay", 0, @intFromPtr(options.ptr)));
    sys.close(lower);
    sys.close(layers);
}

/// Makes every mount of `mounts`, in order, under the root that is the current directory.
/// `idmapped`: the ID-mapped trees that came with the go message.
pub fn add_mounts(mounts: []const Mount, idmapped: []const i32, reporter: Reporter) void {
    if (mounts.len == 0) return;
    const root_rc = linux.openat(cwd, ".", linux.O.PATH | linux.O.DIRECTORY | linux.O.CLOEXEC, 0);
    reporter.check(.resolve_mount_target, root_rc);
    const root = sys.value(root_rc);
    for (mounts, 0..) |mount, index| add_mount(root, mount, idmapped, .{ .reporter = reporter, .index = @intCast(index) });
    sys.close(root);
}

/// A reporter that first says which mount failed (src/child.ts names its target).
const MountReporter = struct {
    reporter: Reporter,
    index: u32,

    fn check(self: MountReporter, step: spawn.Step, rc: usize) void {
        const e = sys.errno(rc);
        if (e == 0) return;
        self.reporter.send(.mount_index, self.index);
        self.reporter.fail(step, e);
    }
};

fn add_mount(root: sys.fd_t, mount: Mount, idmapped: []const i32, reporter: MountReporter) void {
    const directory = mount.kind == kind_tmpfs or mount.flags & mount_directory != 0;
    const target = resolve(root, std.mem.span(mount.target), directory, reporter);
    const detached = if (mount.kind == kind_tmpfs)
        new_tmpfs(mount, reporter)
    else if (mount.idmapped >= 0 and mount.idmapped < idmapped.len)
        make_readonly(idmapped[@intCast(mount.idmapped)], mount, reporter)
    else
        clone_tree(mount, reporter);
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

/// A detached copy of the source's mount tree (recursive: a user namespace may not copy
/// a mount without the ones locked on top of it), read-only if asked.
fn clone_tree(mount: Mount, reporter: MountReporter) sys.fd_t {
    const flags = OPEN_TREE_CLONE | linux.O.CLOEXEC | AT_RECURSIVE;
    const rc = linux.syscall3(.open_tree, @bitCast(@as(isize, cwd)), @intFromPtr(mount.source.?), flags);
    reporter.check(.bind_source, rc);
    return make_readonly(sys.value(rc), mount, reporter);
}

fn make_readonly(tree: sys.fd_t, mount: Mount, reporter: MountReporter) sys.fd_t {
    if (mount.flags & mount_readonly != 0) {
        const attr = MountAttr{ .attr_set = MOUNT_ATTR_RDONLY, .attr_clr = 0, .propagation = 0, .userns_fd = 0 };
        reporter.check(.bind_readonly, linux.syscall5(
            .mount_setattr,
            @intCast(tree),
            @intFromPtr(""),
            AT_EMPTY_PATH | AT_RECURSIVE,
            @intFromPtr(&attr),
            @sizeOf(MountAttr),
        ));
    }
    return tree;
}

fn new_tmpfs(mount: Mount, reporter: MountReporter) sys.fd_t {
    const rc = linux.syscall2(.fsopen, @intFromPtr("tmpfs"), FSOPEN_CLOEXEC);
    reporter.check(.mount_tmpfs, rc);
    const context = sys.value(rc);
    if (mount.size) |size| {
        reporter.check(.mount_tmpfs, linux.syscall5(.fsconfig, @intCast(context), FSCONFIG_SET_STRING, @intFromPtr("size"), @intFromPtr(size), 0));
    }
    reporter.check(.mount_tmpfs, linux.syscall5(.fsconfig, @intCast(context), FSCONFIG_CMD_CREATE, 0, 0, 0));
    const mounted = linux.syscall3(.fsmount, @intCast(context), FSMOUNT_CLOEXEC, linux.MS.NOSUID | linux.MS.NODEV);
    sys.close(context);
    reporter.check(.mount_tmpfs, mounted);
    return sys.value(mounted);
}

/// An O_PATH fd of `target` under `root`, creating what is missing: directories on the
/// way, and the last component as a directory or an empty file. Each prefix is opened
/// from the root with RESOLVE_BENEATH, so symbolic links are followed only while they
/// stay inside the root; anything made is made in an already resolved directory with a
/// name that mkdirat and O_NOFOLLOW never follow.
fn resolve(root: sys.fd_t, target: []const u8, directory: bool, reporter: MountReporter) sys.fd_t {
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

fn create(parent: sys.fd_t, name: [*:0]const u8, directory: bool, reporter: MountReporter) void {
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

/// Supervisor side, as host root: a detached copy of `source` whose IDs appear through the
/// user namespace of `pid` (the holder's), so that host root's files are container root's.
/// Changing a mount's ID mapping needs CAP_SYS_ADMIN over the user namespace that owns the
/// source mount, which the holder, inside its own namespace, does not have. Returns the
/// fd or -errno.
pub fn idmap_tree(source: [*:0]const u8, pid: i32) i32 {
    var buffer: [32]u8 = undefined;
    const path = std.fmt.bufPrintZ(&buffer, "/proc/{d}/ns/user", .{pid}) catch unreachable;
    const ns_rc = linux.openat(cwd, path, linux.O.RDONLY | linux.O.CLOEXEC, 0);
    if (sys.errno(ns_rc) != 0) return -@as(i32, @intCast(sys.errno(ns_rc)));
    const userns = sys.value(ns_rc);
    defer sys.close(userns);
    const flags = OPEN_TREE_CLONE | linux.O.CLOEXEC | AT_RECURSIVE;
    const rc = linux.syscall3(.open_tree, @bitCast(@as(isize, cwd)), @intFromPtr(source), flags);
    if (sys.errno(rc) != 0) return -@as(i32, @intCast(sys.errno(rc)));
    const tree = sys.value(rc);
    const attr = MountAttr{ .attr_set = MOUNT_ATTR_IDMAP, .attr_clr = 0, .propagation = 0, .userns_fd = @intCast(userns) };
    const set = linux.syscall5(.mount_setattr, @intCast(tree), @intFromPtr(""), AT_EMPTY_PATH | AT_RECURSIVE, @intFromPtr(&attr), @sizeOf(MountAttr));
    if (sys.errno(set) != 0) {
        sys.close(tree);
        return -@as(i32, @intCast(sys.errno(set)));
    }
    return tree;
}

/// The kernel's struct msghdr and struct cmsghdr on 64-bit Linux.
const MessageHeader = extern struct {
    name: usize = 0,
    name_len: u32 = 0,
    iov: *const [1]Iovec,
    iov_len: usize = 1,
    control: usize,
    control_len: usize,
    flags: u32 = 0,
};
const Iovec = extern struct { base: usize, len: usize };
const ControlHeader = extern struct { len: usize, level: i32, type: i32 };
const Control = extern struct { header: ControlHeader, fds: [max_idmapped]i32 };

/// Supervisor side: the go byte, with `fds` attached (SCM_RIGHTS) when there are any.
pub fn send_go(socket: sys.fd_t, fds: []const i32) u32 {
    std.debug.assert(fds.len <= max_idmapped);
    var byte: u8 = 'x';
    const iov = [1]Iovec{.{ .base = @intFromPtr(&byte), .len = 1 }};
    var control = Control{ .header = .{ .len = @sizeOf(ControlHeader) + 4 * fds.len, .level = SOL_SOCKET, .type = SCM_RIGHTS }, .fds = undefined };
    @memcpy(control.fds[0..fds.len], fds);
    const message = MessageHeader{
        .iov = &iov,
        .control = if (fds.len == 0) 0 else @intFromPtr(&control),
        .control_len = if (fds.len == 0) 0 else std.mem.alignForward(usize, control.header.len, 8),
    };
    while (true) {
        const rc = linux.syscall3(.sendmsg, @intCast(socket), @intFromPtr(&message), linux.MSG.NOSIGNAL);
        if (sys.errno(rc) == @intFromEnum(linux.E.INTR)) continue;
        return sys.errno(rc);
    }
}

/// Holder side: waits for the go byte and keeps the fds that came with it in `fds`.
/// Returns how many, or null at EOF (the supervisor gave up).
pub fn receive_go(socket: sys.fd_t, fds: *[max_idmapped]i32) ?usize {
    var byte: u8 = 0;
    const iov = [1]Iovec{.{ .base = @intFromPtr(&byte), .len = 1 }};
    var control: Control = undefined;
    var message = MessageHeader{ .iov = &iov, .control = @intFromPtr(&control), .control_len = @sizeOf(Control) };
    while (true) {
        const rc = linux.syscall3(.recvmsg, @intCast(socket), @intFromPtr(&message), MSG_CMSG_CLOEXEC);
        if (sys.errno(rc) == @intFromEnum(linux.E.INTR)) continue;
        if (sys.errno(rc) != 0 or rc != 1) return null;
        break;
    }
    if (message.control_len < @sizeOf(ControlHeader)) return 0;
    if (control.header.level != SOL_SOCKET or control.header.type != SCM_RIGHTS) return 0;
    const count = @min((control.header.len - @sizeOf(ControlHeader)) / 4, max_idmapped);
    @memcpy(fds[0..count], control.fds[0..count]);
    return count;
}
