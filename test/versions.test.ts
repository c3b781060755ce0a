import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../src/config/env.ts";
import {
  discoverPgDumps,
  type PgDumpInventory,
  parsePgDumpVersion,
  selectPgDump,
} from "../src/pgdump/versions.ts";
import { childEnvFrom, discoveryHost, findPgDumps } from "../src/server/start.ts";
import {
  queryServerVersionNum,
  serverVersionCache,
  versionNumParts,
} from "../src/sources/server-version.ts";
import { createScratchDatabase, type ScratchDatabase } from "./support/database.ts";
import { currentRuntime, startTestGateway, type TestGateway } from "./support/gateway.ts";

const adminUrl = process.env.TEST_DATABASE_URL;
const childEnv = childEnvFrom(process.env);

// This machine has only pg_dump 15, so other versions are stand-ins: shell scripts named
// pg_dump that print what a real pg_dump of that version prints for --version.
let root: string;

const standIn = (name: string, output: string, exitCode = 0): string => {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const script = `#!/bin/sh\nprintf '%s\\n' '${output}'\nexit ${exitCode}\n`;
  writeFileSync(join(dir, "pg_dump"), script);
  chmodSync(join(dir, "pg_dump"), 0o755);
  return dir;
};

const pgDumpOutput = (version: string) => `pg_dump (PostgreSQL) ${version}`;

const discover = async (dirs: string[], explicit?: string): Promise<PgDumpInventory> => {
  const { runtime } = await currentRuntime();
  return discoverPgDumps(discoveryHost(runtime, childEnv), { dirs, explicit });
};

const server = (num: number) => versionNumParts(num);

