/**
 * Node adapter: processes through `node:child_process`, HTTP through `@hono/node-server`.
 */

import { type ChildProcessByStdio, spawn as spawnChild } from "node:child_process";
import type { Readable } from "node:stream";
import { serve } from "@hono/node-server";
import type { Serve } from "../server/start.ts";
import type { ChildProcess, ExitStatus, Runtime } from "./process.ts";

/**
 * A web stream over a Node readable that reads only when the consumer pulls, so a slow
 * HTTP client slows the child down through the pipe instead of filling memory.
 */
const toWebStream = (readable: Readable): ReadableStream<Uint8Array> =>
  new ReadableStream<Uint8Array>(
    {
      start: (controller) => {
        readable.pause();
        readable.on("data", (chunk: Buffer) => {
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) readable.pause();
        });
        readable.once("end", () => controller.close());
        readable.once("error", (error) => controller.error(error));
      },
      pull: () => {
        readable.resume();
      },
      cancel: () => {
        readable.destroy();
      },
    },
    { highWaterMark: 1 },
  );

const wrap = (child: ChildProcessByStdio<null, Readable, Readable>): ChildProcess => {
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  return {
    pid: child.pid,
    stdout: toWebStream(child.stdout),
    stderr: toWebStream(child.stderr),
    exited,
    kill: (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
};

export const nodeRuntime: Runtime = {
  name: "node",
  spawn: (command, args, options) =>
    new Promise((resolve, reject) => {
      const child = spawnChild(command, [...args], {
        env: options.env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      child.once("error", reject);
      child.once("spawn", () => {
        child.off("error", reject);
        resolve(wrap(child));
      });
    }),
};

export const nodeServe: Serve = async (fetch, { port, hostname }) =>
  new Promise((resolve) => {
    const server = serve({ fetch, port, hostname }, (info) => {
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
          }),
      });
    });
  });
