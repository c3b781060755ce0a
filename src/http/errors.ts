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

// Both are 500 `unexpected`, as Hasura answers a version mismatch: the request is fine, the
// gateway's installation lacks a pg_dump. Start-up finds pg_dump, hence the restart.
const installHint = (major: number | undefined): string =>
  major === undefined
    ? "pg_dump of your server's major version or newer, e.g. Debian package " +
      "postgresql-client-N for a PostgreSQL N server"
    : `pg_dump ${major} or newer, e.g. Debian package postgresql-client-${major}`;

/** No pg_dump at all on this machine; `serverMajor` names the one to install, when known. */
export const pgDumpMissing = (serverMajor: number | undefined): HasuraError =>
  new HasuraError(
    500,
    "unexpected",
    `pg_dump was not found on this machine: install ${installHint(serverMajor)} ` +
      "(or set PGDUMP_GATEWAY_PG_DUMP_DIRS to the directory holding it), " +
      "then restart the gateway",
  );

/** The source's server is newer than every installed pg_dump, which would refuse it. */
export const pgDumpTooOld = (
  source: string,
  server: { version: string; major: number },
  installed: readonly string[],
): HasuraError =>
  new HasuraError(
    500,
    "unexpected",
    `source ${JSON.stringify(source)} runs PostgreSQL ${server.version}, newer than every ` +
      `pg_dump installed here (${installed.join(", ")}), and pg_dump cannot dump a newer ` +
      `server: install ${installHint(server.major)}, then restart the gateway`,
    { internal: { server_version: server.version, installed_pg_dump: installed } },
  );

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

export const cleanOutputNeedsPlain = (): HasuraError =>
  new HasuraError(
    400,
    "bad-request",
    "clean_output works only on plain-format output: drop --format and --compress, " +
      "or set clean_output to false",
    { path: "$.clean_output" },
  );

/** The source's connection string cannot be read: the operator's setting, not the request. */
export const badSourceConnection = (source: { name: string }, error: Error): HasuraError =>
  new HasuraError(500, "unexpected", `source ${source.name}: ${error.message}`);
