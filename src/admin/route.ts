/**
 * `GET /v1alpha1/pg_dump/versions`: the pg_dump executables installed, and for each source
 * its server version and the pg_dump a dump would run, so an operator sees a version
 * mismatch before a user's dump meets it. Admin-only, like the dump itself.
 */

import { Hono } from "hono";
import type { AppDependencies, AppEnv } from "../app.ts";
import { checkAdmin } from "../auth/admin.ts";
import { selectPgDump } from "../pgdump/versions.ts";
import type { Source } from "../sources/registry.ts";

export interface SourceVersionReport {
  name: string;
  server_version: string | null;
  server_version_num: number | null;
  /** The version of the pg_dump a dump of this source runs; null when none would. */
  pg_dump: string | null;
  error?: string;
}

/**
 * The versions route, mounted by the app at `/v1alpha1/pg_dump/versions`.
 *
 * @example
 * app.route("/v1alpha1/pg_dump/versions", pgDumpVersionsRoute(dependencies));
 */
export const pgDumpVersionsRoute = (dependencies: AppDependencies): Hono<AppEnv> => {
  const { config, sources, pgDumps } = dependencies;
  const route = new Hono<AppEnv>();

  route.get("/", async (c) => {
    const denied = await checkAdmin((name) => c.req.header(name), config);
    if (denied) throw denied;

    const all = await listSources(sources);
    const reports = await Promise.all(all.map((source) => reportSource(dependencies, source)));
    c.header("cache-control", "no-store");
    return c.json({
      pg_dump: pgDumps.binaries.map(({ version, major, path }) => ({ version, major, path })),
      sources: reports,
    });
  });

  return route;
};

const listSources = async (sources: AppDependencies["sources"]): Promise<Source[]> => {
  if (sources.list !== undefined) return sources.list();
  const fallback = await sources.find("default");
  return fallback === undefined ? [] : [fallback];
};

const reportSource = async (
  { pgDumps, serverVersions }: AppDependencies,
  source: Source,
): Promise<SourceVersionReport> => {
  const lookup = await serverVersions.lookup(source).then(
    (server) => ({ server, problem: undefined }),
    (error: Error) => ({
      server: undefined,
      problem: `could not read the server version (${error.message}); dumps run the newest pg_dump`,
    }),
  );
  const picked = selectPgDump(pgDumps, lookup.server, source.name);
  const problems = [lookup.problem, picked.ok ? undefined : picked.error.message].filter(
    (problem) => problem !== undefined,
  );

  return {
    name: source.name,
    server_version: lookup.server?.version ?? null,
    server_version_num: lookup.server?.num ?? null,
    pg_dump: picked.ok ? picked.binary.version : null,
    ...(problems.length > 0 ? { error: problems.join("; ") } : {}),
  };
};
