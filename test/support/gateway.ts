/**
 * Starts the real gateway, on the runtime running the test, with the real pg_dump, on a
 * loopback port. Spawns are counted (the real adapter still runs them) so tests can show
 * that a refused request started no process.
 */

import { createApp } from "../../src/app.ts";
import { type Env, loadConfig } from "../../src/config/env.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import type { PgDumpInventory } from "../../src/pgdump/versions.ts";
import type { ChildProcess, Runtime } from "../../src/runtime/process.ts";
import { childEnvFrom, findPgDumps, type Serve } from "../../src/server/start.ts";
import { staticSources } from "../../src/sources/registry.ts";
import { serverVersionCache } from "../../src/sources/server-version.ts";

export const runtimeName = (): "bun" | "deno" | "node" => {
  const scope = globalThis as { Bun?: unknown; Deno?: unknown };
  if (scope.Bun !== undefined) return "bun";
  if (scope.Deno !== undefined) return "deno";
  return "node";
};

/** The adapter of the runtime this test runs on. */
export const currentRuntime = async (): Promise<{ runtime: Runtime; serve: Serve }> => {
  switch (runtimeName()) {
    case "bun": {
      const { bunRuntime, bunServe } = await import("../../src/runtime/bun.ts");
      return { runtime: bunRuntime, serve: bunServe };
    }
    case "deno": {
      const { denoRuntime, denoServe } = await import("../../src/runtime/deno.ts");
      return { runtime: denoRuntime, serve: denoServe };
    }
    default: {
      const { nodeRuntime, nodeServe } = await import("../../src/runtime/node.ts");
      return { runtime: nodeRuntime, serve: nodeServe };
    }
  }
};

export interface TestGateway {
  url: string;
  /** Entries logged so far. */
  logs: ReturnType<typeof memoryLogger>["entries"];
  /** Processes started so far, newest last. */
  children: ChildProcess[];
  /** Posts a JSON body to the pg_dump endpoint. */
  dump: (body: unknown, headers?: Record<string, string>) => Promise<Response>;
  /** The pg_dump executables the gateway chooses from. */
  pgDumps: PgDumpInventory;
  close: () => Promise<void>;
}

/**
 * Serves the app with the given environment (Hasura's variable names).
 *
 * @example
 * const gateway = await startTestGateway({ HASURA_GRAPHQL_DATABASE_URL: scratch.url });
 */
export const startTestGateway = async (
  env: Env,
  sources?: Record<string, string | undefined>,
  options: { pgDumps?: PgDumpInventory } = {},
): Promise<TestGateway> => {
  const config = loadConfig(env);
  const { runtime, serve } = await currentRuntime();
  // Found as start-up finds them, with the plain runtime, so probes are not counted.
  const pgDumps =
    options.pgDumps ?? (await findPgDumps(runtime, config, childEnvFrom(process.env)));
  const children: ChildProcess[] = [];
  const counting: Runtime = {
    name: runtime.name,
    spawn: async (command, args, options) => {
      const child = await runtime.spawn(command, args, options);
      children.push(child);
      return child;
    },
  };
  const logger = memoryLogger();
  const app = createApp({
    config,
    runtime: counting,
    sources: staticSources(sources ?? { default: config.databaseUrl }),
    logger,
    childEnv: childEnvFrom(process.env),
    pgDumps,
    serverVersions: serverVersionCache(),
  });
  const server = await serve(app.fetch, { port: 0, hostname: "127.0.0.1" });
  const url = `http://127.0.0.1:${server.port}`;
  return {
    url,
    logs: logger.entries,
    children,
    dump: (body, headers = {}) =>
      fetch(`${url}/v1alpha1/pg_dump`, {
        method: "POST",
        // fetch asks for gzip by default; tests see the bytes as pg_dump wrote them unless
        // they ask for compression themselves.
        headers: { "content-type": "application/json", "accept-encoding": "identity", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    pgDumps,
    close: server.close,
  };
};
