/**
 * The gateway as a Hono app. It knows nothing about the runtime it runs on: everything
 * runtime-specific (starting processes, serving HTTP) comes in through `AppDependencies`.
 */

import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { pgDumpVersionsRoute } from "./admin/route.ts";
import type { Config } from "./config/env.ts";
import { accessLog, type LogVariables } from "./http/access-log.ts";
import { HasuraError, notFound } from "./http/errors.ts";
import type { Logger } from "./log/logger.ts";
import { pgDumpRoute } from "./pgdump/route.ts";
import { DumpTracker } from "./pgdump/tracker.ts";
import type { PgDumpInventory } from "./pgdump/versions.ts";
import type { Runtime } from "./runtime/process.ts";
import type { SourceRegistry } from "./sources/registry.ts";
import type { ServerVersions } from "./sources/server-version.ts";

export interface AppDependencies {
  config: Config;
  runtime: Runtime;
  sources: SourceRegistry;
  logger: Logger;
  /** Environment variables pg_dump may inherit (PATH, locale, time zone). */
  childEnv: Record<string, string>;
  /** The running dumps; made from the configured limits when not given. */
  tracker?: DumpTracker;
  /** The pg_dump executables found at start-up. */
  pgDumps: PgDumpInventory;
  /** Server versions of the sources, to pick a pg_dump per dump. */
  serverVersions: ServerVersions;
}

export type AppEnv = { Variables: LogVariables };

/**
 * Builds the gateway's HTTP app.
 *
 * @example
 * const app = createApp({ config, runtime, sources, logger, childEnv, pgDumps, serverVersions });
 * Bun.serve({ fetch: app.fetch });
 */
export const createApp = (dependencies: AppDependencies): Hono<AppEnv> => {
  const { limits } = dependencies.config;
  const tracker =
    dependencies.tracker ??
    new DumpTracker(limits.maxConcurrentDumps, limits.dumpTimeoutSeconds * 1000);
  const app = new Hono<AppEnv>();

  app.use(requestId());
  // Handlers answer with their own Response objects, which do not carry headers set on
  // the context, so the request id is put on whatever response leaves.
  app.use(async (c, next) => {
    await next();
    c.res.headers.set("x-request-id", c.get("requestId"));
  });
  app.use(accessLog(dependencies.logger));

  app.get("/healthz", (c) => c.text("OK"));

  if (dependencies.config.enabledApis.has("pgdump")) {
    app.route("/v1alpha1/pg_dump/versions", pgDumpVersionsRoute(dependencies));
    app.route("/v1alpha1/pg_dump", pgDumpRoute({ ...dependencies, tracker }));
  }

  app.notFound(() => notFound().toResponse());

  app.onError((error, c) => {
    const hasuraError =
      error instanceof HasuraError
        ? error
        : new HasuraError(500, "unexpected", "internal error", { internal: error.message });
    c.set("error", hasuraError.toBody());
    // The internal detail of an unexpected error goes to the log, not to the client.
    return error instanceof HasuraError
      ? hasuraError.toResponse()
      : new HasuraError(500, "unexpected", "internal error").toResponse();
  });

  return app;
};
