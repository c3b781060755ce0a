/**
 * Bun adapter: processes through `Bun.spawn`, HTTP through `Bun.serve`.
 */

import type { Serve } from "../server/start.ts";
import type { Runtime } from "./process.ts";

// The few parts of Bun's API used here, declared so the type-check needs no Bun types.
interface BunSubprocess {
  pid: number;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  exited: Promise<number>;
  signalCode: string | null;
  exitCode: number | null;
  killed: boolean;
  kill: (signal?: string) => void;
}
interface BunServer {
  port: number;
  stop: (closeActiveConnections?: boolean) => Promise<void>;
}
declare const Bun: {
  spawn: (options: {
    cmd: string[];
    env: Record<string, string>;
    stdin: "ignore";
    stdout: "pipe";
    stderr: "pipe";
  }) => BunSubprocess;
  serve: (options: {
    fetch: (request: Request) => Response | Promise<Response>;
    port: number;
    hostname: string;
    idleTimeout: number;
  }) => BunServer;
};

export const bunRuntime: Runtime = {
  name: "bun",
  spawn: async (command, args, options) => {
    const child = Bun.spawn({
      cmd: [command, ...args],
      env: options.env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    return {
      pid: child.pid,
      stdout: child.stdout,
      stderr: child.stderr,
      exited: child.exited.then((code) => ({
        code: child.signalCode === null ? code : null,
        signal: child.signalCode,
      })),
      kill: (signal = "SIGTERM") => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      },
    };
  },
};

export const bunServe: Serve = async (fetch, { port, hostname }) => {
  // idleTimeout 0: a dump may stay silent for long (a lock wait, a big sort) and must not
  // be cut by Bun's default 10-second idle limit.
  const server = Bun.serve({ fetch, port, hostname, idleTimeout: 0 });
  return { port: server.port, close: () => server.stop() };
};
