/**
 * Deno adapter: processes through `Deno.Command`, HTTP through `Deno.serve`.
 */

import type { Serve } from "../server/start.ts";
import type { Runtime } from "./process.ts";

// The few parts of Deno's API used here, declared so the type-check needs no Deno types.
interface DenoChild {
  pid: number;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  status: Promise<{ code: number; signal: string | null; success: boolean }>;
  kill: (signal?: string) => void;
}
interface DenoServer {
  finished: Promise<void>;
  shutdown: () => Promise<void>;
  addr: { port: number };
}
declare const Deno: {
  Command: new (
    command: string,
    options: {
      args: string[];
      env: Record<string, string>;
      clearEnv: boolean;
      stdin: "null";
      stdout: "piped";
      stderr: "piped";
    },
  ) => { spawn: () => DenoChild };
  serve: (
    options: { port: number; hostname: string; onListen: (address: { port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ) => DenoServer;
};

/** Room for one read: a pipe never holds more than 64 KiB at once on Linux. */
const READ_SIZE = 64 * 1024;

/**
 * Deno reads a child's pipe into a new 64 KiB buffer per read and hands out a view of the
 * bytes it got. pg_dump writes 4 KiB blocks, so each chunk would pin 64 KiB and every read
 * would allocate and zero one: reading into one reused buffer and copying out only the
 * bytes read costs less CPU and garbage.
 */
const exactChunks = (stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> => {
  const reader = stream.getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(READ_SIZE);
  return new ReadableStream<Uint8Array>(
    {
      pull: async (controller) => {
        const { done, value } = await reader.read(new Uint8Array(buffer));
        if (done || value === undefined) {
          controller.close();
          return;
        }
        controller.enqueue(value.slice());
        // The read took the buffer over; its view hands the same memory back for the next one.
        buffer = value.buffer as ArrayBuffer;
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
};

export const denoRuntime: Runtime = {
  name: "deno",
  spawn: async (command, args, options) => {
    const child = new Deno.Command(command, {
      args: [...args],
      env: options.env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let done = false;
    const exited = child.status.then((status) => {
      done = true;
      return { code: status.signal === null ? status.code : null, signal: status.signal };
    });
    return {
      pid: child.pid,
      stdout: exactChunks(child.stdout),
      stderr: child.stderr,
      exited,
      kill: (signal = "SIGTERM") => {
        if (done) return;
        try {
          child.kill(signal);
        } catch {
          // The process ended between the check and the kill.
        }
      },
    };
  },
};

export const denoServe: Serve = (fetch, { port, hostname }) =>
  new Promise((resolve) => {
    const server = Deno.serve(
      {
        port,
        hostname,
        onListen: (address) => resolve({ port: address.port, close: () => server.shutdown() }),
      },
      fetch,
    );
  });
