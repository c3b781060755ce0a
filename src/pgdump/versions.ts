/**
 * Which pg_dump runs a dump. pg_dump reads servers of its own major version and older ones,
 * never newer ones ("aborting because of server version mismatch"), so the gateway finds
 * every pg_dump installed at start-up and, per request, runs the oldest one that is new
 * enough for the source's server.
 *
 * Nothing here touches the file system or starts a process by itself: start-up hands in a
 * `DiscoveryHost`, so the app stays free of runtime modules.
 */

import { type HasuraError, pgDumpMissing, pgDumpNotStarted, pgDumpTooOld } from "../http/errors.ts";
import type { Logger } from "../log/logger.ts";
import type { Source } from "../sources/registry.ts";
import {
  type ServerVersion,
  type ServerVersions,
  versionNumParts,
} from "../sources/server-version.ts";

/** One pg_dump executable and the version it reports. */
export interface PgDumpBinary {
  /** As pg_dump prints it, e.g. `15.18` or `18beta1`. */
  version: string;
  /** Comparable with `ServerVersion.major`: 15 for 15.18, 9.6 for 9.6.24. */
  major: number;
  /** In the form of `server_version_num`, for ordering: 150018. */
  versionNum: number;
  /** The real path (symlinks resolved) that the gateway runs. */
  path: string;
}

export interface PgDumpInventory {
  /** Every usable pg_dump, oldest first. */
  binaries: readonly PgDumpBinary[];
  /**
   * Why the explicitly configured pg_dump (`PGDUMP_GATEWAY_PG_DUMP`) cannot be used. The
   * operator named it on purpose, so dumps fail rather than quietly run another one.
   */
  explicitError?: string;
  /** A command that runs pg_dump with a larger stdout buffer; see `outputBuffered`. */
  launcher?: readonly string[];
}

/**
 * Runs pg_dump under coreutils' `stdbuf` with a 64 KiB stdout buffer. Writing to a pipe,
 * pg_dump's stdio flushes every 4 KiB, and every layer of the gateway pays per chunk: with
 * 64 KiB writes the gateway spends about half the CPU per dumped byte. The bytes are the
 * same; only their grouping changes.
 *
 * @example
 * outputBuffered("/usr/bin/stdbuf"); // ["/usr/bin/stdbuf", "-o", "65536"]
 */
export const outputBuffered = (stdbuf: string): readonly string[] => [stdbuf, "-o", "65536"];

/** What discovery needs from the machine; start-up provides it with node:fs and spawn. */
export interface DiscoveryHost {
  /** Entry names of a directory, or none when it cannot be read. */
  listDir: (dir: string) => string[];
  /** The file's path with every symlink resolved, when it exists and is executable. */
  executable: (path: string) => string | undefined;
  /** What `<path> --version` prints on stdout, or undefined when it cannot be run. */
  probe: (path: string) => Promise<string | undefined>;
}

export interface DiscoveryOptions {
  /** `PGDUMP_GATEWAY_PG_DUMP`: a path, or a bare name looked up in `pathDirs`. */
  explicit?: string;
  /** Directories to look for a `pg_dump` in, in order of preference. */
  dirs: readonly string[];
  /** PATH's directories, for a bare explicit name. */
  pathDirs?: readonly string[];
}

const VERSION_LINE = /^pg_dump \(PostgreSQL\) (\d+)(?:\.(\d+))?(?:\.(\d+))?(\S*)/m;

/**
 * Reads the version out of `pg_dump --version`; undefined for anything else.
 *
 * @example
 * parsePgDumpVersion("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)");
 * // { version: "15.18", major: 15, versionNum: 150018 }
 */
export const parsePgDumpVersion = (output: string): Omit<PgDumpBinary, "path"> | undefined => {
  const match = VERSION_LINE.exec(output);
  if (match === null) return undefined;
  const [, first = "", second, third, suffix = ""] = match;
  const numbers = [first, second, third].filter((part) => part !== undefined).map(Number);
  const [a = 0, b = 0, c = 0] = numbers;
  // Before 10 the major version had two parts (9.6), and a third number was the minor.
  const versionNum = a >= 10 ? a * 10000 + b : a * 10000 + b * 100 + c;
  const version = `${numbers.join(".")}${suffix}`;
  return { version, major: versionNumParts(versionNum).major, versionNum };
};

/**
 * Where pg_dump is usually installed, followed by `extraDirs` and PATH's entries; the
 * directories of `extraDirs` come first since the operator chose them.
 *
 * @example
 * pgDumpSearchDirs(host, ["/opt/pg17/bin"], ["/usr/bin"]);
 * // ["/opt/pg17/bin", "/usr/lib/postgresql/15/bin", ..., "/usr/bin"]
 */
export const pgDumpSearchDirs = (
  host: Pick<DiscoveryHost, "listDir">,
  extraDirs: readonly string[],
  pathDirs: readonly string[],
): string[] => {
  const versioned = (parent: string, prefix: string, sub = "bin") =>
    host
      .listDir(parent)
      .filter((entry) => entry.startsWith(prefix))
      .sort()
      .map((entry) => `${parent}/${entry}/${sub}`);

  return [
    ...extraDirs,
    ...versioned("/usr/lib/postgresql", ""),
    ...versioned("/usr", "pgsql-"),
    ...versioned("/usr/local", "pgsql"),
    ...versioned("/opt/homebrew/opt", "postgresql@"),
    ...versioned("/usr/local/opt", "postgresql@"),
    ...pathDirs,
  ].filter((dir) => dir !== "");
};

