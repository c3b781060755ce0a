/**
 * Start-up shared by the three runtimes: read the configuration, start the embedded demo
 * database when none is configured, build the app, serve it, and shut down cleanly.
 */

import { accessSync, constants, readdirSync, realpathSync, statSync } from "node:fs";
import process from "node:process";
import { createApp } from "../app.ts";
import { type Config, ConfigError, loadConfig } from "../config/env.ts";
import {
  type LocalCluster,
  PostgresNotFoundError,
  startLocalCluster,
} from "../embedded/cluster.ts";
import { seedDemoSchema } from "../embedded/demo.ts";
import { jsonLogger, type Logger } from "../log/logger.ts";
import { DumpTracker } from "../pgdump/tracker.ts";
import {
  type DiscoveryHost,
  discoverPgDumps,
  outputBuffered,
  type PgDumpInventory,
  pgDumpSearchDirs,
} from "../pgdump/versions.ts";
import type { Runtime } from "../runtime/process.ts";
import { redactConnectionString } from "../sources/connection.ts";
import { staticSources } from "../sources/registry.ts";
import { serverVersionCache } from "../sources/server-version.ts";

export interface ServeOptions {
  port: number;
  hostname: string;
}

export interface RunningServer {
  port: number;
  close: () => Promise<void>;
}

/** How a runtime serves a fetch handler; each adapter provides one. */
export type Serve = (
  fetch: (request: Request) => Response | Promise<Response>,
  options: ServeOptions,
) => Promise<RunningServer>;

/** Variables pg_dump may inherit; everything else, secrets included, stays behind. */
const CHILD_ENV_NAMES = ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ"];

export const childEnvFrom = (
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> =>
  Object.fromEntries(
    CHILD_ENV_NAMES.flatMap((name) => {
      const value = env[name];
      return value === undefined ? [] : [[name, value]];
    }),
  );

const writeLine = (line: string): void => {
  process.stdout.write(line);
};

/**
 * Runs the gateway until SIGTERM or SIGINT.
 *
 * @example
 * await startGateway({ runtime: nodeRuntime, serve: nodeServe });
 */
export const startGateway = async ({ runtime, serve }: { runtime: Runtime; serve: Serve }) => {
  const config = readConfig(jsonLogger(writeLine));
  const logger = jsonLogger(writeLine, config.logLevel, config.logTypes);

  let cluster: LocalCluster | undefined;
  let databaseUrl = config.databaseUrl;
  if (databaseUrl === undefined) {
    cluster = await startDemoDatabase(logger);
    databaseUrl = cluster.url;
  }

  const childEnv = childEnvFrom(process.env);
  const pgDumps = await findPgDumps(runtime, config, childEnv);
  logPgDumps(logger, pgDumps);

  const { limits } = config;
  const tracker = new DumpTracker(limits.maxConcurrentDumps, limits.dumpTimeoutSeconds * 1000);
  const app = createApp({
    config,
    tracker,
    runtime,
    sources: staticSources({ default: databaseUrl }),
    logger,
    childEnv,
    pgDumps,
    serverVersions: serverVersionCache(),
  });
  const server = await serve(app.fetch, { port: config.port, hostname: config.host });

  logger.log("startup", "info", {
    message: "pg_dump gateway listening",
    runtime: runtime.name,
    host: config.host,
    port: server.port,
    default_source: redactConnectionString(databaseUrl),
    embedded_database: cluster !== undefined,
    limits: config.limits,
  });
  if (cluster !== undefined) logDemoCommand(logger, config, server.port);

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.log("startup", "info", {
      message: "shutting down: no new dumps; running dumps get the grace period",
      signal,
      running_dumps: tracker.active,
      grace_seconds: limits.shutdownGraceSeconds,
    });
    tracker.close();
    const closed = server.close();
    if (!(await tracker.drain(limits.shutdownGraceSeconds * 1000))) {
      logger.log("startup", "warn", {
        message: "grace period over: stopping the dumps still running",
        running_dumps: tracker.active,
      });
      await tracker.stopAll("shutdown");
    }
    // Connections the runtime still holds (a client that has not read its aborted body)
    // must not keep the process alive.
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2000))]);
    await cluster?.stop();
    logger.log("startup", "info", { message: "stopped" });
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
};

/** A pg_dump that has not printed its version by then is not used. */
const PROBE_TIMEOUT_MS = 10_000;

/**
 * Every pg_dump on this machine: in `PGDUMP_GATEWAY_PG_DUMP_DIRS`, the usual install
 * directories and PATH, plus `PGDUMP_GATEWAY_PG_DUMP`, each run once with `--version`.
 *
 * @example
 * const pgDumps = await findPgDumps(runtime, config, childEnvFrom(process.env));
 */
