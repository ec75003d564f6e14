// The console relay's thread: a blocking poll loop in the shim, off the main JS thread so
// that signal handlers (SIGWINCH, the forwarded ones) keep running while it copies.
import { native } from "./native.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<{ master: number; input: number; output: number; pidfd: number }>) => {
  const { master, input, output, pidfd } = event.data;
  const result = native.console_relay(master, input, output, pidfd);
  self.postMessage(result);
};
