/**
 * A throwaway PostgreSQL cluster for the `serve` demo and the test harness.
 *
 * Everything the cluster owns lives in one temporary directory that `stop()` removes. The
 * server listens on 127.0.0.1 only and keeps its unix socket in its data directory, so it never
 * meets a system cluster in /var/run/postgresql.
 *
 * Known shortcoming: Unix only (no `.exe` lookup, no Windows service accounts).
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { appendFile, chown, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";

/** A running cluster; `url` connects as its superuser with password auth. */
export interface LocalCluster {
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  /** Directory of the initdb, pg_ctl and postgres that run the cluster. */
  binDir: string;
  dataDir: string;
  /** Fast shutdown, then removes every file of the cluster. Safe to call twice. */
  stop: () => Promise<void>;
}

export interface ClusterOptions {
  /** Superuser name; `postgres` by default. */
  user?: string;
  /** Superuser password; random by default. */
  password?: string;
  /** Fixed port; a free one is picked by default. */
  port?: number;
  /** Directory of initdb, pg_ctl and postgres; found as `findPostgresBinDir` does by default. */
  binDir?: string;
  log?: (message: string) => void;
}

/** No PostgreSQL server binaries to start a cluster with; the message says what to install. */
export class PostgresNotFoundError extends Error {
  override name = "PostgresNotFoundError";

  constructor(reason = "no PostgreSQL server binaries (initdb, pg_ctl, postgres) were found") {
    super(
      `${reason}. Install PostgreSQL (Debian/Ubuntu: \`apt-get install postgresql\`, ` +
        "macOS: `brew install postgresql@17`) or set PG_BIN_DIR to the directory holding them, " +
        "or set HASURA_GRAPHQL_DATABASE_URL to use an existing database instead.",
    );
  }
}

const SERVER_TOOLS = ["initdb", "pg_ctl", "postgres"];
const HOST = "127.0.0.1";
const PORT_ATTEMPTS = 3;

/**
 * Finds a directory holding initdb, pg_ctl and postgres.
 *
 * `$PG_BIN_DIR` wins unchecked, so a wrong value fails loudly in `startLocalCluster`. Tools on
 * PATH come next because they are the ones the user chose; the usual install locations follow,
 * newest major version first.
 *
 * @example
 * const binDir = findPostgresBinDir() ?? "/usr/lib/postgresql/17/bin";
 */
export const findPostgresBinDir = (): string | undefined => {
  const fromEnv = process.env.PG_BIN_DIR;
  if (fromEnv) return fromEnv;

  return [...onPath(), ...installLocations()].find(holdsServerTools);
};

/**
 * Creates, starts and waits for a cluster that accepts connections.
 *
 * @example
 * const cluster = await startLocalCluster({ log: (message) => logger.info(message) });
 * try {
 *   await runDemo(cluster.url);
 * } finally {
 *   await cluster.stop();
 * }
 */
