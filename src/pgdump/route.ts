/**
 * `POST /v1alpha1/pg_dump`: authenticate, validate, start pg_dump, stream its output.
 */

import { Hono } from "hono";
import type { AppDependencies } from "../app.ts";
import { checkAdmin } from "../auth/admin.ts";
import { HasuraError, invalidJson, optionRefused, sourceNotFound } from "../http/errors.ts";
import { ConnectionStringError } from "../sources/connection.ts";
import { isPlainFormat, parsePgDumpOptions } from "./options.ts";
import { parsePgDumpRequest } from "./request.ts";
import { type DumpResult, startDump } from "./run.ts";

/**
 * The pg_dump route, mounted by the app at `/v1alpha1/pg_dump`.
 *
 * @example
 * app.route("/v1alpha1/pg_dump", pgDumpRoute(dependencies));
 */
export const pgDumpRoute = (dependencies: AppDependencies): Hono => {
  const { config, logger, runtime, sources } = dependencies;
  const route = new Hono();

  route.post("/", async (c) => {
    const started = Date.now();
    const denied = await checkAdmin((name) => c.req.header(name), config);
    if (denied) throw denied;

    const request = parsePgDumpRequest(parseJson(await c.req.text()), config.limits);

    const parsed = parsePgDumpOptions(request.opts);
    if (!parsed.ok) throw optionRefused(parsed.option, parsed.reason);
    if (request.clean_output && !isPlainFormat(parsed.options)) {
      throw new HasuraError(
        400,
        "bad-request",
        "clean_output works only on plain-format output: drop --format and --compress, " +
          "or set clean_output to false",
        { path: "$.clean_output" },
      );
    }

    const source = await sources.find(request.source);
    if (source === undefined) throw sourceNotFound(request.source);

    let dump: Awaited<ReturnType<typeof startDump>>;
    try {
      dump = await startDump(
        { source, options: parsed.options, cleanOutput: request.clean_output },
        {
          spawn: runtime.spawn,
          pgDumpPath: config.pgDumpPath ?? "pg_dump",
          baseEnv: dependencies.childEnv,
        },
      );
    } catch (error) {
      if (error instanceof ConnectionStringError) {
        throw new HasuraError(500, "unexpected", `source ${request.source}: ${error.message}`);
      }
      if (error instanceof HasuraError && error.internal !== undefined) {
        logger.log("pg-dump", "error", {
          request_id: c.get("requestId"),
          source: request.source,
          outcome: "failed",
          stderr: error.internal,
        });
      }
      throw error;
    }

    void dump.result.then((result) =>
      logDump(dependencies, c.get("requestId"), request.source, result, Date.now() - started),
    );

    return new Response(dump.body, {
      status: 200,
      headers: { "content-type": "application/sql", "cache-control": "no-store" },
    });
  });

  return route;
};

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidJson(`Error in $: ${(error as Error).message}`);
  }
};

const logDump = (
  { logger }: AppDependencies,
  requestId: string,
  source: string,
  result: DumpResult,
  durationMs: number,
): void => {
  logger.log("pg-dump", result.outcome === "complete" ? "info" : "error", {
    request_id: requestId,
    source,
    outcome: result.outcome,
    bytes: result.bytes,
    duration_ms: durationMs,
    exit_code: result.exit?.code ?? null,
    signal: result.exit?.signal ?? null,
    ...(result.outcome === "complete" ? {} : { stderr: result.stderr }),
  });
};
