/**
 * `POST /v1alpha1/pg_dump`: authenticate, validate, start pg_dump, stream its output.
 */

import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppDependencies, AppEnv } from "../app.ts";
import { checkAdmin } from "../auth/admin.ts";
import {
  badSourceConnection,
  bodyTooLarge,
  cleanOutputNeedsPlain,
  invalidJson,
  optionRefused,
  sourceNotFound,
  tooManyDumps,
} from "../http/errors.ts";
import { gzipStream } from "../http/gzip.ts";
import { ConnectionStringError } from "../sources/connection.ts";
import { isPlainFormat, type PgDumpOption, parsePgDumpOptions } from "./options.ts";
import { type PgDumpRequest, parsePgDumpRequest } from "./request.ts";
import { dumpHeaders, gzipWanted } from "./response.ts";
import { type DumpPlan, type RunningDump, startDump } from "./run.ts";
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
  const { config, sources } = dependencies;
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

    const { request, options } = readDumpRequest(await c.req.text(), config.limits);
    const source = await sources.find(request.source);
    if (source === undefined) throw sourceNotFound(request.source);
    const pgDump = await choosePgDump(dependencies, source, c.get("requestId"));

    const dump = await launch(dependencies, {
      plan: { source, options, cleanOutput: request.clean_output },
      pgDumpPath: pgDump.path,
    });
    // A client that leaves while pg_dump is still silent (waiting for a lock) would
    // otherwise be noticed only at the first write.
    const { signal } = c.req.raw;
    signal.addEventListener("abort", () => dump.stop("aborted-by-client"), { once: true });
    // It may have left already, while the pg_dump was picked and started.
    if (signal.aborted) dump.stop("aborted-by-client");
    await dump.ready;
    c.set("dump", { source: request.source, pgDumpVersion: pgDump.version, result: dump.result });

    const gzip = gzipWanted(c.req.header("accept-encoding"));
    const headers = dumpHeaders({ source: request.source, options, gzip });
    // Names the pg_dump that made the dump, since its version shapes the output.
    headers.set("x-pgdump-version", pgDump.version);
    return new Response(gzip ? gzipStream(dump.body) : dump.body, { status: 200, headers });
  });

  return route;
};

/** The request body, checked, with its options parsed and allowed. */
const readDumpRequest = (
  text: string,
  limits: AppDependencies["config"]["limits"],
): { request: PgDumpRequest; options: PgDumpOption[] } => {
  const request = parsePgDumpRequest(parseJson(text), limits);
  const parsed = parsePgDumpOptions(request.opts);
  if (!parsed.ok) throw optionRefused(parsed.option, parsed.reason);
  if (request.clean_output && !isPlainFormat(parsed.options)) throw cleanOutputNeedsPlain();
  return { request, options: parsed.options };
};

/** Starts pg_dump in a free slot of the tracker, which then watches it until it ends. */
const launch = async (
  dependencies: AppDependencies & { tracker: DumpTracker },
  { plan, pgDumpPath }: { plan: DumpPlan; pgDumpPath: string },
): Promise<RunningDump> => {
  const { tracker } = dependencies;
  if (!tracker.reserve()) throw tooManyDumps(tracker.closed);
  let dump: RunningDump;
  try {
    dump = await startDump(plan, {
      spawn: dependencies.runtime.spawn,
      pgDumpPath,
      launcher: dependencies.pgDumps.launcher,
      baseEnv: dependencies.childEnv,
    });
  } catch (error) {
    tracker.release();
    if (error instanceof ConnectionStringError) throw badSourceConnection(plan.source, error);
    throw error;
  }
  tracker.track(dump);
  return dump;
};

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidJson(`Error in $: ${(error as Error).message}`);
  }
};
