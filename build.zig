const std = @import("std");

// Builds the native shim, libcontain.so, that src/native.ts loads through bun:ffi.
// `zig build -Dcpu=baseline -Doptimize=ReleaseSafe` is what `bun install` runs; the
// output lands in zig-out/lib/<arch>/ so several architectures can ship side by side.
pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});

    const lib = b.addSharedLibrary(.{
        .name = "contain",
        .root_source_file = .{ .path = "zig/root.zig" },
        .target = target,
        .optimize = optimize,
    });
    // Shipped in the npm package for two architectures: no debug info.
    lib.strip = optimize != .Debug;
    const arch = @tagName((target.cpu_arch orelse @import("builtin").cpu.arch));
    const install = b.addInstallArtifact(lib, .{
        .dest_dir = .{ .override = .{ .custom = b.fmt("lib/{s}", .{arch}) } },
    });
    b.getInstallStep().dependOn(&install.step);

    // A static program that the tests put into container roots to try attacks from inside.
    const probe = b.addExecutable(.{
        .name = "contain-probe",
        .root_source_file = .{ .path = "test/probe/probe.zig" },
        .target = target,
        .optimize = .ReleaseSmall,
    });
    probe.strip = true;
    const probe_step = b.step("probe", "Build the tests' static probe program");
    probe_step.dependOn(&b.addInstallArtifact(probe, .{}).step);

    const tests = b.addTest(.{
        .root_source_file = .{ .path = "zig/root.zig" },
        .target = target,
        .optimize = optimize,
    });
    const test_step = b.step("test", "Run the shim's unit tests");
    const run_tests = b.addRunArtifact(tests);
    // Run them every time, not only when they change: a cached pass shows no tests at all.
    run_tests.has_side_effects = true;
    test_step.dependOn(&run_tests.step);
}
