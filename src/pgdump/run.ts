/**
 * Runs pg_dump for one request and exposes its output as a web stream. The status of the
 * response is decided here: it waits until pg_dump has either written its first bytes or
 * exited, so a dump that fails at once still gets a proper error response.
 */

import { CleanOutputStream } from "../clean/cleaner.ts";
import { pgDumpFailed, pgDumpNotStarted } from "../http/errors.ts";
import type { ChildProcess, ExitStatus, SpawnProcess } from "../runtime/process.ts";
import { toLibpqEnv } from "../sources/connection.ts";
import type { Source } from "../sources/registry.ts";
import { type PgDumpOption, toPgDumpArgs } from "./options.ts";

/** How much of pg_dump's stderr is kept for the error message and the log. */
const STDERR_LIMIT = 64 * 1024;

/** Time pg_dump gets to exit after SIGTERM before it is killed outright. */
const KILL_GRACE_MS = 2000;

export interface DumpPlan {
  source: Source;
  options: readonly PgDumpOption[];
  cleanOutput: boolean;
}

export interface DumpEnvironment {
  spawn: SpawnProcess;
  pgDumpPath: string;
  /** Variables pg_dump may inherit (PATH, locale, time zone), without any of our secrets. */
  baseEnv: Record<string, string>;
}

export type DumpOutcome = "complete" | "failed" | "aborted-by-client" | "timed-out" | "shutdown";

/** Why the gateway itself stopped a dump that was still running. */
export type StopReason = "timed-out" | "shutdown";

export interface DumpResult {
  outcome: DumpOutcome;
  /** Bytes of pg_dump output read (before cleaning). */
  bytes: number;
  exit: ExitStatus | undefined;
  stderr: string;
}

export interface RunningDump {
  pid: number | undefined;
  body: ReadableStream<Uint8Array>;
  /** Settles when the dump has ended and pg_dump has been reaped, however it ended. */
  result: Promise<DumpResult>;
  /**
   * Stops pg_dump (SIGTERM, then SIGKILL after a grace period) and errors the body, so the
   * client sees a cut transfer, never a clean end.
   */
  stop: (reason: StopReason) => void;
}

/** The error a dump's body fails with when pg_dump does not exit cleanly after streaming. */
export class DumpFailedError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = "DumpFailedError";
  }
}

/**
 * Starts pg_dump and waits for its first output or its exit.
 *
 * @example
 * const dump = await startDump(plan, environment); // throws HasuraError on early failure
 * return new Response(dump.body, { headers: { "content-type": "application/sql" } });
 */
export const startDump = async (
  plan: DumpPlan,
  environment: DumpEnvironment,
): Promise<RunningDump> => {
  const connection = toLibpqEnv(plan.source.connectionString);
  const secrets = [connection.PGPASSWORD, plan.source.connectionString].filter(
    (value): value is string => value !== undefined && value !== "",
  );
  const args = ["--encoding=utf8", ...toPgDumpArgs(plan.options)];

  let child: ChildProcess;
  try {
    child = await environment.spawn(environment.pgDumpPath, args, {
      env: { ...environment.baseEnv, ...connection },
    });
  } catch (error) {
    throw pgDumpNotStarted(redact(String((error as Error).message ?? error), secrets));
  }

  const stderr = collectText(child.stderr, STDERR_LIMIT).then((text) => redact(text, secrets));
  const reader = child.stdout.getReader();
  const first = await Promise.race([reader.read(), child.exited.then(() => undefined)]);

  // No output yet and already exited (or stdout closed empty): the status can still say
  // whether it worked.
  if (first === undefined || first.done) {
    const exit = await child.exited;
    if (exit.code !== 0) {
      await reader.cancel().catch(() => {});
      throw pgDumpFailed(await stderr);
    }
  }
  return streamDump(child, reader, first, stderr, plan.cleanOutput);
};

const streamDump = (
  child: ChildProcess,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  first: ReadableStreamReadResult<Uint8Array> | undefined,
  stderr: Promise<string>,
  cleanOutput: boolean,
): RunningDump => {
  let bytes = 0;
  let pending = first;
  let settle: (result: DumpResult) => void = () => {};
  const result = new Promise<DumpResult>((resolve) => {
    settle = resolve;
  });
  let failWith: ((error: Error) => void) | undefined;
  let ended = false;

  const finish = async (outcome: DumpOutcome): Promise<DumpResult> => {
    ended = true;
    const exit = await child.exited;
    const done: DumpResult = { outcome, bytes, exit, stderr: await stderr };
    settle(done);
    return done;
  };

  const stop = async (): Promise<void> => {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
    await child.exited;
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  };

  const raw = new ReadableStream<Uint8Array>(
    {
      start: (controller) => {
        failWith = (error) => controller.error(error);
      },
      pull: async (controller) => {
        const next = pending ?? (await reader.read());
        pending = undefined;
        if (ended) return;
        if (!next.done) {
          bytes += next.value.byteLength;
          controller.enqueue(next.value);
          return;
        }
        const exit = await child.exited;
        if (exit.code === 0) {
          await finish("complete");
          controller.close();
          return;
        }
        const { stderr: text } = await finish("failed");
        controller.error(new DumpFailedError(describeExit(exit), text));
      },
      cancel: async () => {
        if (ended) return;
        ended = true;
        await stop();
        await finish("aborted-by-client");
      },
    },
    { highWaterMark: 0 },
  );

  const stopDump = (reason: StopReason): void => {
    if (ended) return;
    ended = true;
    failWith?.(new DumpFailedError(`pg_dump was stopped: ${reason}`, ""));
    void stop().then(() => finish(reason));
  };

  const body = cleanOutput ? raw.pipeThrough(new CleanOutputStream()) : raw;
  return { pid: child.pid, body, result, stop: stopDump };
};

const describeExit = (exit: ExitStatus): string =>
  exit.signal !== null
    ? `pg_dump was ended by signal ${exit.signal}`
    : `pg_dump exited with code ${exit.code}`;

/** Reads a stream to text, keeping only the first `limit` bytes but draining it all. */
const collectText = async (stream: ReadableStream<Uint8Array>, limit: number): Promise<string> => {
  const decoder = new TextDecoder();
  let text = "";
  let kept = 0;
  for await (const chunk of stream) {
    if (kept >= limit) continue;
    const part = chunk.subarray(0, limit - kept);
    kept += part.byteLength;
    text += decoder.decode(part, { stream: true });
  }
  return text + decoder.decode();
};

/** Removes every occurrence of the given secrets from a text meant for a client or a log. */
export const redact = (text: string, secrets: readonly string[]): string =>
  secrets.reduce((result, secret) => result.split(secret).join("********"), text);
