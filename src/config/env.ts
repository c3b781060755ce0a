/**
 * Configuration read from the environment, with Hasura's variable names and formats, so
 * the gateway can run beside Hasura with the same settings. A bad value stops start-up
 * with a message that names the variable.
 */

import { z } from "zod";
import type { LogLevel } from "../log/logger.ts";

export const API_NAMES = [
  "metadata",
  "graphql",
  "pgdump",
  "developer",
  "config",
  "metrics",
] as const;
export type ApiName = (typeof API_NAMES)[number];

const DEFAULT_ENABLED_APIS: ApiName[] = ["metadata", "graphql", "pgdump", "config"];

export interface Limits {
  /** Dumps that may run at once; more get 503 with Retry-After. */
  maxConcurrentDumps: number;
  /** Longest a dump may run, in seconds; 0 means no limit. */
  dumpTimeoutSeconds: number;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Most entries accepted in `opts`. */
  maxOpts: number;
  /** Seconds running dumps get to finish on SIGTERM/SIGINT. */
  shutdownGraceSeconds: number;
}

export interface Config {
  /** Connection string of the `default` source, if any. */
  databaseUrl: string | undefined;
  /** Accepted admin secrets; empty when the gateway runs without one. */
  adminSecrets: string[];
  unauthorizedRole: string | undefined;
  /** JWT or webhook mode is configured (they decide roles for requests without a secret). */
  externalAuth: boolean;
  enabledApis: ReadonlySet<ApiName>;
  port: number;
  host: string;
  /** An explicit pg_dump, a candidate beside those found; when it cannot run, dumps fail. */
  pgDumpPath: string | undefined;
  /** More directories to look for pg_dump in, before the usual places and PATH. */
  pgDumpDirs: string[];
  limits: Limits;
  logLevel: LogLevel;
  /** Log types written besides `startup`, which is always written. */
  logTypes: ReadonlySet<string>;
}

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

// Hasura's default list; http-log is the one this gateway writes.
const DEFAULT_LOG_TYPES = [
  "startup",
  "http-log",
  "webhook-log",
  "websocket-log",
  "jwk-refresh-log",
];

export class ConfigError extends Error {
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === "" ? undefined : value;

const postgresUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === "postgres:" || url.protocol === "postgresql:";
  } catch {
    return false;
  }
}, "expected a postgres:// or postgresql:// connection string");

// Plain decimal digits only: Number() would also take "0x1F90" or "1e3".
const digits = z.string().trim().regex(/^\d+$/, "expected a whole number");
const port = digits.transform(Number).pipe(z.number().int().min(0).max(65535));
const count = (min: number) => digits.transform(Number).pipe(z.number().int().min(min));

const enabledApis = z.string().transform((value, ctx) => {
  const names = value
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== "");
  const unknown = names.filter((name) => !(API_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    ctx.addIssue({
      code: "custom",
      message: `unknown API name(s) ${unknown.join(", ")}; allowed names: ${API_NAMES.join(", ")}`,
    });
    return z.NEVER;
  }
  return new Set(names as ApiName[]);
});

const logTypes = z.string().transform(
  (value) =>
    new Set(
      value
        .split(",")
        .map((name) => name.trim().toLowerCase())
        .filter((name) => name !== ""),
    ),
);

const adminSecretList = z.string().transform((value, ctx) => {
  try {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed) && parsed.every((item) => typeof item === "string")) {
      return parsed as string[];
    }
  } catch {
    // reported below
  }
  ctx.addIssue({ code: "custom", message: 'expected a JSON array of strings, e.g. ["a","b"]' });
  return z.NEVER;
});

/** Parses one variable with a schema, or throws a ConfigError that names it. */
const read = <T>(env: Env, variable: string, schema: z.ZodType<T>): T | undefined => {
  const raw = nonEmpty(env[variable]);
  if (raw === undefined) return undefined;
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(variable, result.error.issues.map((issue) => issue.message).join("; "));
  }
  return result.data;
};

/**
 * Reads the gateway's configuration from an environment record.
 *
 * @example
 * const config = loadConfig(process.env);
 */
export const loadConfig = (env: Env): Config => {
  const secrets = [
    ...(read(env, "HASURA_GRAPHQL_ADMIN_SECRETS", adminSecretList) ?? []),
    read(env, "HASURA_GRAPHQL_ADMIN_SECRET", z.string()),
    read(env, "HASURA_GRAPHQL_ACCESS_KEY", z.string()),
  ].filter((secret): secret is string => secret !== undefined && secret !== "");

  const jwt = nonEmpty(env.HASURA_GRAPHQL_JWT_SECRET) !== undefined;
  const hook = nonEmpty(env.HASURA_GRAPHQL_AUTH_HOOK) !== undefined;
  if (jwt && hook) {
    throw new ConfigError(
      "HASURA_GRAPHQL_JWT_SECRET",
      "cannot be used together with HASURA_GRAPHQL_AUTH_HOOK; set only one",
    );
  }
  if ((jwt || hook) && secrets.length === 0) {
    throw new ConfigError(
      jwt ? "HASURA_GRAPHQL_JWT_SECRET" : "HASURA_GRAPHQL_AUTH_HOOK",
      "requires HASURA_GRAPHQL_ADMIN_SECRET to be set",
    );
  }

  const host = read(env, "HASURA_GRAPHQL_SERVER_HOST", z.string()) ?? "*";

  return {
    databaseUrl: read(env, "HASURA_GRAPHQL_DATABASE_URL", postgresUrl),
    adminSecrets: secrets,
    unauthorizedRole: read(env, "HASURA_GRAPHQL_UNAUTHORIZED_ROLE", z.string()),
    externalAuth: jwt || hook,
    enabledApis:
      read(env, "HASURA_GRAPHQL_ENABLED_APIS", enabledApis) ?? new Set(DEFAULT_ENABLED_APIS),
    port: read(env, "HASURA_GRAPHQL_SERVER_PORT", port) ?? 8080,
    host: host === "*" ? "0.0.0.0" : host,
    pgDumpPath: read(env, "PGDUMP_GATEWAY_PG_DUMP", z.string()),
    // PATH-style: colon-separated, empty entries ignored.
    pgDumpDirs: (read(env, "PGDUMP_GATEWAY_PG_DUMP_DIRS", z.string()) ?? "")
      .split(":")
      .filter((dir) => dir.trim() !== ""),
    limits: {
      maxConcurrentDumps: read(env, "PGDUMP_GATEWAY_MAX_CONCURRENT_DUMPS", count(1)) ?? 4,
      dumpTimeoutSeconds: read(env, "PGDUMP_GATEWAY_DUMP_TIMEOUT_SECONDS", count(0)) ?? 0,
      maxBodyBytes: read(env, "PGDUMP_GATEWAY_MAX_BODY_BYTES", count(64)) ?? 1024 * 1024,
      maxOpts: read(env, "PGDUMP_GATEWAY_MAX_OPTS", count(1)) ?? 1000,
      shutdownGraceSeconds: read(env, "PGDUMP_GATEWAY_SHUTDOWN_GRACE_SECONDS", count(0)) ?? 30,
    },
    logLevel:
      read(
        env,
        "HASURA_GRAPHQL_LOG_LEVEL",
        z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(", ")}` }),
      ) ?? "info",
    logTypes: read(env, "HASURA_GRAPHQL_ENABLED_LOG_TYPES", logTypes) ?? new Set(DEFAULT_LOG_TYPES),
  };
};
