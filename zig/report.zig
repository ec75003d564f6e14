//! How a child's failure reaches the supervisor: a report record (step, value, object) on
//! the report pipe, or, for spawn_child itself, the step and errno packed into its return
//! value. Raw system calls only: the children that use it share Bun's memory.
const std = @import("std");
const sys = @import("sys.zig");
const abi = @import("abi.zig");

const Step = abi.Step;

/// What spawn_child returns on failure: the step in the high half, the errno in the low.
pub fn failure(step: Step, e: u32) u32 {
    std.debug.assert(e != 0 and e < 0x10000);
    return @intFromEnum(step) << 16 | e;
}

/// Reads the report pipe `fd` to EOF: the one record a child that sends at most one sent,
/// or null when it sent none (it executed its command) or more than one.
pub fn read_only_record(fd: sys.fd_t) ?abi.Report {
    var records: [2]abi.Report = undefined;
    if (sys.read_full(fd, std.mem.asBytes(&records)) != @sizeOf(abi.Report)) return null;
    return records[0];
}

/// The child's end of the report pipe.
pub const Reporter = struct {
    fd: sys.fd_t,
    /// The object the steps reported through this reporter act on (abi.Report.object): the
    /// index of a mount in Config.mounts, or abi.no_object.
    object: u32 = abi.no_object,
    /// What a failure must end before the process exits, for a process that started
    /// what may outlive it: contain's holder ends what its -o and -i helpers left running.
    ending: ?Ending = null,

    /// Ends what `context` names and exits with `status`.
    pub const Ending = struct { context: *const anyopaque, end: *const fn (context: *const anyopaque, status: u8) noreturn };

    /// This reporter, with every record it sends naming `object` (a mount's index).
    pub fn about(self: Reporter, object: u32) Reporter {
        std.debug.assert(object != abi.no_object);
        var copy = self;
        copy.object = object;
        return copy;
    }

    pub fn send(self: Reporter, step: Step, value: u32) void {
        const record = abi.Report{ .step = @intFromEnum(step), .value = value, .object = self.object };
        _ = sys.write_all(self.fd, std.mem.asBytes(&record));
    }

    /// Reports a failed step and exits with the status of an own failure (through
    /// `ending`, when there is one).
    pub fn fail(self: Reporter, step: Step, e: u32) noreturn {
        self.send(step, e);
        if (self.ending) |ending| ending.end(ending.context, 125);
        sys.exit(125);
    }

    /// Fails `step` if the raw system call result `rc` is an error.
    pub fn check(self: Reporter, step: Step, rc: usize) void {
        self.check_errno(step, sys.errno(rc));
    }

    /// Fails `step` if `e` is an errno rather than 0.
    pub fn check_errno(self: Reporter, step: Step, e: u32) void {
        if (e != 0) self.fail(step, e);
    }
};
