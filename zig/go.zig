//! The go message: what the supervisor sends the holder once its ID maps are written,
//! over the go socket (spawn.zig makes it). One go byte's word, and one fd per bind
//! (SCM_RIGHTS), each with a tag that says which mount it is for and what it is
//! (abi.go_tree); binds.zig mounts them. EOF instead of the message: the supervisor gave up.
const std = @import("std");
const linux = std.os.linux;
const sys = @import("sys.zig");
const abi = @import("abi.zig");

const max_binds = abi.max_binds;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_CMSG_CLOEXEC = 0x40000000;

/// The fds that came with the go message, and for each the word that says what it is
/// (abi.go_tree).
pub const Go = struct {
    fds: [max_binds]i32 = undefined,
    tags: [max_binds]u32 = undefined,
    count: usize = 0,

    /// The fd and tag for mount `index`, if one came.
    pub fn find(self: *const Go, index: usize) ?usize {
        for (self.tags[0..self.count], 0..) |tag, at| {
            if (tag & abi.go_index_mask == index) return at;
        }
        return null;
    }
};

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
const Control = extern struct { header: ControlHeader, fds: [max_binds]i32 };
/// The go message's bytes: the go byte's word, then a tag for each fd attached.
const Words = [1 + max_binds]u32;

/// Supervisor side: the go message, with `fds` attached (SCM_RIGHTS) when there are any,
/// and `tags` saying what each is.
pub fn send(socket: sys.fd_t, fds: []const i32, tags: []const u32) u32 {
    std.debug.assert(fds.len <= max_binds and tags.len == fds.len);
    var words: Words = undefined;
    words[0] = 'x';
    @memcpy(words[1..][0..tags.len], tags);
    const iov = [1]Iovec{.{ .base = @intFromPtr(&words), .len = 4 * (1 + tags.len) }};
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

/// Holder side: waits for the go message and keeps the fds and tags that came with it in
/// `go`. Returns false at EOF (the supervisor gave up).
pub fn receive(socket: sys.fd_t, go: *Go) bool {
    var words: Words = undefined;
    const iov = [1]Iovec{.{ .base = @intFromPtr(&words), .len = @sizeOf(Words) }};
    var control: Control = undefined;
    var message = MessageHeader{ .iov = &iov, .control = @intFromPtr(&control), .control_len = @sizeOf(Control) };
    var received: usize = 0;
    while (true) {
        const rc = linux.syscall3(.recvmsg, @intCast(socket), @intFromPtr(&message), MSG_CMSG_CLOEXEC);
        if (sys.errno(rc) == @intFromEnum(linux.E.INTR)) continue;
        if (sys.errno(rc) != 0 or rc < 4 or rc % 4 != 0) return false;
        received = rc;
        break;
    }
    go.count = 0;
    if (message.control_len < @sizeOf(ControlHeader)) return true;
    if (control.header.level != SOL_SOCKET or control.header.type != SCM_RIGHTS) return true;
    const count = @min((control.header.len - @sizeOf(ControlHeader)) / 4, max_binds, received / 4 - 1);
    @memcpy(go.fds[0..count], control.fds[0..count]);
    @memcpy(go.tags[0..count], words[1..][0..count]);
    go.count = count;
    return true;
}
