//! clone(CLONE_VM) onto a stack of our own: a child that shares Bun's memory instead of
//! copying it. Copying the page tables of a Bun process costs milliseconds per fork, and
//! so does tearing the copy down at exec; sharing costs neither.
//!
//! The rules for such a child: it runs only on its own stack and never returns; it writes
//! nothing but that stack; it leaves by exec or exit_group. It must not change what the
//! memory carries for everyone (prctl PR_SET_DUMPABLE is per memory, not per process).
const std = @import("std");
const builtin = @import("builtin");
const linux = std.os.linux;
const sys = @import("sys.zig");

pub const stack_size = 256 * 1024;
/// Stacks in one region: the first child, and (for contain) init and two helpers.
pub const stacks_per_region = 4;
const region_size = stack_size * stacks_per_region;

/// Regions of stacks, tracked here so that JS holds a small integer, not a pointer.
var regions = [_]usize{0} ** 1024;

pub fn region_alloc() ?u32 {
    for (&regions, 0..) |*slot, index| {
        if (slot.* != 0) continue;
        const rc = linux.mmap(null, region_size, linux.PROT.READ | linux.PROT.WRITE, linux.MAP.PRIVATE | linux.MAP.ANONYMOUS | linux.MAP.NORESERVE, -1, 0);
        if (sys.errno(rc) != 0) return null;
        slot.* = rc;
        return @intCast(index);
    }
    return null;
}

pub fn region_free(index: u32) void {
    if (index >= regions.len or regions[index] == 0) return;
    _ = linux.munmap(@ptrFromInt(regions[index]), region_size);
    regions[index] = 0;
}

pub fn stack(region: u32, which: u32) []align(16) u8 {
    std.debug.assert(which < stacks_per_region);
    const base: [*]align(16) u8 = @ptrFromInt(regions[region]);
    return @alignCast(base[which * stack_size ..][0..stack_size]);
}

/// Starts `entry(&args)` in a child sharing this memory, on `child_stack`. The arguments
/// are copied to the top of that stack, so the caller's frame may go away at once.
/// `flags` adds to CLONE_VM | SIGCHLD (CLONE_PIDFD with `parent_tid`, CLONE_NEWUSER).
/// Returns the raw clone result in the parent.
pub fn start(comptime Args: type, comptime entry: fn (*const Args) noreturn, child_stack: []align(16) u8, flags: usize, parent_tid: ?*i32, args: Args) usize {
    const args_at = place(Args, child_stack, args);
    const ptid: usize = if (parent_tid) |p| @intFromPtr(p) else 0;
    return raw_clone(flags | linux.CLONE.VM | linux.SIG.CHLD, args_at - 16, ptid, 0, &Trampoline(Args, entry).run, args_at);
}

/// clone3's arguments (linux/sched.h, CLONE_ARGS_SIZE_VER2).
const CloneArgs = extern struct {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
};

/// start, with clone3 and CLONE_INTO_CGROUP: the child is born in the cgroup of directory
/// fd `cgroup`, so nothing has to move it there. A move (a write to cgroup.procs) waits for
/// an RCU grace period, milliseconds, and birth in place does not. `flags` adds to
/// CLONE_VM | CLONE_PIDFD; `pidfd` gets the child's. Returns the raw result: ENOSYS before
/// Linux 5.7, where the caller falls back to start and a move.
pub fn start_in_cgroup(comptime Args: type, comptime entry: fn (*const Args) noreturn, child_stack: []align(16) u8, flags: u64, pidfd: *i32, cgroup: i32, args: Args) usize {
    std.debug.assert(cgroup >= 0);
    const args_at = place(Args, child_stack, args);
    const top = args_at - 16;
    const clone_args = CloneArgs{
        .flags = flags | linux.CLONE.VM | linux.CLONE.PIDFD | linux.CLONE.INTO_CGROUP,
        .pidfd = @intFromPtr(pidfd),
        .child_tid = 0,
        .parent_tid = 0,
        .exit_signal = linux.SIG.CHLD,
        .stack = @intFromPtr(child_stack.ptr),
        .stack_size = top - @intFromPtr(child_stack.ptr),
        .tls = 0,
        .set_tid = 0,
        .set_tid_size = 0,
        .cgroup = @intCast(cgroup),
    };
    return raw_clone3(&clone_args, &Trampoline(Args, entry).run, args_at);
}

/// The system call, then, in the child only (a zero result), the call of entry(arg) from
/// registers that the system call keeps: r12 and r13 on x86_64, x20 and x21 on aarch64,
/// with the frame pointer cleared so that nothing unwinds past it, and a trap should entry
/// ever return. The parent jumps past it with the result. clone and clone3 share it.
const x86_64_child =
    \\ syscall
    \\ testq %%rax, %%rax
    \\ jnz 1f
    \\ xorl %%ebp, %%ebp
    \\ movq %%r12, %%rdi
    \\ callq *%%r13
    \\ ud2
    \\ 1:
