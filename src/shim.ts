// Where the native library (the Zig shim) is, and loading it, with one sentence that names
// the file and the fix when it is missing or cannot be loaded. Kept apart from native.ts,
// which loads it on import, so that the doctor can report on it without failing.
import { dlopen, FFIType, type FFIFunction, type Library } from "bun:ffi";
import { ContainError, Errno } from "./errors.ts";

/** Must equal abi_version() in zig/root.zig. */
export const ABI_VERSION = 20;

const arch = process.arch === "arm64" ? "aarch64" : process.arch === "x64" ? "x86_64" : process.arch;
// The package's directory: the one above src/ (the sources) or dist/ (the bundles).
const packageDir = import.meta.dir.slice(0, import.meta.dir.lastIndexOf("/"));
export const libraryPath = `${packageDir}/zig-out/lib/${arch}/libcontain.so`;


/** How to get a library that works: build it in a checkout, or reinstall the package. */
function fix(): string {
  if (arch !== "x86_64" && arch !== "aarch64") return `bun-contain has native libraries for x86_64 and aarch64 only, not ${process.arch}`;
  const checkout = Bun.file(`${packageDir}/build.zig`).size > 0;
  return checkout ? "build it with `bun run build:native`" : "reinstall bun-contain (bun add bun-contain), whose package has it";
}

/** The reason dlopen gave, without its repetition of the path. */
function reason(error: unknown): string {
  const text = String((error as Error)?.message ?? error);
  const at = text.lastIndexOf(`${libraryPath}: `);
  return at < 0 ? text : text.slice(at + libraryPath.length + 2);
}

function failure(why: string, errno: number): ContainError {
  // ELIBBAD: "Accessing a corrupted shared library", as ld.so's failures are.
  return new ContainError(`Cannot load the native library ${libraryPath}: ${why}; ${fix()}`, { step: "load native library", errno });
}

/** dlopen of the shim, checked for the ABI this code speaks; throws a ContainError that
 *  names the file and the fix. */
export function loadShim<S extends Record<string, FFIFunction>>(symbols: S): Library<S>["symbols"] {
  let lib: Library<S>["symbols"];
  try {
    lib = dlopen(libraryPath, symbols).symbols;
  } catch (error) {
    const missing = Bun.file(libraryPath).size === 0;
    throw failure(missing ? "No such file or directory" : reason(error), missing ? Errno.ENOENT : Errno.ELIBBAD);
  }
  const version = (lib.abi_version as unknown as () => number)();
  if (version !== ABI_VERSION) throw failure(`it has ABI ${version}, this code expects ${ABI_VERSION}`, Errno.ELIBBAD);
  return lib;
}

/** Why the shim cannot be used, or null when it loads and speaks our ABI (for the doctor). */
export function shimProblem(): string | null {
  try {
    loadShim({ abi_version: { args: [], returns: FFIType.u32 } });
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}
