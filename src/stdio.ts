// Standard streams and environment as the shim takes them.

/** "inherit" keeps the caller's stream; a number is an fd of the caller's. */
export type Stdio = "inherit" | number;

export function stdioFds(options: { stdin?: Stdio; stdout?: Stdio; stderr?: Stdio }): [number, number, number] {
  const fd = (stdio: Stdio | undefined) => (typeof stdio === "number" ? stdio : -1);
  return [fd(options.stdin), fd(options.stdout), fd(options.stderr)];
}

export function environment(env: Record<string, string | undefined>): string[] {
  const entries: string[] = [];
  for (const [name, value] of Object.entries(env)) if (value !== undefined) entries.push(`${name}=${value}`);
  return entries;
}
