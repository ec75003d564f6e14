// Paths as text, for the host side of contain: made absolute, and named for messages.
// Pure: node:path's load would cost contain 1.5 MB of memory for these lines.

/**
 * `path` made absolute against `cwd` (the working directory), with "." and ".." taken
 * away and slashes single, as node:path's resolve does. Only text: no symbolic link is
 * followed, so it names a path for messages and the shim, never judges one.
 */
export function resolve(path: string, cwd: string = process.cwd()): string {
  const parts: string[] = [];
  for (const part of (path.startsWith("/") ? path : `${cwd}/${path}`).split("/")) {
    if (part === "..") parts.pop();
    else if (part !== "" && part !== ".") parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/** " (REAL)" after a path as typed when the kernel's real path for it differs, else "". */
export function realSuffix(typed: string, real: string): string {
  return real === typed ? "" : ` (${real})`;
}
