/**
 * The PostgreSQL version a source's server runs, asked with `SHOW server_version_num` and
 * remembered for a short while, so picking a pg_dump costs a query once a minute per
 * source rather than once per dump.
 */

import postgres from "postgres";
import { redactSecrets as redact, toLibpqEnv } from "./connection.ts";
import type { Source } from "./registry.ts";

export interface ServerVersion {
  /** `server_version_num`, e.g. 150018. */
  num: number;
  /** Readable form of `num`, e.g. `15.18` (or `9.6.24`). */
  version: string;
  /** The major version: 15 for 15.18, 9.6 for 9.6.24. */
  major: number;
}

export interface ServerVersions {
  /** The server version of a source; rejects, with no secret in the message, on failure. */
  lookup: (source: Source) => Promise<ServerVersion>;
}

export interface ServerVersionCacheOptions {
  /** How long a version is remembered; 60 s by default. */
  ttlMs?: number;
  now?: () => number;
  /** Asks a server for its `server_version_num`; `queryServerVersionNum` by default. */
  query?: (connectionString: string) => Promise<number>;
}

/** Seconds to wait for a connection; an unreachable server then fails fast into pg_dump. */
const CONNECT_TIMEOUT_SECONDS = 5;

/**
 * Splits a `server_version_num` into its readable version and its major version.
 *
 * @example
 * versionNumParts(150018); // { num: 150018, version: "15.18", major: 15 }
 */
export const versionNumParts = (num: number): ServerVersion => {
  const first = Math.floor(num / 10000);
  if (first >= 10) return { num, version: `${first}.${num % 10000}`, major: first };
  // Before 10, the major version is two numbers, 9.6 in 90624.
  const second = Math.floor(num / 100) % 100;
  return { num, version: `${first}.${second}.${num % 100}`, major: first + second / 10 };
};

/**
 * Connects once with postgres.js and reads `server_version_num`.
 *
 * Known shortcoming: postgres.js, not libpq, makes this connection, so a connection string
 * that only libpq understands (a service file, a client certificate's passphrase) fails here;
 * the caller then runs the newest pg_dump, which still connects with libpq.
 *
 * @example
 * await queryServerVersionNum("postgres://app:pw@db:5432/shop"); // 170004
 */
export const queryServerVersionNum = async (connectionString: string): Promise<number> => {
  // The connection goes in as options read the way libpq reads the string: postgres.js
  // would take libpq's query parameters (password, host, ...) for server settings.
  const libpq = toLibpqEnv(connectionString);
  const sql = postgres({
    host: libpq.PGHOST,
    port: libpq.PGPORT === undefined ? undefined : Number(libpq.PGPORT),
    username: libpq.PGUSER,
    password: libpq.PGPASSWORD,
    database: libpq.PGDATABASE,
    ssl: sslOption(libpq.PGSSLMODE),
    max: 1,
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    fetch_types: false,
    prepare: false,
    onnotice: () => {},
  });
  try {
    const [row] = await sql`SHOW server_version_num`;
    const num = Number(row?.server_version_num);
    if (!Number.isInteger(num) || num <= 0) throw new Error("server_version_num is not a number");
    return num;
  } catch (error) {
    throw new Error(withoutSecrets(String((error as Error)?.message ?? error), connectionString));
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
};

/**
 * Looks server versions up through `query`, keeping each success for `ttlMs`. Failures are
 * not kept, so a server that comes back is asked again at the next request. Lookups of the
 * same source at the same time share one query.
 *
 * @example
 * const versions = serverVersionCache();
 * const { major } = await versions.lookup(source); // 15
 */
export const serverVersionCache = (options: ServerVersionCacheOptions = {}): ServerVersions => {
  const { ttlMs = 60_000, now = Date.now, query = queryServerVersionNum } = options;
  const entries = new Map<string, { expires: number; version: Promise<ServerVersion> }>();

  return {
    lookup: (source) => {
      // Keyed by the connection, so a source whose connection changes is asked anew.
      const key = source.connectionString;
      const cached = entries.get(key);
      if (cached !== undefined && cached.expires > now()) return cached.version;

      const version = query(key).then(versionNumParts);
      entries.set(key, { expires: now() + ttlMs, version });
      version.catch(() => {
        if (entries.get(key)?.version === version) entries.delete(key);
      });
      return version;
    },
  };
};

/** Removes the connection string and its password from a message meant for logs. */
const withoutSecrets = (message: string, connectionString: string): string => {
  const secrets = [connectionString];
  try {
    const { password } = new URL(connectionString);
    secrets.push(password);
    secrets.push(decodeURIComponent(password));
  } catch {
    // An unparsable connection string has no password to find apart from itself.
  }
  // redact also hides a password inside a connection string the server's error quotes.
  return redact(
    message,
    secrets.filter((secret) => secret !== ""),
  );
};

/** postgres.js's form of libpq's sslmode; libpq's default, prefer, when none is given. */
const sslOption = (mode: string | undefined): boolean | "prefer" | "require" | "verify-full" => {
  switch (mode) {
    case "disable":
      return false;
    case "allow":
    case "prefer":
    case undefined:
      return "prefer";
    case "verify-ca":
    case "verify-full":
      return "verify-full";
    default:
      return "require";
  }
};
