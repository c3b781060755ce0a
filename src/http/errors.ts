/**
 * Every error the gateway answers with, in Hasura's shape: `{ path, error, code }` plus an
 * optional `internal` field. Handlers throw or return these values; only `toResponse`
 * turns them into JSON, so no handler writes an error body by hand.
 */

import type { ContentfulStatusCode } from "hono/utils/http-status";

export type HasuraErrorCode =
  | "not-found"
  | "invalid-json"
  | "parse-failed"
  | "access-denied"
  | "bad-request"
  | "unexpected"
  | "service-unavailable"
  | "payload-too-large";

export interface HasuraErrorBody {
  path: string;
  error: string;
  code: HasuraErrorCode;
  internal?: unknown;
}

/**
 * An error that knows its HTTP status and Hasura error code.
 *
 * @example
 * throw new HasuraError(400, "parse-failed", 'key "opts" not found');
 */
export class HasuraError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: HasuraErrorCode;
  readonly path: string;
  readonly internal: unknown;
  readonly headers: Record<string, string>;

  constructor(
    status: ContentfulStatusCode,
    code: HasuraErrorCode,
    message: string,
    extra: { path?: string; internal?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "HasuraError";
    this.status = status;
    this.code = code;
    this.path = extra.path ?? "$";
    this.internal = extra.internal;
    this.headers = extra.headers ?? {};
  }

  toBody = (): HasuraErrorBody => {
    const body: HasuraErrorBody = { path: this.path, error: this.message, code: this.code };
    if (this.internal !== undefined) body.internal = this.internal;
    return body;
  };

  toResponse = (extraHeaders: Record<string, string> = {}): Response =>
    new Response(JSON.stringify(this.toBody()), {
      status: this.status,
      headers: { "content-type": "application/json", ...this.headers, ...extraHeaders },
    });
}

export const notFound = (): HasuraError =>
  new HasuraError(404, "not-found", "resource does not exist");

export const invalidJson = (detail: string): HasuraError =>
  new HasuraError(400, "invalid-json", detail);

export const parseFailed = (message: string, path = "$"): HasuraError =>
  new HasuraError(400, "parse-failed", message, { path });

export const notAdmin = (): HasuraError =>
  new HasuraError(400, "access-denied", "You have to be an admin to access this endpoint");

export const invalidAdminSecret = (): HasuraError =>
  new HasuraError(401, "access-denied", "invalid x-hasura-admin-secret/x-hasura-access-key");

export const adminSecretRequired = (): HasuraError =>
  new HasuraError(
    401,
    "access-denied",
    "x-hasura-admin-secret/x-hasura-access-key required, but not found",
  );

export const sourceNotFound = (name: string): HasuraError =>
  new HasuraError(400, "not-found", `source ${JSON.stringify(name)} not found`);

export const optionRefused = (option: string, reason: string): HasuraError =>
  new HasuraError(400, "bad-request", `pg_dump option ${JSON.stringify(option)} ${reason}`, {
    path: "$.opts",
  });

export const pgDumpFailed = (stderr: string): HasuraError =>
  new HasuraError(500, "unexpected", "error while executing pg_dump", { internal: stderr });

export const pgDumpNotStarted = (detail: string): HasuraError =>
  new HasuraError(500, "unexpected", "internal exception while executing pg_dump", {
    internal: detail,
  });

export const bodyTooLarge = (limit: number): HasuraError =>
  new HasuraError(413, "payload-too-large", `request body is larger than ${limit} bytes`);

/** Over the concurrency limit, or shutting down: try again shortly. */
export const tooManyDumps = (shuttingDown: boolean): HasuraError =>
  new HasuraError(
    503,
    "service-unavailable",
    shuttingDown
      ? "the gateway is shutting down; retry on another instance"
      : "too many pg_dump requests are running; retry later",
    { headers: { "retry-after": "5" } },
  );
