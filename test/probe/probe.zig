//! A static program the tests copy into container roots to try what an untrusted root
//! filesystem would try. No libc, so it runs in any root.
//!
//!   probe tiocsti TEXT           push TEXT into the input of the terminal on fd 0, with the
//!                                request as the kernel reads it and with high bits set
//!   probe tiocsetd               set the line discipline of the terminal on fd 0 to N_NULL
//!                                (which reads and writes nothing), plain and with high bits
//!   probe key-add DESC DATA CMD  join a new session keyring, add a user key, exec CMD...
//!   probe key-read DESC          print the user key DESC found from the session keyring
//!   probe become ID CMD...       set every UID and GID to ID (clearing the parent-death
//!                                signal, as su does), then exec CMD...
//!   probe unlock PATH            make the read-only mount at PATH writable with
//!                                mount_setattr, on it and on a detached copy of it
//!
//! Each prints one line saying what happened; the exit status is 0 when the attempt worked.
const std = @import("std");
const linux = std.os.linux;

const TIOCSTI = 0x5412;
const TIOCGETD = 0x5424;
const TIOCSETD = 0x5423;
const N_NULL: i32 = 27;
const KEY_SPEC_SESSION_KEYRING: usize = @bitCast(@as(isize, -3));
const KEYCTL_JOIN_SESSION_KEYRING = 1;
const KEYCTL_SEARCH = 10;
const KEYCTL_READ = 11;

fn print(comptime format: []const u8, args: anytype) void {
    var buffer: [512]u8 = undefined;
    const text = std.fmt.bufPrint(&buffer, format ++ "\n", args) catch return;
    _ = linux.write(1, text.ptr, text.len);
}

fn errno(rc: usize) u16 {
    return @intFromEnum(linux.getErrno(rc));
}

fn tiocsti(text: []const u8) u8 {
    var pushed: usize = 0;
    var last: u16 = 0;
    // The second request differs only above bit 31, which the kernel drops: a filter that
    // compared all 64 bits would let it through.
    const requests = [_]usize{ TIOCSTI, 0x1_0000_0000 | TIOCSTI };
    for (requests) |request| {
        for (text) |*byte| {
            const rc = linux.syscall3(.ioctl, 0, request, @intFromPtr(byte));
            if (errno(rc) == 0) pushed += 1 else last = errno(rc);
        }
    }
    if (pushed > 0) {
        print("tiocsti: pushed {d} bytes", .{pushed});
        return 0;
    }
    print("tiocsti: refused, errno {d}", .{last});
    return 1;
}

fn tiocsetd() u8 {
    var last: u16 = 0;
    const requests = [_]usize{ 0x1_0000_0000 | TIOCSETD, TIOCSETD };
    for (requests) |request| {
        const rc = linux.syscall3(.ioctl, 0, request, @intFromPtr(&N_NULL));
        if (errno(rc) != 0) {
            last = errno(rc);
            continue;
        }
        var now: i32 = -1;
        _ = linux.syscall3(.ioctl, 0, TIOCGETD, @intFromPtr(&now));
        print("tiocsetd: set, line discipline now {d}", .{now});
        return 0;
    }
    print("tiocsetd: refused, errno {d}", .{last});
    return 1;
}

fn key_add(description: [*:0]const u8, data: []const u8, argv: [*:null]const ?[*:0]const u8, envp: [*:null]const ?[*:0]const u8) u8 {
    var rc = linux.syscall2(.keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0);
    if (errno(rc) != 0) {
        print("key-add: cannot join a session keyring, errno {d}", .{errno(rc)});
        return 2;
    }
    rc = linux.syscall5(.add_key, @intFromPtr("user"), @intFromPtr(description), @intFromPtr(data.ptr), data.len, KEY_SPEC_SESSION_KEYRING);
    if (errno(rc) != 0) {
        print("key-add: failed, errno {d}", .{errno(rc)});
        return 2;
    }
    rc = linux.execve(argv[0].?, argv, envp);
    print("key-add: cannot execute, errno {d}", .{errno(rc)});
    return 2;
}

