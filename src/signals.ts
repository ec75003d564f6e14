// Linux signal numbers (the same on x86_64 and aarch64). node:os has them too, but costs
// more to load than a container takes to start.
export const signals = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGTERM: 15,
  SIGCONT: 18,
  SIGSTOP: 19,
} as const;

export type SignalName = keyof typeof signals;

