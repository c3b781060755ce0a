/**
 * The gateway as a Hono app. It knows nothing about the runtime it runs on: everything
 * runtime-specific (starting processes, serving HTTP) comes in through `AppDependencies`.
 */

import { Hono } from "hono";
import { requestId } from "hono/request-id";
import type { Config } from "./config/env.ts";
import { HasuraError, notFound } from "./http/errors.ts";
import type { Logger } from "./log/logger.ts";
import { pgDumpRoute } from "./pgdump/route.ts";
import type { Runtime } from "./runtime/process.ts";
import type { SourceRegistry } from "./sources/registry.ts";

export interface AppDependencies {
  config: Config;
  runtime: Runtime;
  sources: SourceRegistry;
  logger: Logger;
  /** Environment variables pg_dump may inherit (PATH, locale, time zone). */
  childEnv: Record<string, string>;
}

/**
 * Builds the gateway's HTTP app.
 *
 * @example
 * const app = createApp({ config, runtime, sources, logger, childEnv });
 * Bun.serve({ fetch: app.fetch });
 */
export const createApp = (dependencies: AppDependencies): Hono => {
  const app = new Hono();

  app.use(requestId());

  app.get("/healthz", (c) => c.text("OK"));

  if (dependencies.config.enabledApis.has("pgdump")) {
    app.route("/v1alpha1/pg_dump", pgDumpRoute(dependencies));
  }

  app.notFound(() => notFound().toResponse());

  app.onError((error, c) => {
    if (error instanceof HasuraError) return error.toResponse();
    dependencies.logger.log("unexpected", "error", {
      request_id: c.get("requestId"),
      message: error.message,
    });
    return new HasuraError(500, "unexpected", "internal error").toResponse();
  });

  return app;
};