/**
 * Finds and runs every pg_dump in `dirs` (and the explicit one) once, keeping those that
 * report a version, each real file once.
 *
 * Known shortcoming: Unix only; Windows' `pg_dump.exe` is not looked for.
 *
 * @example
 * const inventory = await discoverPgDumps(host, { dirs: pgDumpSearchDirs(host, [], path) });
 * inventory.binaries.map((binary) => binary.version); // ["13.22", "15.18"]
 */
export const discoverPgDumps = async (
  host: DiscoveryHost,
  options: DiscoveryOptions,
): Promise<PgDumpInventory> => {
  const explicit = await probeExplicit(host, options);
  const found = uniqueExecutables(host, options.dirs).filter((path) => path !== explicit.path);
  const probed = await Promise.all(found.map((path) => probeBinary(host, path)));
  const discovered = probed.filter((binary) => binary !== undefined);

  // Debian's /usr/bin/pg_dump is a wrapper that picks a version by its own rules; the real
  // binaries it would pick from are found directly, so it serves only as a last resort.
  const direct = discovered.filter((binary) => !isWrapper(binary.path));
  const chosen = direct.length > 0 ? direct : discovered;
  const binaries = [...(explicit.binary ? [explicit.binary] : []), ...chosen];
  binaries.sort((a, b) => a.versionNum - b.versionNum);

  return explicit.error === undefined ? { binaries } : { binaries, explicitError: explicit.error };
};

/**
 * The pg_dump for a server: the oldest one whose major version is at least the server's,
 * since that one knows the server best; the newest one when the server's version is
 * unknown. A failure is the error to answer with.
 *
 * @example
 * const picked = selectPgDump(inventory, { num: 150018, version: "15.18", major: 15 }, "default");
 * if (!picked.ok) throw picked.error;
 */
export const selectPgDump = (
  inventory: PgDumpInventory,
  server: ServerVersion | undefined,
  sourceName: string,
): { ok: true; binary: PgDumpBinary } | { ok: false; error: HasuraError } => {
  if (inventory.explicitError !== undefined) {
    return { ok: false, error: pgDumpNotStarted(inventory.explicitError) };
  }
  const { binaries } = inventory;
  const newest = binaries.at(-1);
  if (newest === undefined) return { ok: false, error: pgDumpMissing(server?.major) };
  if (server === undefined) return { ok: true, binary: newest };

  const binary = binaries.find((candidate) => candidate.major >= server.major);
  if (binary !== undefined) return { ok: true, binary };
  const installed = binaries.map((candidate) => candidate.version);
  return { ok: false, error: pgDumpTooOld(sourceName, server, installed) };
};

/**
 * Picks the pg_dump for one dump request: asks the source's server for its version, then
 * selects. When the server cannot be asked, the newest pg_dump runs and reports the
 * connection problem itself, as a dump always did.
 *
 * @example
 * const pgDump = await choosePgDump({ pgDumps, serverVersions, logger }, source, requestId);
 * await startDump(plan, { spawn, pgDumpPath: pgDump.path, baseEnv });
 */
export const choosePgDump = async (
  context: { pgDumps: PgDumpInventory; serverVersions: ServerVersions; logger: Logger },
  source: Source,
  requestId: string,
): Promise<PgDumpBinary> => {
  const { pgDumps, serverVersions, logger } = context;
  const server = await serverVersions.lookup(source).catch((error: Error) => {
    logger.log("pg-dump", "warn", {
      request_id: requestId,
      source: source.name,
      message: "could not read the server version; running the newest pg_dump",
      error: error.message,
    });
    return undefined;
  });

  const picked = selectPgDump(pgDumps, server, source.name);
  if (picked.ok) return picked.binary;
  logger.log("pg-dump", "error", {
    request_id: requestId,
    source: source.name,
    outcome: "refused",
    server_version: server?.version ?? null,
    message: picked.error.message,
  });
  throw picked.error;
};

const probeExplicit = async (
  host: DiscoveryHost,
  { explicit, pathDirs = [] }: DiscoveryOptions,
): Promise<{ path?: string; binary?: PgDumpBinary; error?: string }> => {
  if (explicit === undefined) return {};
  const variable = `PGDUMP_GATEWAY_PG_DUMP=${explicit}`;
  const candidates = explicit.includes("/") ? [explicit] : pathDirs.map((d) => `${d}/${explicit}`);
  const path = candidates.map(host.executable).find((real) => real !== undefined);
  if (path === undefined) return { error: `${variable} is not an executable file` };

  const binary = await probeBinary(host, path);
  if (binary === undefined) {
    return { path, error: `${variable} does not answer --version like pg_dump does` };
  }
  return { path, binary };
};

const probeBinary = async (
  host: DiscoveryHost,
  path: string,
): Promise<PgDumpBinary | undefined> => {
  const output = await host.probe(path);
  const parsed = output === undefined ? undefined : parsePgDumpVersion(output);
  return parsed === undefined ? undefined : { ...parsed, path };
};

/** Real paths of the `pg_dump` files in `dirs`, each once, in the order of `dirs`. */
const uniqueExecutables = (host: DiscoveryHost, dirs: readonly string[]): string[] => {
  const paths = dirs.map((dir) => host.executable(`${dir.replace(/\/+$/, "")}/pg_dump`));
  return [...new Set(paths.filter((path) => path !== undefined))];
};

const isWrapper = (path: string): boolean => !/(^|\/)pg_dump$/.test(path);