export const startLocalCluster = async (options: ClusterOptions = {}): Promise<LocalCluster> => {
  const binDir = options.binDir ?? findPostgresBinDir();
  if (!binDir) throw new PostgresNotFoundError();
  if (!holdsServerTools(binDir)) {
    throw new PostgresNotFoundError(`${binDir} does not hold initdb, pg_ctl and postgres`);
  }

  const log = options.log ?? (() => {});
  const user = options.user ?? "postgres";
  const password = options.password ?? randomBytes(18).toString("hex");
  const owner = serverAccount();
  const root = await mkdtemp(join(tmpdir(), "pgdump-gateway-"));
  const paths = { root, dataDir: join(root, "data"), logFile: join(root, "server.log") };
  const tool = toolRunner(binDir, owner, root);

  // A test run that crashes or calls process.exit() must not leave servers behind.
  const stopAtExit = () => stopNow(tool.command("pg_ctl", stopArgs(paths, "immediate")), paths);
  addExitStop(stopAtExit);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= shutdown(tool, paths).finally(() => removeExitStop(stopAtExit));
    return stopping;
  };

  try {
    const startedAt = Date.now();
    if (owner) await chown(root, owner.uid, owner.gid);
    await initCluster(tool, paths, owner, user, password);
    await configure(paths);
    const port = await startServer(tool, paths, options.port);
    log(`PostgreSQL from ${binDir} listens on ${HOST}:${port} (${Date.now() - startedAt} ms)`);

    const credentials = `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
    const url = `postgres://${credentials}@${HOST}:${port}/postgres`;
    return { url, host: HOST, port, user, password, binDir, dataDir: paths.dataDir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
};

interface ClusterPaths {
  root: string;
  dataDir: string;
  logFile: string;
}

/** The unprivileged account that runs the server when we are root. */
interface ServerAccount {
  name: string;
  uid: number;
  gid: number;
}

interface RunResult {
  code: number | null;
  output: string;
}

interface ToolRunner {
  (name: string, args: string[]): Promise<RunResult>;
  /** The argv that runs a tool, for callers that must spawn synchronously. */
  command: (name: string, args: string[]) => [string, string[]];
}

const initCluster = async (
  tool: ToolRunner,
  paths: ClusterPaths,
  owner: ServerAccount | undefined,
  user: string,
  password: string,
) => {
  // initdb only takes a superuser password from a file; keep it private and short-lived.
  const pwFile = join(paths.root, "pwfile");
  await writeFile(pwFile, `${password}\n`, { mode: 0o600 });

  try {
    if (owner) await chown(pwFile, owner.uid, owner.gid);
    const args = ["-D", paths.dataDir, "-U", user, `--pwfile=${pwFile}`, "-A", "scram-sha-256"];
    // --no-sync: a throwaway cluster gains nothing from flushing its files to disk.
    args.push("-E", "UTF8", "--no-sync");

    let result = await tool("initdb", [...args, "--locale=C.UTF-8"]);
    // Only a missing locale earns a retry; initdb's normal output mentions "locale" too.
    if (result.code !== 0 && /invalid locale/i.test(result.output)) {
      await rm(paths.dataDir, { recursive: true, force: true });
      result = await tool("initdb", [...args, "--no-locale"]);
    }
    if (result.code !== 0) {
      throw new Error(`initdb failed with exit code ${result.code}:\n${lastLines(result.output)}`);
    }
  } finally {
    await rm(pwFile, { force: true });
  }
};

/** Settings for a private, disposable server; appended, so they override initdb's defaults. */
const configure = async (paths: ClusterPaths) => {
  const settings = [
    `listen_addresses = '${HOST}'`,
    `unix_socket_directories = '${paths.dataDir.replaceAll("'", "''")}'`,
    "fsync = off",
    "max_connections = 200",
  ];
  await appendFile(join(paths.dataDir, "postgresql.conf"), `\n${settings.join("\n")}\n`);
};

/** Starts the server and returns its port; a picked port taken meanwhile is picked again. */
const startServer = async (tool: ToolRunner, paths: ClusterPaths, fixedPort?: number) => {
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ?? (await findFreePort());
    // -w waits until the server accepts connections, not just until the process exists.
    const args = ["-D", paths.dataDir, "-l", paths.logFile, "-o", `-p ${port}`, "-w"];
    const result = await tool("pg_ctl", [...args, "-t", "60", "start"]);
    if (result.code === 0) return port;

    const serverLog = lastLines(await readFile(paths.logFile, "utf8").catch(() => ""));
    const mayRetry = fixedPort === undefined && attempt < PORT_ATTEMPTS;
    if (mayRetry && serverLog.includes("Address already in use")) continue;
    throw new Error(
      `PostgreSQL did not start on ${HOST}:${port}:\n${result.output.trim()}\n` +
        `server log (${paths.logFile}):\n${serverLog}`,
    );
  }
};

const shutdown = async (tool: ToolRunner, paths: ClusterPaths) => {
  const pid = await readPostmasterPid(paths.dataDir);
  if (pid !== undefined) {
    const result = await tool("pg_ctl", stopArgs(paths, "fast"));
    if (result.code !== 0) await killServer(pid);
  }
  await rm(paths.root, { recursive: true, force: true });
};

/** Clusters still running, stopped synchronously at exit; one listener serves them all. */
const exitStops = new Set<() => void>();

const addExitStop = (stopCluster: () => void) => {
  if (exitStops.size === 0) process.on("exit", runExitStops);
  exitStops.add(stopCluster);
};

const removeExitStop = (stopCluster: () => void) => {
  exitStops.delete(stopCluster);
  if (exitStops.size === 0) process.off("exit", runExitStops);
};

const runExitStops = () => {
  for (const stopCluster of exitStops) {
    try {
      stopCluster();
    } catch {
      // Best effort: one cluster that cannot be removed must not keep the others running.
    }
  }
};

/** The synchronous stop for process exit, when no promise would ever settle. */
const stopNow = ([command, args]: [string, string[]], paths: ClusterPaths) => {
  try {
    spawnSync(command, args, { cwd: paths.root, stdio: "ignore", timeout: 15_000 });
  } finally {
    rmSync(paths.root, { recursive: true, force: true });
  }
};

