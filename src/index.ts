// The library's face: what `import ... from "bun-contain"` gives. contain, inject and pseudo
// are in library.ts; the root filesystems for tests, which use them, in rootfs.ts.
export * from "./library.ts";
export { ContainError, Status } from "./errors.ts";
export { MapError } from "./maps.ts";
export type { Stdio, StdioOptions } from "./stdio.ts";
export type { BindMount, Mount, TmpfsMount } from "./contain.ts";
export { fromHost, fromTarball, hostFiles, type MapOptions, type RootFilesystem } from "./rootfs.ts";