export const findPgDumps = async (
  runtime: Runtime,
  config: Pick<Config, "pgDumpPath" | "pgDumpDirs">,
  childEnv: Record<string, string>,
): Promise<PgDumpInventory> => {
  const host = discoveryHost(runtime, childEnv);
  const pathDirs = (childEnv.PATH ?? "").split(":").filter((dir) => dir !== "");
  const inventory = await discoverPgDumps(host, {
    explicit: config.pgDumpPath,
    dirs: pgDumpSearchDirs(host, config.pgDumpDirs, pathDirs),
    pathDirs,
  });
  const stdbuf = pathDirs.map((dir) => host.executable(`${dir}/stdbuf`)).find(Boolean);
  return stdbuf === undefined ? inventory : { ...inventory, launcher: outputBuffered(stdbuf) };
};

/**
 * Discovery's view of this machine through node:fs, running `--version` with the runtime.
 *
 * @example
 * await discoverPgDumps(discoveryHost(runtime, childEnv), { dirs: ["/opt/pg17/bin"] });
 */
export const discoveryHost = (
  runtime: Runtime,
  childEnv: Record<string, string>,
): DiscoveryHost => ({
  listDir: (dir) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  },
  executable: (path) => {
    try {
      const real = realpathSync(path);
      accessSync(real, constants.X_OK);
      return statSync(real).isFile() ? real : undefined;
    } catch {
      return undefined;
    }
  },
  probe: (path) => probeVersion(runtime, path, childEnv),
});

const probeVersion = async (
  runtime: Runtime,
  path: string,
  env: Record<string, string>,
): Promise<string | undefined> => {
  let child: Awaited<ReturnType<Runtime["spawn"]>>;
  try {
    child = await runtime.spawn(path, ["--version"], { env });
  } catch {
    return undefined;
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), PROBE_TIMEOUT_MS);
  try {
    const [stdout, , exit] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    return exit.code === 0 ? stdout : undefined;
  } finally {
    clearTimeout(timer);
  }
};

const logPgDumps = (logger: Logger, { binaries, explicitError }: PgDumpInventory): void => {
  const found = binaries.map(({ version, path }) => ({ version, path }));
  if (explicitError !== undefined) {
    logger.log("startup", "error", {
      message: `${explicitError}: every dump fails until it is fixed or unset`,
      pg_dump: found,
    });
  } else if (found.length === 0) {
    logger.log("startup", "warn", {
      message:
        "no pg_dump was found, so every dump request will fail: install the PostgreSQL " +
        "client tools of your server's major version or newer (Debian: apt-get install " +
        "postgresql-client-17 for PostgreSQL 17), or set PGDUMP_GATEWAY_PG_DUMP_DIRS",
    });
  } else {
    logger.log("startup", "info", { message: "pg_dump executables found", pg_dump: found });
  }
};

const readConfig = (logger: Logger): Config => {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.log("startup", "error", { message: `invalid configuration: ${error.message}` });
      process.exit(1);
    }
    throw error;
  }
};

const startDemoDatabase = async (logger: Logger): Promise<LocalCluster> => {
  logger.log("startup", "info", {
    message: "HASURA_GRAPHQL_DATABASE_URL is not set: starting a throwaway demo database",
  });
  try {
    const cluster = await startLocalCluster();
    await seedDemoSchema(cluster.url);
    return cluster;
  } catch (error) {
    if (error instanceof PostgresNotFoundError) {
      logger.log("startup", "error", { message: error.message });
      process.exit(1);
    }
    throw error;
  }
};

const logDemoCommand = (logger: Logger, config: Config, port: number): void => {
  // The secret itself never goes into a log: the shell fills it in from the environment.
  const headers =
    config.adminSecrets.length === 0
      ? ""
      : ' -H "x-hasura-admin-secret: $HASURA_GRAPHQL_ADMIN_SECRET"';
  const body = JSON.stringify({
    opts: ["-O", "-x", "--schema-only", "--schema", "public"],
    clean_output: true,
  });
  const url = `http://127.0.0.1:${port}/v1alpha1/pg_dump`;
  const command = `curl -s -X POST ${url}${headers} -d '${body}'`;
  logger.log("startup", "info", { message: "demo database ready", command });
  // Also as a plain line, because a command inside a JSON string cannot be pasted as is.
  process.stderr.write(`\nDemo database ready. Try:\n\n  ${command}\n\n`);
};
