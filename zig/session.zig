//! What a container's processes must not inherit from the session of whoever started them:
//! the session keyring (keys added on the host would be readable inside) and the power to
//! push input into a terminal they share with the host (TIOCSTI, CVE-2017-5226 in
//! bubblewrap's terms) or to leave it unusable (TIOCSETD). Runs between clone and exec:
//! raw system calls only.
const std = @import("std");
const builtin = @import("builtin");
const linux = std.os.linux;
const sys = @import("sys.zig");

const KEYCTL_JOIN_SESSION_KEYRING = 1;

/// Replaces the session keyring with a new, empty, anonymous one, as runc and crun do for
/// every container. A kernel without keys (ENOSYS) has nothing to leak. Returns an errno.
pub fn leave_keyring() u32 {
    const e = sys.errno(linux.syscall2(.keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0));
    return if (e == @intFromEnum(linux.E.NOSYS)) 0 else e;
}

const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541C;
const TIOCSETD = 0x5423;

const Instruction = extern struct { code: u16, jt: u8, jf: u8, k: u32 };
const Program = extern struct { len: u16, filter: [*]const Instruction };

const load_word = 0x20; // BPF_LD | BPF_W | BPF_ABS
const jump_equal = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const return_value = 0x06; // BPF_RET | BPF_K
const allow = 0x7fff0000; // SECCOMP_RET_ALLOW
const deny: u32 = 0x00050000 | @as(u32, @intFromEnum(linux.E.PERM)); // SECCOMP_RET_ERRNO | EPERM

/// The ioctl system call of this architecture and of the 32-bit one its kernel also runs.
const Abi = struct { arch: u32, ioctl: u32, ioctl_alternate: u32, compat_arch: u32, compat_ioctl: u32 };
const abi: Abi = switch (builtin.cpu.arch) {
    // x32 numbers its ioctl 512 + 2 with the x32 bit set; ia32 numbers it 54.
    .x86_64 => .{ .arch = 0xC000003E, .ioctl = 16, .ioctl_alternate = 0x40000000 | 514, .compat_arch = 0x40000003, .compat_ioctl = 54 },
    // arm (aarch32) numbers it 54 too.
    .aarch64 => .{ .arch = 0xC00000B7, .ioctl = 29, .ioctl_alternate = 29, .compat_arch = 0x40000028, .compat_ioctl = 54 },
    else => @compileError("session.zig supports x86_64 and aarch64"),
};

/// seccomp_data: nr at 0, arch at 4, then args[] from 16; args[1] is the ioctl request.
/// The kernel takes the request as an unsigned int, so only its low 32 bits (the first
/// word on these little-endian machines) may be compared: a filter that looked at all 64
/// would let 0x1_0000_5412 through as TIOCSTI (flatpak's CVE-2019-10063).
const offset_nr = 0;
const offset_arch = 4;
const offset_request = 24;

const filter = [_]Instruction{
    .{ .code = load_word, .jt = 0, .jf = 0, .k = offset_arch }, // 0
    .{ .code = jump_equal, .jt = 0, .jf = 3, .k = abi.arch }, // 1: else 5
    .{ .code = load_word, .jt = 0, .jf = 0, .k = offset_nr }, // 2
    .{ .code = jump_equal, .jt = 4, .jf = 0, .k = abi.ioctl }, // 3: then 8
    .{ .code = jump_equal, .jt = 3, .jf = 7, .k = abi.ioctl_alternate }, // 4: then 8, else 12
    .{ .code = jump_equal, .jt = 0, .jf = 6, .k = abi.compat_arch }, // 5: else 12
    .{ .code = load_word, .jt = 0, .jf = 0, .k = offset_nr }, // 6
    .{ .code = jump_equal, .jt = 0, .jf = 4, .k = abi.compat_ioctl }, // 7: else 12
    .{ .code = load_word, .jt = 0, .jf = 0, .k = offset_request }, // 8
    .{ .code = jump_equal, .jt = 3, .jf = 0, .k = TIOCSTI }, // 9: then 13
    .{ .code = jump_equal, .jt = 2, .jf = 0, .k = TIOCLINUX }, // 10: then 13
    .{ .code = jump_equal, .jt = 1, .jf = 0, .k = TIOCSETD }, // 11: then 13
    .{ .code = return_value, .jt = 0, .jf = 0, .k = allow }, // 12
    .{ .code = return_value, .jt = 0, .jf = 0, .k = deny }, // 13
};

const SECCOMP_SET_MODE_FILTER = 1;

/// Refuses TIOCSTI (push bytes into a terminal's input queue), TIOCLINUX (whose paste
/// does the same on a virtual console) and TIOCSETD (change the line discipline: N_NULL
/// leaves a terminal that reads and writes nothing, after contain exits too) with EPERM,
/// for this process and everything it starts. A process in the container may share
/// contain's terminal (`contain -c`, inject), and what it pushed would be read by the
/// host's shell once contain exits. TIOCSETD is refused on every fd, the container's own
/// console pty included: a filter sees fd numbers, not what they name, and no container
/// needs another line discipline on a terminal. Everything else a terminal allows stays
/// allowed, so job control and ^C work as they would for CMD run directly. Needs
/// CAP_SYS_ADMIN in the current user namespace (container root has it), so no_new_privs
/// is not set and setuid programs inside still work. Returns an errno.
pub fn deny_terminal_injection() u32 {
    const program = Program{ .len = filter.len, .filter = &filter };
    return sys.errno(linux.syscall3(.seccomp, SECCOMP_SET_MODE_FILTER, 0, @intFromPtr(&program)));
}

test "the filter's jumps land where the comments say" {
    const expect = std.testing.expect;
    for (filter, 0..) |instruction, at| {
        if (instruction.code != jump_equal) continue;
        try expect(at + 1 + instruction.jt < filter.len);
        try expect(at + 1 + instruction.jf < filter.len);
    }
    try expect(filter[12].k == allow and filter[13].k == deny);
    try expect(filter[1].jf + 1 + 1 == 5 and filter[5].jf + 5 + 1 == 12 and filter[7].jf + 7 + 1 == 12);
    try expect(filter[3].jt + 3 + 1 == 8 and filter[4].jt + 4 + 1 == 8 and filter[4].jf + 4 + 1 == 12);
    for (9..12) |at| try expect(filter[at].jt + at + 1 == 13);
}