before(() => {
  root = mkdtempSync(join(tmpdir(), "pgdump-versions-"));
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("pg_dump --version output", () => {
  test("a Debian build's line gives its version and major", () => {
    const parsed = parsePgDumpVersion("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n");
    assert.deepEqual(parsed, { version: "15.18", major: 15, versionNum: 150018 });
  });

  test("a 9.x version has a two-part major, a pre-release keeps its suffix", () => {
    assert.deepEqual(parsePgDumpVersion("pg_dump (PostgreSQL) 9.6.24"), {
      version: "9.6.24",
      major: 9.6,
      versionNum: 90624,
    });
    assert.equal(parsePgDumpVersion("pg_dump (PostgreSQL) 18beta1")?.major, 18);
    assert.equal(parsePgDumpVersion("pg_dump (PostgreSQL) 18beta1")?.version, "18beta1");
  });

  test("anything else is not a pg_dump version", () => {
    assert.equal(parsePgDumpVersion("psql (PostgreSQL) 15.18"), undefined);
    assert.equal(parsePgDumpVersion("pg_dump: command not found"), undefined);
    assert.equal(parsePgDumpVersion(""), undefined);
  });

  test("server_version_num reads as the same major", () => {
    assert.deepEqual(versionNumParts(180004), { num: 180004, version: "18.4", major: 18 });
    assert.deepEqual(versionNumParts(90624), { num: 90624, version: "9.6.24", major: 9.6 });
  });
});

describe("choosing among stand-in pg_dump versions (shell scripts)", () => {
  test("an exact major match is chosen over older and newer stand-ins", async () => {
    const inventory = await discover([
      standIn("exact/16", pgDumpOutput("16.1")),
      standIn("exact/13", pgDumpOutput("13.4")),
      standIn("exact/15", pgDumpOutput("15.2")),
    ]);
    assert.deepEqual(
      inventory.binaries.map((binary) => binary.version),
      ["13.4", "15.2", "16.1"],
    );
    const picked = selectPgDump(inventory, server(150004), "default");
    assert.ok(picked.ok);
    assert.equal(picked.binary.version, "15.2");
    assert.equal(picked.binary.path, join(root, "exact/15/pg_dump"));
  });

  test("with only newer stand-ins, the oldest of them is chosen", async () => {
    const inventory = await discover([
      standIn("newer/17", pgDumpOutput("17.2")),
      standIn("newer/16", pgDumpOutput("16.1")),
    ]);
    const picked = selectPgDump(inventory, server(150004), "default");
    assert.ok(picked.ok);
    assert.equal(picked.binary.version, "16.1");
  });

  test("only older stand-ins: an error naming server, installed, what to install", async () => {
    const inventory = await discover([
      standIn("older/13", pgDumpOutput("13.4")),
      standIn("older/14", pgDumpOutput("14.9")),
    ]);
    const picked = selectPgDump(inventory, server(170004), "analytics");
    assert.ok(!picked.ok);
    assert.equal(picked.error.status, 500);
    assert.equal(picked.error.code, "unexpected");
    assert.equal(
      picked.error.message,
      'source "analytics" runs PostgreSQL 17.4, newer than every pg_dump installed here ' +
        "(13.4, 14.9), and pg_dump cannot dump a newer server: install pg_dump 17 or newer, " +
        "e.g. Debian package postgresql-client-17, then restart the gateway",
    );
  });

  test("among several stand-ins the lowest sufficient one is chosen for each server", async () => {
    const inventory = await discover(
      ["12.20", "18.1", "14.13", "16.6"].map((version) =>
        standIn(`many/${version}`, pgDumpOutput(version)),
      ),
    );
    const chosen = [120000, 130016, 150010, 160006, 180001].map((num) => {
      const picked = selectPgDump(inventory, server(num), "default");
      return picked.ok ? picked.binary.version : null;
    });
    assert.deepEqual(chosen, ["12.20", "14.13", "16.6", "16.6", "18.1"]);
  });

  test("an unknown server version gets the newest stand-in", async () => {
    const inventory = await discover([
      standIn("unknown/14", pgDumpOutput("14.1")),
      standIn("unknown/17", pgDumpOutput("17.0")),
    ]);
    const picked = selectPgDump(inventory, undefined, "default");
    assert.ok(picked.ok);
    assert.equal(picked.binary.version, "17.0");
  });

  test("stand-ins that print no version, or fail, are left out", async () => {
    const inventory = await discover([
      standIn("odd/garbage", "this is not pg_dump"),
      standIn("odd/failing", pgDumpOutput("16.1"), 1),
      standIn("odd/good", pgDumpOutput("14.1")),
      join(root, "odd/missing"),
    ]);
    assert.deepEqual(
      inventory.binaries.map((binary) => binary.version),
      ["14.1"],
    );
  });

  test("a stand-in reached through a symlink and directly is listed once", async () => {
    const dir = standIn("dup/real", pgDumpOutput("16.3"));
    const linked = join(root, "dup/linked");
    mkdirSync(linked);
    symlinkSync(join(dir, "pg_dump"), join(linked, "pg_dump"));
    const inventory = await discover([linked, dir, dir]);
    assert.equal(inventory.binaries.length, 1);
    assert.equal(inventory.binaries[0]?.path, join(dir, "pg_dump"));
  });

  test("a wrapper like Debian's pg_wrapper counts only when nothing else is found", async () => {
    const wrapperDir = join(root, "wrap/bin");
    mkdirSync(wrapperDir, { recursive: true });
    const wrapper = join(root, "wrap/pg_wrapper");
    writeFileSync(wrapper, `#!/bin/sh\necho '${pgDumpOutput("15.9")}'\n`);
    chmodSync(wrapper, 0o755);
    symlinkSync(wrapper, join(wrapperDir, "pg_dump"));

    const withReal = await discover([wrapperDir, standIn("wrap/real", pgDumpOutput("15.9"))]);
    assert.deepEqual(
      withReal.binaries.map((binary) => binary.path),
      [join(root, "wrap/real/pg_dump")],
    );
    const alone = await discover([wrapperDir]);
    assert.deepEqual(
      alone.binaries.map((binary) => binary.path),
      [wrapper],
    );
  });

  test("no pg_dump at all is an error that says what to install", async () => {
    const inventory = await discover([join(root, "nothing-here")]);
    assert.equal(inventory.binaries.length, 0);
    const picked = selectPgDump(inventory, server(160002), "default");
    assert.ok(!picked.ok);
    assert.equal(picked.error.code, "unexpected");
    assert.match(picked.error.message, /^pg_dump was not found on this machine/);
    assert.match(picked.error.message, /postgresql-client-16/);
  });

  test("an explicit PGDUMP_GATEWAY_PG_DUMP stand-in joins the others", async () => {
    const explicit = join(standIn("explicit/13", pgDumpOutput("13.16")), "pg_dump");
    const inventory = await discover([standIn("explicit/16", pgDumpOutput("16.4"))], explicit);
    assert.equal(inventory.explicitError, undefined);
    assert.deepEqual(
      inventory.binaries.map((binary) => binary.version),
      ["13.16", "16.4"],
    );
  });

  test("an explicit PGDUMP_GATEWAY_PG_DUMP that cannot run fails dumps, naming it", async () => {
    const inventory = await discover(
      [standIn("explicit-bad/16", pgDumpOutput("16.4"))],
      join(root, "explicit-bad/none/pg_dump"),
    );
    assert.match(String(inventory.explicitError), /PGDUMP_GATEWAY_PG_DUMP=.*none\/pg_dump/);
    const picked = selectPgDump(inventory, server(160004), "default");
    assert.ok(!picked.ok);
    assert.equal(picked.error.message, "internal exception while executing pg_dump");
  });

  test("PGDUMP_GATEWAY_PG_DUMP_DIRS adds stand-ins to the machine's pg_dump", async () => {
    const first = standIn("env/a", pgDumpOutput("17.7"));
    const second = standIn("env/b", pgDumpOutput("13.23"));
    const config = loadConfig({ PGDUMP_GATEWAY_PG_DUMP_DIRS: `${first}::${second}:` });
    assert.deepEqual(config.pgDumpDirs, [first, second]);

    const { runtime } = await currentRuntime();
    const inventory = await findPgDumps(runtime, config, childEnv);
    const versions = inventory.binaries.map((binary) => binary.version);
    assert.ok(versions.includes("17.7") && versions.includes("13.23"), versions.join(", "));
    // The machine's own pg_dump is still found, in the usual places or on PATH.
    assert.ok(
      inventory.binaries.some((binary) => !binary.path.startsWith(root)),
      "the installed pg_dump is found too",
    );
    assert.deepEqual(
      versions,
      [...versions].sort((a, b) => Number.parseFloat(a) - Number.parseFloat(b)),
    );
  });
});

describe("pg_dump choice against the real local server", { skip: !adminUrl }, () => {
  let scratch: ScratchDatabase;
  let serverNum: number;

  before(async () => {
    scratch = await createScratchDatabase(adminUrl as string, "versions");
    serverNum = await queryServerVersionNum(scratch.url);
  });

  after(async () => {
    await scratch?.drop();
  });

  const withGateway = async (
    env: Record<string, string>,
    work: (gateway: TestGateway) => Promise<void>,
    options: { pgDumps?: PgDumpInventory } = {},
  ) => {
    const gateway = await startTestGateway(
      { HASURA_GRAPHQL_DATABASE_URL: scratch.url, ...env },
      undefined,
      options,
    );
    try {
      await work(gateway);
    } finally {
      await gateway.close();
    }
  };

  test("a dump names the installed pg_dump of the server's major in X-PgDump-Version", async () => {
    const major = versionNumParts(serverNum).major;
    // Stand-ins one major below and above: the real one in between must win.
    const dirs = [
      standIn("real/below", pgDumpOutput(`${major - 1}.4`)),
      standIn("real/above", pgDumpOutput(`${major + 1}.1`)),
    ].join(":");
    await withGateway({ PGDUMP_GATEWAY_PG_DUMP_DIRS: dirs }, async (gateway) => {
      const installed = gateway.pgDumps.binaries.find(
        (binary) => binary.major === major && !binary.path.startsWith(root),
      );
      assert.ok(installed, `a real pg_dump ${major} is installed`);

      const response = await gateway.dump({ opts: ["--schema-only"] });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("x-pgdump-version"), installed.version);
      assert.match(await response.text(), /PostgreSQL database dump/);
      assert.equal(gateway.children.length, 1);

      const logged = await waitForDumpLog(gateway);
      assert.equal(logged.version, installed.version);
    });
  });

  test("the versions endpoint lists the pg_dump found and the source's server", async () => {
    await withGateway({}, async (gateway) => {
      const response = await fetch(`${gateway.url}/v1alpha1/pg_dump/versions`);
      assert.equal(response.status, 200);
      const body = (await response.json()) as {
        pg_dump: { version: string; major: number; path: string }[];
        sources: Record<string, unknown>[];
      };
      const expected = gateway.pgDumps.binaries.map(({ version, major, path }) => ({
        version,
        major,
        path,
      }));
      assert.deepEqual(body.pg_dump, expected);
      const server = versionNumParts(serverNum);
      const chosen = selectPgDump(gateway.pgDumps, server, "default");
      assert.ok(chosen.ok);
      assert.deepEqual(body.sources, [
        {
          name: "default",
          server_version: server.version,
          server_version_num: serverNum,
          pg_dump: chosen.binary.version,
        },
      ]);
    });
  });

  test("the versions endpoint is admin-only and gone with the pgdump API", async () => {
    await withGateway({ HASURA_GRAPHQL_ADMIN_SECRET: "s3cret" }, async (gateway) => {
      const url = `${gateway.url}/v1alpha1/pg_dump/versions`;
      const anonymous = await fetch(url);
      assert.equal(anonymous.status, 401);
      assert.equal(((await anonymous.json()) as { code: string }).code, "access-denied");
      const admin = await fetch(url, { headers: { "x-hasura-admin-secret": "s3cret" } });
      assert.equal(admin.status, 200);
      await admin.body?.cancel();
    });
    await withGateway({ HASURA_GRAPHQL_ENABLED_APIS: "metadata" }, async (gateway) => {
      const response = await fetch(`${gateway.url}/v1alpha1/pg_dump/versions`);
      assert.equal(response.status, 404);
      await response.body?.cancel();
    });
  });

  test("no pg_dump installed (empty inventory handed in): dumps get the install hint", async () => {
    const major = versionNumParts(serverNum).major;
    await withGateway(
      {},
      async (gateway) => {
        const response = await gateway.dump({ opts: ["--schema-only"] });
        assert.equal(response.status, 500);
        const body = (await response.json()) as Record<string, unknown>;
        assert.equal(body.code, "unexpected");
        assert.match(String(body.error), /^pg_dump was not found on this machine/);
        assert.match(String(body.error), new RegExp(`postgresql-client-${major}\\b`));
        assert.equal(gateway.children.length, 0);

        const versions = await fetch(`${gateway.url}/v1alpha1/pg_dump/versions`);
        const report = (await versions.json()) as { pg_dump: unknown[]; sources: unknown[] };
        assert.deepEqual(report.pg_dump, []);
        assert.match(JSON.stringify(report.sources), /pg_dump was not found/);
      },
      { pgDumps: { binaries: [] } },
    );
  });

  test("server versions are cached per source for the TTL; failures are not", async () => {
    let clock = 0;
    let queries = 0;
    const versions = serverVersionCache({
      ttlMs: 60_000,
      now: () => clock,
      query: (connectionString) => {
        queries++;
        return queryServerVersionNum(connectionString);
      },
    });
    const source = { name: "default", connectionString: scratch.url };

    assert.equal((await versions.lookup(source)).num, serverNum);
    clock += 59_000;
    assert.equal((await versions.lookup(source)).num, serverNum);
    assert.equal(queries, 1);
    clock += 2_000;
    await versions.lookup(source);
    assert.equal(queries, 2);

    const wrong = new URL(scratch.url);
    wrong.password = "not-the-password";
    const broken = { name: "broken", connectionString: wrong.toString() };
    await assert.rejects(versions.lookup(broken), (error: Error) => {
      assert.ok(!error.message.includes("not-the-password"), error.message);
      return true;
    });
    await assert.rejects(versions.lookup(broken));
    assert.equal(queries, 4);
  });
});

/** The http-log line of the dump, written once its stream has ended. */
const waitForDumpLog = async (gateway: TestGateway): Promise<{ version?: string }> => {
  for (let waited = 0; waited < 10_000; waited += 50) {
    for (const entry of gateway.logs) {
      const detail = entry.detail as { operation?: { pg_dump?: { version?: string } } };
      const dump = detail.operation?.pg_dump;
      if (entry.type === "http-log" && dump !== undefined) return dump;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("no http-log line for the dump");
};
