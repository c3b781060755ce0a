/**
 * `POST /v1alpha1/pg_dump`: authenticate, validate, start pg_dump, stream its output.
 */

import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppDependencies, AppEnv } from "../app.ts";
import { checkAdmin } from "../auth/admin.ts";
import {
  bodyTooLarge,
  HasuraError,
  invalidJson,
  optionRefused,
  sourceNotFound,
  tooManyDumps,
} from "../http/errors.ts";
import { gzipStream } from "../http/gzip.ts";
import { ConnectionStringError } from "../sources/connection.ts";
import { isPlainFormat, parsePgDumpOptions } from "./options.ts";
import { parsePgDumpRequest } from "./request.ts";
import { dumpHeaders, gzipWanted } from "./response.ts";
import { type RunningDump, startDump } from "./run.ts";
import type { DumpTracker } from "./tracker.ts";
import { choosePgDump } from "./versions.ts";

/**
 * The pg_dump route, mounted by the app at `/v1alpha1/pg_dump`.
 *
 * @example
 * app.route("/v1alpha1/pg_dump", pgDumpRoute(dependencies));
 */
export const pgDumpRoute = (
  dependencies: AppDependencies & { tracker: DumpTracker },
): Hono<AppEnv> => {
  const { config, runtime, sources, tracker } = dependencies;
  const route = new Hono<AppEnv>();

  // The handler reads the whole body into memory, so its size is bounded before that; a body
  // sent without Content-Length is counted as it arrives.
  const limitBody = bodyLimit({
    maxSize: config.limits.maxBodyBytes,
    onError: () => bodyTooLarge(config.limits.maxBodyBytes).toResponse(),
  });

  route.post("/", limitBody, async (c) => {
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

    const pgDump = await choosePgDump(dependencies, source, c.get("requestId"));

    if (!tracker.reserve()) throw tooManyDumps(tracker.closed);
    let dump: RunningDump;
    try {
      dump = await startDump(
        { source, options: parsed.options, cleanOutput: request.clean_output },
        {
          spawn: runtime.spawn,
          pgDumpPath: pgDump.path,
          launcher: dependencies.pgDumps.launcher,
          baseEnv: dependencies.childEnv,
        },
      );
    } catch (error) {
      tracker.release();
      if (error instanceof ConnectionStringError) {
        throw new HasuraError(500, "unexpected", `source ${request.source}: ${error.message}`);
      }
      throw error;
    }
    tracker.track(dump);
    // A client that leaves while pg_dump is still silent (waiting for a lock) would
    // otherwise be noticed only at the first write.
    const { signal } = c.req.raw;
    signal.addEventListener("abort", () => dump.stop("aborted-by-client"), { once: true });
    // It may have left already, while the pg_dump was picked and started.
    if (signal.aborted) dump.stop("aborted-by-client");
    await dump.ready;
    c.set("dump", { source: request.source, pgDumpVersion: pgDump.version, result: dump.result });

    const gzip = gzipWanted(c.req.header("accept-encoding"));
    const body = gzip ? gzipStream(dump.body) : dump.body;
    return new Response(body, {
      status: 200,
      headers: withPgDumpVersion(
        dumpHeaders({ source: request.source, options: parsed.options, gzip }),
        pgDump.version,
      ),
    });
  });

  return route;
};

/** Names the pg_dump that made the dump, since its version shapes the output. */
const withPgDumpVersion = (headers: Headers, version: string): Headers => {
  headers.set("x-pgdump-version", version);
  return headers;
};

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidJson(`Error in $: ${(error as Error).message}`);
  }
};
