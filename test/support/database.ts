/**
 * A real PostgreSQL for tests, from the cheapest source that works here: `TEST_DATABASE_URL`,
 * then a container when a container runtime answers, then a throwaway local cluster.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { startLocalCluster } from "../../src/embedded/cluster.ts";

export interface TestDatabase {
  /** Connects as a superuser, to the server's default database. */
  url: string;
  stop: () => Promise<void>;
  kind: "env" | "container" | "local";
}

export interface ScratchDatabase {
  url: string;
  name: string;
  /** Ends its sessions and drops it. Safe to call twice. */
  drop: () => Promise<void>;
}

const DEFAULT_IMAGE = "postgres:15-alpine";
/** Long enough for a local daemon to answer, short enough to be unnoticed when none runs. */
const RUNTIME_PROBE_MS = 3_000;

/**
 * Starts (or points at) a PostgreSQL server for a test run.
 *
 * @example
 * const database = await startTestDatabase();
 * after(() => database.stop());
 */
export const startTestDatabase = async (): Promise<TestDatabase> => {
  const url = process.env.TEST_DATABASE_URL;
  if (url) return { url, kind: "env", stop: async () => {} };

  if (mayHaveContainerRuntime() && (await containerRuntimeAnswers())) return startContainer();

  const cluster = await startLocalCluster();
  return { url: cluster.url, kind: "local", stop: cluster.stop };
};

/**
 * Creates an empty database with a unique name on the server behind `adminUrl`, so tests can
 * share one server without seeing each other's tables.
 *
 * @example
 * const scratch = await createScratchDatabase(database.url, "dump");
 * after(() => scratch.drop());
 */
export const createScratchDatabase = async (
  adminUrl: string,
  prefix = "scratch",
): Promise<ScratchDatabase> => {
  // Postgres cuts identifiers at 63 bytes; a cut name would no longer be unique.
  const safePrefix = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, "_")
    .slice(0, 40);
  const name = `${safePrefix}_${randomBytes(6).toString("hex")}`;
  await withAdmin(adminUrl, (sql) => sql`create database ${sql(name)}`);

  const url = new URL(adminUrl);
  url.pathname = `/${name}`;

  let dropping: Promise<void> | undefined;
  const drop = () => {
    dropping ??= withAdmin(adminUrl, async (sql) => {
      await sql`
        select pg_terminate_backend(pid) from pg_stat_activity
        where datname = ${name} and pid <> pg_backend_pid()
      `;
      // DROP DATABASE waits a few seconds for the terminated sessions to end.
      await sql`drop database if exists ${sql(name)}`;
    });
    return dropping;
  };

  return { url: url.toString(), name, drop };
};

const withAdmin = async <T>(adminUrl: string, work: (sql: postgres.Sql) => Promise<T>) => {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    return await work(sql);
  } finally {
    await sql.end();
  }
};

const startContainer = async (): Promise<TestDatabase> => {
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  const image = process.env.TEST_POSTGRES_IMAGE ?? DEFAULT_IMAGE;
  const container = await new PostgreSqlContainer(image).start();

  const stop = async () => {
    await container.stop();
  };
  return { url: container.getConnectionUri(), kind: "container", stop };
};

/**
 * Whether any place testcontainers looks for a runtime exists. Without one, loading
 * testcontainers and letting it try every strategy would only cost time.
 */
const mayHaveContainerRuntime = () => {
  if (process.env.DOCKER_HOST || process.env.TESTCONTAINERS_HOST_OVERRIDE) return true;
  if (process.platform === "win32") return true;

  const home = homedir();
  const runtimeDir = process.env.XDG_RUNTIME_DIR;
  const places = [
    join(home, ".testcontainers.properties"),
    "/var/run/docker.sock",
    join(home, ".docker", "run", "docker.sock"),
    join(home, ".docker", "desktop", "docker.sock"),
    ...(runtimeDir ? [join(runtimeDir, "docker.sock")] : []),
    ...(process.getuid ? [join("/run/user", String(process.getuid()), "docker.sock")] : []),
  ];
  return places.some((place) => existsSync(place));
};

/** A socket file can outlive its daemon, so the runtime must answer before it is used. */
const containerRuntimeAnswers = async () => {
  const { getContainerRuntimeClient } = await import("testcontainers");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), RUNTIME_PROBE_MS);
  });
  const probe = getContainerRuntimeClient().then(
    () => true,
    () => false,
  );

  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
};
