/**
 * Runs pg_dump for one request and exposes its output as a web stream.
 *
 * The response status is decided here: `ready` waits until pg_dump has either written its
 * first bytes or exited, so a dump that fails at once still gets a proper error response.
 * After that, the body ends cleanly only when pg_dump has exited with 0; any other end
 * errors the body, so the runtime cuts the connection and the client sees an incomplete
 * transfer instead of a dump that looks whole.
 */

import { CleanOutputStream } from "../clean/cleaner.ts";
import { HasuraError, pgDumpFailed, pgDumpNotStarted, tooManyDumps } from "../http/errors.ts";
import type { ChildProcess, ExitStatus, SpawnProcess } from "../runtime/process.ts";
import { redactSecrets as redact, toLibpqEnv } from "../sources/connection.ts";
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
  /** A command pg_dump runs under (its path and arguments follow), if any. */
  launcher?: readonly string[];
  /** Variables pg_dump may inherit (PATH, locale, time zone), without any of our secrets. */
  baseEnv: Record<string, string>;
}

export type DumpOutcome = "complete" | "failed" | "aborted-by-client" | "timed-out" | "shutdown";

/** Why the gateway itself stopped a dump that was still running. */
export type StopReason = "timed-out" | "shutdown" | "aborted-by-client";

export interface DumpResult {
  outcome: DumpOutcome;
  /** Bytes of pg_dump output read (before cleaning). */
  bytes: number;
  exit: ExitStatus | undefined;
  stderr: string;
}

export interface RunningDump {
  pid: number | undefined;
  /**
   * Resolves once pg_dump has written its first bytes (or exited with 0 having written
   * none); rejects with the error to answer with when it failed or was stopped before that.
   */
  ready: Promise<void>;
  /** The output; read it only after `ready` has resolved. */
  body: ReadableStream<Uint8Array>;
  /** Settles when the dump has ended and pg_dump has been reaped, however it ended. */
  result: Promise<DumpResult>;
  /**
   * Stops pg_dump (SIGTERM, then SIGKILL after a grace period) and errors the body, so the
   * client sees a cut transfer, never a clean end.
   */
  stop: (reason: StopReason) => void;
}

/** The error a dump's body fails with when it does not end with pg_dump exiting 0. */
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
 * Starts pg_dump. Throws when it cannot be started at all.
 *
 * @example
 * const dump = await startDump(plan, environment);
 * await dump.ready; // throws the HasuraError to answer with on an early failure
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
    const [command, ...prefix] = [...(environment.launcher ?? []), environment.pgDumpPath];
    child = await environment.spawn(command as string, [...prefix, ...args], {
      env: { ...environment.baseEnv, ...connection },
    });
  } catch (error) {
    throw pgDumpNotStarted(redact(String((error as Error).message ?? error), secrets));
  }

  const stderr = collectText(child.stderr, STDERR_LIMIT).then((text) => redact(text, secrets));
  return superviseDump(child, stderr, plan.cleanOutput);
};

const superviseDump = (
  child: ChildProcess,
  stderr: Promise<string>,
  cleanOutput: boolean,
): RunningDump => {
  const reader = child.stdout.getReader();
  let bytes = 0;
  let ended = false;
  let pending: ReadableStreamReadResult<Uint8Array> | undefined;
  let failBody: (error: Error) => void = () => {};
  let settle: (result: DumpResult) => void = () => {};
  const result = new Promise<DumpResult>((resolve) => {
    settle = resolve;
  });

  const finish = async (outcome: DumpOutcome): Promise<DumpResult> => {
    ended = true;
    const exit = await child.exited;
    const done: DumpResult = { outcome, bytes, exit, stderr: await stderr };
    settle(done);
    return done;
  };

  const kill = async (): Promise<void> => {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
    await child.exited;
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  };

  // Settles with the error to answer with when the dump is stopped before it is ready.
  let rejectReady: (error: HasuraError) => void = () => {};
  const stopped = new Promise<never>((_, reject) => {
    rejectReady = reject;
  });
  stopped.catch(() => {});

  const ready = (async () => {
    // This read is kept: when the exit wins the race, its chunk is still the first one.
    const firstRead = reader.read();
    firstRead.catch(() => {});
    const raced = await Promise.race([firstRead, child.exited.then(() => undefined), stopped]);
    if (raced !== undefined && !raced.done) {
      pending = raced;
      return;
    }

    // pg_dump has exited or closed its output without writing anything yet: the status
    // can still say whether it worked.
    const exit = await child.exited;
    if (ended) await stopped;
    if (exit.code !== 0) {
      const { stderr: text } = await finish("failed");
      await reader.cancel().catch(() => {});
      throw pgDumpFailed(text);
    }
    pending = await firstRead;
  })();

  const body = new ReadableStream<Uint8Array>(
    {
      start: (controller) => {
        failBody = (error) => controller.error(error);
      },
      pull: async (controller) => {
        // A pipe (the cleaner, gzip) may pull before the status is decided; the first read
        // belongs to `ready`.
        await ready.catch(() => {});
        if (ended && pending === undefined) return;
        const next = pending ?? (await reader.read());
        pending = undefined;
        if (ended) return;
        if (!next.done) {
          bytes += next.value.byteLength;
          controller.enqueue(next.value);
          return;
        }
        const exit = await child.exited;
        if (ended) return;
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
        await kill();
        await finish("aborted-by-client");
      },
    },
    { highWaterMark: 0 },
  );

  const stop = (reason: StopReason): void => {
    if (ended) return;
    ended = true;
    rejectReady(stoppedError(reason));
    failBody(new DumpFailedError(`pg_dump was stopped: ${reason}`, ""));
    void kill().then(() => finish(reason));
  };

  return {
    pid: child.pid,
    ready,
    body: cleanOutput ? body.pipeThrough(new CleanOutputStream()) : body,
    result,
    stop,
  };
};

const stoppedError = (reason: StopReason): HasuraError => {
  switch (reason) {
    case "shutdown":
      return tooManyDumps(true);
    case "aborted-by-client":
      // Nobody is left to read it; the status is for the log.
      return new HasuraError(400, "bad-request", "the client closed the request");
    default:
      return new HasuraError(
        500,
        "unexpected",
        "pg_dump ran longer than the configured time limit",
        {
          internal: "stopped by PGDUMP_GATEWAY_DUMP_TIMEOUT_SECONDS",
        },
      );
  }
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