;
const aarch64_child =
    \\ svc #0
    \\ cbnz x0, 1f
    \\ mov x29, xzr
    \\ mov x0, x20
    \\ blr x21
    \\ brk #0
    \\ 1:
;

/// clone3 with the child calling entry(arg) on the stack the arguments name. Its registers
/// are the parent's but for the result and the stack pointer, which the kernel sets to the
/// top of the stack, as clone's is.
fn raw_clone3(clone_args: *const CloneArgs, entry: *const fn (usize) callconv(.C) noreturn, arg: usize) usize {
    switch (builtin.cpu.arch) {
        .x86_64 => return asm volatile (x86_64_child
            : [ret] "={rax}" (-> usize),
            : [number] "{rax}" (@intFromEnum(linux.SYS.clone3)),
              [args] "{rdi}" (@intFromPtr(clone_args)),
              [size] "{rsi}" (@sizeOf(CloneArgs)),
              [arg] "{r12}" (arg),
              [entry] "{r13}" (@intFromPtr(entry)),
            : "rcx", "r11", "memory"
        ),
        .aarch64 => return asm volatile (aarch64_child
            : [ret] "={x0}" (-> usize),
            : [number] "{x8}" (@intFromEnum(linux.SYS.clone3)),
              [args] "{x0}" (@intFromPtr(clone_args)),
              [size] "{x1}" (@sizeOf(CloneArgs)),
              [arg] "{x20}" (arg),
              [entry] "{x21}" (@intFromPtr(entry)),
            : "memory"
        ),
        else => @compileError("clone.zig supports x86_64 and aarch64"),
    }
}

/// Starts `entry(&args)` as a thread of this process on `thread_stack`, under the same
/// rules as a child (its own stack, raw system calls, no libc: it shares the TLS pointer
/// of the thread that started it, so it must never touch thread-local state). It starts
/// with every signal blocked, so that no handler of Bun's ever runs on it. It leaves by
/// linux.exit, and the kernel then zeroes `*exited`, which tells when the stack is free.
pub fn start_thread(comptime Args: type, comptime entry: fn (*const Args) noreturn, thread_stack: []align(16) u8, exited: *i32, args: Args) usize {
    const args_at = place(Args, thread_stack, args);
    const flags = linux.CLONE.VM | linux.CLONE.FS | linux.CLONE.FILES | linux.CLONE.SIGHAND |
        linux.CLONE.THREAD | linux.CLONE.SYSVSEM | linux.CLONE.CHILD_CLEARTID;
    var old: u64 = 0;
    sys.sigmask(sys.sigset_all, &old);
    const rc = raw_clone(flags, args_at - 16, 0, @intFromPtr(exited), &Trampoline(Args, entry).run, args_at);
    sys.sigmask(old, null);
    return rc;
}

/// The C-callable entry that hands the new task its arguments.
fn Trampoline(comptime Args: type, comptime entry: fn (*const Args) noreturn) type {
    return struct {
        fn run(arg: usize) callconv(.C) noreturn {
            entry(@ptrFromInt(arg));
        }
    };
}

/// Copies `args` to the top of `task_stack` (16-byte aligned) and returns where they are; the
/// new task's stack starts just below them.
fn place(comptime Args: type, task_stack: []align(16) u8, args: Args) usize {
    const args_at = std.mem.alignBackward(usize, @intFromPtr(task_stack.ptr) + task_stack.len - @sizeOf(Args), 16);
    const slot: *Args = @ptrFromInt(args_at);
    slot.* = args;
    return args_at;
}

fn raw_clone(flags: usize, top: usize, ptid: usize, ctid: usize, entry: *const fn (usize) callconv(.C) noreturn, arg: usize) usize {
    switch (builtin.cpu.arch) {
        .x86_64 => return asm volatile (x86_64_child
            : [ret] "={rax}" (-> usize),
            : [number] "{rax}" (@intFromEnum(linux.SYS.clone)),
              [flags] "{rdi}" (flags),
              [stack] "{rsi}" (top),
              [ptid] "{rdx}" (ptid),
              [ctid] "{r10}" (ctid),
              [tls] "{r8}" (@as(usize, 0)),
              [arg] "{r12}" (arg),
              [entry] "{r13}" (@intFromPtr(entry)),
            : "rcx", "r11", "memory"
        ),
        .aarch64 => return asm volatile (aarch64_child
            : [ret] "={x0}" (-> usize),
            : [number] "{x8}" (@intFromEnum(linux.SYS.clone)),
              [flags] "{x0}" (flags),
              [stack] "{x1}" (top),
              [ptid] "{x2}" (ptid),
              [tls] "{x3}" (@as(usize, 0)),
              [ctid] "{x4}" (ctid),
              [arg] "{x20}" (arg),
              [entry] "{x21}" (@intFromPtr(entry)),
            : "memory"
        ),
        else => @compileError("clone.zig supports x86_64 and aarch64"),
    }
}
