/**
 * The gateway as a Hono app. It knows nothing about the runtime it runs on: everything
 * runtime-specific (starting processes, serving HTTP) comes in through `AppDependencies`.
 */

import { Hono } from "hono";
import { requestId } from "hono/request-id";
import type { Config } from "./config/env.ts";
import { accessLog, type LogVariables } from "./http/access-log.ts";
import { HasuraError, notFound } from "./http/errors.ts";
import type { Logger } from "./log/logger.ts";
import { pgDumpRoute } from "./pgdump/route.ts";
import { DumpTracker } from "./pgdump/tracker.ts";
import type { Runtime } from "./runtime/process.ts";
import type { SourceRegistry } from "./sources/registry.ts";

export interface AppDependencies {
  config: Config;
  runtime: Runtime;
  sources: SourceRegistry;
  logger: Logger;
  /** Environment variables pg_dump may inherit (PATH, locale, time zone). */
  childEnv: Record<string, string>;
  /** The running dumps; made from the configured limits when not given. */
  tracker?: DumpTracker;
}

export type AppEnv = { Variables: LogVariables };

/**
 * Builds the gateway's HTTP app.
 *
 * @example
 * const app = createApp({ config, runtime, sources, logger, childEnv });
 * Bun.serve({ fetch: app.fetch });
 */
export const createApp = (dependencies: AppDependencies): Hono<AppEnv> => {
  const { limits } = dependencies.config;
  const tracker =
    dependencies.tracker ??
    new DumpTracker(limits.maxConcurrentDumps, limits.dumpTimeoutSeconds * 1000);
  const app = new Hono<AppEnv>();

  app.use(requestId());
  app.use(accessLog(dependencies.logger));

  app.get("/healthz", (c) => c.text("OK"));

  if (dependencies.config.enabledApis.has("pgdump")) {
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