const stopArgs = (paths: ClusterPaths, mode: "fast" | "immediate") => [
  "-D",
  paths.dataDir,
  "-m",
  mode,
  "-w",
  "-t",
  "30",
  "stop",
];

/** Last resort when pg_ctl cannot stop the server: immediate shutdown, then SIGKILL. */
const killServer = async (pid: number) => {
  for (const signal of ["SIGQUIT", "SIGKILL"] as const) {
    if (!isProcessRunning(pid)) return;
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    for (let waited = 0; waited < 5_000 && isProcessRunning(pid); waited += 50) await sleep(50);
  }
};

const readPostmasterPid = async (dataDir: string) => {
  const content = await readFile(join(dataDir, "postmaster.pid"), "utf8").catch(() => "");
  const pid = Number.parseInt(content.split("\n")[0] ?? "", 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
};

/**
 * Whether a process runs. Signal 0 also reaches a zombie whose parent never reaped it, so
 * Linux's process state is checked too.
 *
 * @example
 * if (isProcessRunning(pid)) process.kill(pid, "SIGKILL");
 */
export const isProcessRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.charAt(stat.lastIndexOf(")") + 2) !== "Z";
  } catch {
    return true;
  }
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now.
 *
 * @example
 * const port = await findFreePort();
 */
export const findFreePort = (): Promise<number> =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

/** initdb and postgres refuse to run as root, so root hands them to an unprivileged account. */
const serverAccount = (): ServerAccount | undefined => {
  if (process.getuid?.() !== 0) return undefined;

  const account = findAccount("postgres") ?? findAccount("nobody");
  if (account) return account;
  throw new Error("running as root, but no `postgres` or `nobody` account can run PostgreSQL");
};

/** Known shortcoming: reads /etc/passwd only, so accounts from LDAP or NIS are not found. */
const findAccount = (name: string): ServerAccount | undefined => {
  const passwd = readText("/etc/passwd");
  const fields = passwd
    .split("\n")
    .find((line) => line.startsWith(`${name}:`))
    ?.split(":");
  const uid = Number(fields?.[2]);
  const gid = Number(fields?.[3]);
  return Number.isInteger(uid) && Number.isInteger(gid) ? { name, uid, gid } : undefined;
};

const toolRunner = (binDir: string, owner: ServerAccount | undefined, cwd: string): ToolRunner => {
  const useSetpriv = owner !== undefined && findOnPath("setpriv") !== undefined;

  const command = (name: string, args: string[]): [string, string[]] => {
    const path = join(binDir, name);
    if (!owner) return [path, args];
    if (useSetpriv) {
      const ids = [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, "--clear-groups"];
      return ["setpriv", [...ids, "--", path, ...args]];
    }
    return ["runuser", ["-u", owner.name, "--", path, ...args]];
  };

  const run = (name: string, args: string[]) => runCommand(...command(name, args), cwd);
  return Object.assign(run, { command });
};

const runCommand = (command: string, args: string[], cwd: string) =>
  new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });

const lastLines = (text: string, count = 30) => text.trimEnd().split("\n").slice(-count).join("\n");

const holdsServerTools = (dir: string) =>
  SERVER_TOOLS.every((name) => isExecutable(join(dir, name)));

const onPath = () =>
  ["pg_dump", "initdb"].flatMap((name) => {
    const found = findOnPath(name);
    return found ? [dirname(realpathSync(found))] : [];
  });

const installLocations = () => [
  ...newestFirst("/usr/lib/postgresql", "", "bin"),
  ...newestFirst("/usr", "pgsql-", "bin"),
  "/usr/local/pgsql/bin",
  ...newestFirst("/opt/homebrew/opt", "postgresql@", "bin"),
  ...newestFirst("/usr/local/opt", "postgresql@", "bin"),
];

/** `<parent>/<prefix><version>/<sub>` for every version installed, newest first. */
const newestFirst = (parent: string, prefix: string, sub: string) =>
  listDir(parent)
    .filter((entry) => entry.startsWith(prefix) && /^\d+(\.\d+)?$/.test(entry.slice(prefix.length)))
    .map((entry) => ({ entry, version: Number.parseFloat(entry.slice(prefix.length)) }))
    .sort((a, b) => b.version - a.version)
    .map(({ entry }) => join(parent, entry, sub));

const findOnPath = (name: string) =>
  (process.env.PATH ?? "")
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, name))
    .find(isExecutable);

const isExecutable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

const listDir = (path: string) => {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
};

const readText = (path: string) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
};
