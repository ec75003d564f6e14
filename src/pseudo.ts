// pseudo: CMD as root in a new user namespace only.
import { ChildProcess } from "./child.ts";
import { type Arg, argText } from "./arg.ts";
import { Mode, type SpawnConfig } from "./native.ts";
import { planMaps } from "./userns.ts";
import { type Environment, environment, environmentValue } from "./stdio.ts";

export interface PseudoOptions {
  /** Command and arguments; searched on PATH. Default: $SHELL, else /bin/sh. */
  cmd?: readonly Arg[] | undefined;
  /** -u and -g: START:LOWER:COUNT[,...]; defaults as DESIGN.md "ID maps". */
  uidMap?: string | undefined;
  gidMap?: string | undefined;
  env?: Environment | undefined;
  /** The directory CMD starts in. Default: the caller's. */
  cwd?: Arg | undefined;
  /** Called once with each map's fallback warning, if any. */
  onWarning?: ((message: string) => void) | undefined;
}

export function defaultShell(env: Environment): Arg[] {
  const shell = environmentValue(env, "SHELL");
  return [shell === undefined || shell.length === 0 ? "/bin/sh" : shell];
}

type Fds = [number, number, number];

/** The child's config and maps; calls onWarning for a map's fallback. */
function prepare(options: PseudoOptions, fds: Fds) {
  const env = options.env ?? process.env;
  const argv = options.cmd?.length ? options.cmd : defaultShell(env);
  const maps = planMaps(options.uidMap, options.gidMap);
  for (const plan of maps) if (plan.warning) options.onWarning?.(plan.warning);
  const config: SpawnConfig = { mode: Mode.pseudo, argv, envp: environment(env), stdio: fds, cwd: options.cwd };
  return { config, maps, command: argText(argv[0]!) };
}

/** `fds`: the child's 0, 1 and 2 (-1 keeps ours). */
export function startPseudo(options: PseudoOptions, fds: Fds = [-1, -1, -1]): ChildProcess {
  const { config, maps, command } = prepare(options, fds);
  return ChildProcess.start(config, maps, command);
}

/** startPseudo without blocking the event loop while newuidmap and newgidmap run. */
export async function startPseudoAsync(options: PseudoOptions, fds: Fds = [-1, -1, -1], signal?: AbortSignal): Promise<ChildProcess> {
  const { config, maps, command } = prepare(options, fds);
  return ChildProcess.startAsync(config, maps, command, signal);
}
