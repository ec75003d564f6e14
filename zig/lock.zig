//! The container's own user namespace, which locks the root the holder built.
//!
//! The holder builds the root (DIR, the overlay of -e, /dev, binds and tmpfs mounts) as
//! root of its user namespace, in a mount namespace that namespace owns: there, nothing
//! it mounted is locked against it, and container root would be as free to undo it
//! (remount a `:ro` bind read-write, unmount a bind to see what it covers). The kernel
//! locks mounts when it copies them into a mount namespace owned by a less privileged
//! user namespace: each becomes MNT_LOCKED (no unmounting or moving it away from what it
//! covers) and keeps its flags for good (MNT_LOCK_READONLY and the like). So the holder
//! then enters a user namespace nested in its own, whose maps give every ID the holder's
//! namespace maps to itself (so every file keeps its owner), and unshares the container's
//! mount namespace, and the others, from there.
//!
//! Only a process in the parent namespace with CAP_SETUID and CAP_SETGID there may write
//! the nested namespace's maps: a child started before the unshare, which stays behind
//! as root of the holder's namespace, writes them and exits.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const clone = @import("clone.zig");
const files = @import("files.zig");
const start = @import("start.zig");
const binds = @import("binds.zig");
const Reporter = @import("report.zig").Reporter;
const Start = start.Start;

/// The stack the map writer runs on: init's, which is free until init starts.
const writer_stack = 1;

const Writer = struct {
    gate: [2]i32,
    holder: i32,
    uid_map: [*:0]const u8,
    gid_map: [*:0]const u8,
};

/// Moves the holder into the container's user namespace, with the maps of
/// config.lock_uid_map and lock_gid_map, as its root, and unshares the container's mount
/// namespace there: every mount the holder made is locked from then on.
pub fn enter(args: *const Start, reporter: Reporter) void {
    const config = args.config;
    const invalid = @intFromEnum(linux.E.INVAL);
    const uid_map = config.lock_uid_map orelse reporter.fail(.lock_mounts, invalid);
    const gid_map = config.lock_gid_map orelse reporter.fail(.lock_mounts, invalid);
    var gate: [2]i32 = undefined;
    reporter.check(.pipe, linux.pipe2(&gate, linux.O.CLOEXEC));
    const writer = Writer{ .gate = gate, .holder = linux.getpid(), .uid_map = uid_map, .gid_map = gid_map };
    const rc = clone.start(Writer, write_maps, clone.stack(args.region, writer_stack), 0, null, writer);
    reporter.check(.fork, rc);
    sys.close(gate[0]);
    // The writer opens this process's map files, which are its owner's only while the
    // memory is dumpable; becoming root of a namespace whose map moved the group (as host
    // root's default does) made it not. Dumpable for the writer's open, then as it was.
    const dumpable = linux.prctl(@intFromEnum(linux.PR.GET_DUMPABLE), 0, 0, 0, 0);
    if (dumpable != 1) sys.set_dumpable(true);
    const e = sys.errno(linux.unshare(linux.CLONE.NEWUSER));
    // The writer goes on only with the go byte; EOF sends it away.
    if (e == 0) _ = sys.write_all(gate[1], "x");
    sys.close(gate[1]);
    const status = sys.wait_status(.PID, sys.value(rc));
    if (dumpable != 1) sys.set_dumpable(false);
    if (e != 0) reporter.fail(.lock_mounts, e);
    if (status != 0) reporter.fail(.lock_mounts, status);
    start.become_root(reporter, args.parent);
    reporter.check(.unshare_lock_mount, linux.unshare(linux.CLONE.NEWNS));
    // pivot_root refuses a locked mount as the new root: the root is bound onto itself
    // once more, here, which makes its top mount the container's own while everything
    // on and under it stays locked.
    binds.bind_root(reporter);
}

/// The map writer: root of the holder's namespace, it writes the maps of the one the
/// holder has entered. Exits 0, or with the errno that stopped it.
fn write_maps(writer: *const Writer) noreturn {
    sys.close(writer.gate[1]);
    if (!sys.read_byte(writer.gate[0])) sys.exit(@intFromEnum(linux.E.CANCELED));
    const maps = [_][2][]const u8{ .{ "uid_map", std.mem.span(writer.uid_map) }, .{ "gid_map", std.mem.span(writer.gid_map) } };
    for (maps) |map| {
        var buffer: [48]u8 = undefined;
        const path = std.fmt.bufPrintZ(&buffer, "/proc/{d}/{s}", .{ writer.holder, map[0] }) catch unreachable;
        const e = files.write(path, map[1]);
        if (e != 0) sys.exit(@intCast(e));
    }
    sys.exit(0);
}
