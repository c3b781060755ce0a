/**
 * One `http-log` line per request, in the shape of Hasura's, written when the response is
 * really over: for a dump that is when the stream has ended, with how it ended.
 */

import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log/logger.ts";
import type { DumpResult } from "../pgdump/run.ts";
import type { HasuraErrorBody } from "./errors.ts";

export interface LogVariables {
  requestId: string;
  /** Set by the pg_dump route once a dump streams; settles when it has ended. */
  dump?: { source: string; pgDumpVersion?: string; result: Promise<DumpResult> };
  /** Set by the error handler for error responses. */
  error?: HasuraErrorBody;
}

/**
 * Logs each request as an `http-log` line.
 *
 * @example
 * app.use(accessLog(logger));
 */
export const accessLog =
  (logger: Logger): MiddlewareHandler<{ Variables: LogVariables }> =>
  async (c, next) => {
    const started = performance.now();
    await next();

    const requestId = c.get("requestId");
    const httpInfo = {
      status: c.res.status,
      http_version: "HTTP/1.1",
      url: c.req.path,
      method: c.req.method,
      content_encoding: c.res.headers.get("content-encoding"),
    };
    const seconds = () => Number(((performance.now() - started) / 1000).toFixed(3));

    const dump = c.get("dump");
    if (dump === undefined) {
      const error = c.get("error");
      logger.log("http-log", error === undefined || c.res.status < 500 ? "info" : "error", {
        request_id: requestId,
        operation: { request_id: requestId, query_execution_time: seconds(), error },
        http_info: httpInfo,
      });
      return;
    }

    void dump.result.then((result) => {
      const complete = result.outcome === "complete";
      logger.log("http-log", complete ? "info" : "error", {
        request_id: requestId,
        operation: {
          request_id: requestId,
          query_execution_time: seconds(),
          pg_dump: {
            source: dump.source,
            version: dump.pgDumpVersion,
            outcome: result.outcome,
            bytes: result.bytes,
            exit_code: result.exit?.code ?? null,
            signal: result.exit?.signal ?? null,
            ...(complete ? {} : { stderr: result.stderr }),
          },
        },
        http_info: httpInfo,
      });
    });
  };
