//! The supervisor's side of a bind, as host root: the detached, ID-mapped tree that the
//! go message carries to the holder (go.zig), which attaches it (binds.zig).
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const binds = @import("binds.zig");

const cwd = linux.AT.FDCWD;
const MOUNT_ATTR_IDMAP = 0x100000;

/// Supervisor side, as host root: a detached copy of the mount tree at `source` (an
/// O_PATH fd), ID-mapped through the user namespace of `pid` (the holder's) when `pid` is
/// not 0, so that host root's files are container root's. Changing a mount's ID mapping
/// needs CAP_SYS_ADMIN over the user namespace that owns the source mount, which the
/// holder, inside its own namespace, does not have. Returns the fd or -errno.
pub fn source_tree(source: sys.fd_t, pid: i32) i32 {
    const rc = binds.clone_tree(source);
    if (sys.errno(rc) != 0) return -@as(i32, @intCast(sys.errno(rc)));
    const tree = sys.value(rc);
    if (pid == 0) return tree;
    var buffer: [32]u8 = undefined;
    const path = std.fmt.bufPrintZ(&buffer, "/proc/{d}/ns/user", .{pid}) catch unreachable;
    const ns_rc = linux.openat(cwd, path, linux.O.RDONLY | linux.O.CLOEXEC, 0);
    var e = sys.errno(ns_rc);
    if (e == 0) {
        const userns = sys.value(ns_rc);
        const attr = binds.MountAttr{ .attr_set = MOUNT_ATTR_IDMAP, .attr_clr = 0, .propagation = 0, .userns_fd = @intCast(userns) };
        e = sys.errno(binds.set_tree_attr(tree, attr));
        sys.close(userns);
    }
    if (e != 0) {
        sys.close(tree);
        return -@as(i32, @intCast(e));
    }
    return tree;
}