fn key_read(description: [*:0]const u8) u8 {
    const id = linux.syscall5(.keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, @intFromPtr("user"), @intFromPtr(description), 0);
    if (errno(id) != 0) {
        print("key-read: not found, errno {d}", .{errno(id)});
        return 1;
    }
    var buffer: [256]u8 = undefined;
    const n = linux.syscall4(.keyctl, KEYCTL_READ, id, @intFromPtr(&buffer), buffer.len);
    if (errno(n) != 0) {
        print("key-read: found but unreadable, errno {d}", .{errno(n)});
        return 1;
    }
    print("key-read: {s}", .{buffer[0..@min(n, buffer.len)]});
    return 0;
}

fn become(id_text: []const u8, argv: [*:null]const ?[*:0]const u8, envp: [*:null]const ?[*:0]const u8) u8 {
    const id = std.fmt.parseInt(u32, id_text, 10) catch return 64;
    _ = linux.syscall2(.setgroups, 0, 0);
    var rc = linux.setresgid(id, id, id);
    if (errno(rc) == 0) rc = linux.setresuid(id, id, id);
    if (errno(rc) != 0) {
        print("become: failed, errno {d}", .{errno(rc)});
        return 2;
    }
    rc = linux.execve(argv[0].?, argv, envp);
    print("become: cannot execute, errno {d}", .{errno(rc)});
    return 2;
}

const AT_EMPTY_PATH = 0x1000;
const AT_RECURSIVE = 0x8000;
const OPEN_TREE_CLONE = 1;
const MOUNT_ATTR_RDONLY = 0x1;
const MountAttr = extern struct { attr_set: u64, attr_clr: u64, propagation: u64, userns_fd: u64 };

fn unlock(path: [*:0]const u8) u8 {
    const attr = MountAttr{ .attr_set = 0, .attr_clr = MOUNT_ATTR_RDONLY, .propagation = 0, .userns_fd = 0 };
    const cwd: usize = @bitCast(@as(isize, linux.AT.FDCWD));
    const in_place = linux.syscall5(.mount_setattr, cwd, @intFromPtr(path), 0, @intFromPtr(&attr), @sizeOf(MountAttr));
    const tree = linux.syscall3(.open_tree, cwd, @intFromPtr(path), OPEN_TREE_CLONE | AT_RECURSIVE);
    var copy: u16 = errno(tree);
    if (copy == 0) copy = errno(linux.syscall5(.mount_setattr, tree, @intFromPtr(""), AT_EMPTY_PATH, @intFromPtr(&attr), @sizeOf(MountAttr)));
    print("unlock: in place errno {d}, copy errno {d}", .{ errno(in_place), copy });
    return if (errno(in_place) == 0 or copy == 0) 0 else 1;
}

pub fn main() u8 {
    const argv: [*:null]const ?[*:0]const u8 = @ptrCast(std.os.argv.ptr);
    const args = std.os.argv;
    const envp: [*:null]const ?[*:0]const u8 = @ptrCast(std.os.environ.ptr);
    if (args.len >= 3 and std.mem.eql(u8, std.mem.span(args[1]), "tiocsti")) return tiocsti(std.mem.span(args[2]));
    if (args.len >= 2 and std.mem.eql(u8, std.mem.span(args[1]), "tiocsetd")) return tiocsetd();
    if (args.len >= 5 and std.mem.eql(u8, std.mem.span(args[1]), "key-add")) return key_add(args[2], std.mem.span(args[3]), argv + 4, envp);
    if (args.len >= 3 and std.mem.eql(u8, std.mem.span(args[1]), "key-read")) return key_read(args[2]);
    if (args.len >= 4 and std.mem.eql(u8, std.mem.span(args[1]), "become")) return become(std.mem.span(args[2]), argv + 3, envp);
    if (args.len >= 3 and std.mem.eql(u8, std.mem.span(args[1]), "unlock")) return unlock(args[2]);
    print("usage: probe tiocsti TEXT | tiocsetd | key-add DESC DATA CMD... | key-read DESC | become ID CMD... | unlock PATH", .{});
    return 64;
}
