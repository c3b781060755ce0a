/**
 * Secrets stay where they belong: the source's password reaches pg_dump only as PGPASSWORD,
 * never on its command line; the admin secret and the connection string never reach it; and
 * no password shows up in an error response or a log line when pg_dump fails. Also the limits
 * on request bodies, which keep a request from costing more than it should.
 */

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { createScratchDatabase, type ScratchDatabase } from "./support/database.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";

const adminUrl = process.env.TEST_DATABASE_URL;
const onLinux = process.platform === "linux";

/** Liveness only: how long to wait for pg_dump to reach its lock wait, or for a log line. */
const WAIT_LIMIT_MS = 30_000;

const token = (): string => randomBytes(6).toString("hex");

describe("the source's password and the admin secret", { skip: !adminUrl }, () => {
  let scratch: ScratchDatabase;
  const role = `dumper_${token()}`;
  // Characters that must be percent-encoded in a URL, so decoding is part of what is tested.
  const password = `Pw:${token()}@/?#%!`;
  let roleUrl: string;

  before(async () => {
    scratch = await createScratchDatabase(adminUrl as string, "secrets");
    await withSql(adminUrl as string, (sql) =>
      sql.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`),
    );
    await withSql(scratch.url, (sql) =>
      sql.unsafe(`
        CREATE TABLE public.locked_table (id integer);
        GRANT SELECT ON public.locked_table TO ${role};
      `),
    );
    roleUrl = withCredentials(scratch.url, role, password);
  });

  after(async () => {
    await scratch?.drop();
    await withSql(adminUrl as string, (sql) => sql.unsafe(`DROP ROLE IF EXISTS ${role}`));
  });

  test("a running pg_dump has no secret in its command line or environment, and PGPASSWORD", {
    skip: onLinux ? false : "reads /proc, which only Linux has",
  }, async () => {
    const adminSecret = `admin-secret-${token()}`;
    // Set in this process too: a child that inherited the gateway's environment would show it.
    const restoreEnv = setProcessEnv({
      HASURA_GRAPHQL_ADMIN_SECRET: adminSecret,
      HASURA_GRAPHQL_DATABASE_URL: roleUrl,
    });
    const locker = postgres(scratch.url, { max: 1, onnotice: () => {} });
    const observer = postgres(scratch.url, { max: 1, onnotice: () => {} });
    let gateway: TestGateway | undefined;
    let unlock = () => {};

    try {
      gateway = await startTestGateway({
        HASURA_GRAPHQL_DATABASE_URL: roleUrl,
        HASURA_GRAPHQL_ADMIN_SECRET: adminSecret,
      });
      const holding = holdLock(locker, "public.locked_table");
      unlock = holding.unlock;
      await holding.held;

      const started = gateway.children.length;
      const responding = gateway.dump(
        { opts: ["--schema-only", "-t", "locked_table"] },
        { "x-hasura-admin-secret": adminSecret },
      );
      // pg_dump takes a lock on every table it dumps, so it now waits for ours.
      await waitUntil(async () => {
        const [row] = await observer<{ waiting: number }[]>`
            SELECT count(*)::int AS waiting FROM pg_stat_activity
            WHERE datname = ${scratch.name} AND application_name = 'pg_dump'
              AND wait_event_type = 'Lock'
          `;
        return (row?.waiting ?? 0) > 0;
      }, "pg_dump waiting for the table lock");
      assert.equal(gateway.children.length, started + 1);
      const pid = gateway.children.at(-1)?.pid;
      assert.ok(pid !== undefined);
      const argv = readProcList(pid, "cmdline");
      const environ = readProcList(pid, "environ");

      unlock();
      await holding.released;
      const response = await responding;
      assert.equal(response.status, 200);
      assert.match(await response.text(), /^CREATE TABLE public\.locked_table \(/m);

      assert.match(argv[0] ?? "", /pg_dump$/);
      assert.ok(argv.includes("--schema-only"), `not the dump's command line: ${argv}`);
      const secrets = [password, encodeURIComponent(password), adminSecret, roleUrl];
      for (const secret of secrets) {
        assert.ok(!argv.some((arg) => arg.includes(secret)), `a secret in argv: ${argv}`);
      }
      assert.ok(!argv.some((arg) => /postgres(ql)?:\/\//.test(arg)), "a URL in argv");

      const variables = new Map(environ.map((entry) => splitOnce(entry, "=")));
      assert.equal(variables.get("PGPASSWORD"), password);
      assert.equal(variables.get("PGUSER"), role);
      assert.equal(variables.get("PGDATABASE"), scratch.name);
      assert.deepEqual(
        environ.filter((entry) => entry.includes(password)),
        [`PGPASSWORD=${password}`],
        "the password appears only as PGPASSWORD",
      );
      for (const secret of [adminSecret, roleUrl, encodeURIComponent(password)]) {
        assert.ok(!environ.some((entry) => entry.includes(secret)), "a secret in environ");
      }
      const hasuraNames = [...variables.keys()].filter((name) => name.startsWith("HASURA_"));
      assert.deepEqual(hasuraNames, []);
    } finally {
      unlock();
      restoreEnv();
      await gateway?.close();
      await locker.end();
      await observer.end();
    }
  });

  describe("a pg_dump that fails says why without showing a password", () => {
    const wrongPassword = `Wrong:${token()}@/?#%!`;

    const expectFailureWithoutSecrets = async (
      url: string,
      internal: RegExp,
      secrets: readonly string[],
    ): Promise<void> => {
      const gateway = await startTestGateway({ HASURA_GRAPHQL_DATABASE_URL: url });
      try {
        const response = await gateway.dump({ opts: ["--schema-only"] });
        const text = await response.text();
        assert.equal(response.status, 500, text);
        const body = JSON.parse(text) as Record<string, unknown>;
        assert.equal(body.code, "unexpected");
        assert.equal(body.error, "error while executing pg_dump");
        assert.match(String(body.internal), internal);

        // The failure's log line may be written just after the response.
        await waitUntil(
          async () => gateway.logs.some((entry) => internal.test(stringsIn(entry).join("\n"))),
          "the failure in the log",
        );
        const logs = gateway.logs.map((entry) => JSON.stringify(entry));
        for (const secret of secrets) {
          assert.ok(!text.includes(secret), `the response holds ${secret}: ${text}`);
          const leaking = logs.filter((line) => line.includes(secret));
          assert.deepEqual(leaking, [], `log lines hold ${secret}`);
        }
      } finally {
        await gateway.close();
      }
    };

    const allPasswords = (): string[] => [
      wrongPassword,
      encodeURIComponent(wrongPassword),
      password,
      encodeURIComponent(password),
    ];

    test("a wrong password in the URL", async () => {
      await assertServerChecksPasswords(withCredentials(scratch.url, role, wrongPassword));
      await expectFailureWithoutSecrets(
        withCredentials(scratch.url, role, wrongPassword),
        new RegExp(`password authentication failed for user "${role}"`),
        allPasswords(),
      );
    });

    test("a wrong password as the password parameter", async () => {
      const url = new URL(withCredentials(scratch.url, role, ""));
      url.searchParams.set("password", wrongPassword);
      await expectFailureWithoutSecrets(
        url.toString(),
        new RegExp(`password authentication failed for user "${role}"`),
        allPasswords(),
      );
    });

    // libpq takes a database name from the environment literally, and the server's error
    // quotes it: a connection string written there, password and all, would come back.
    test("a database name that is itself a connection string with a password", async () => {
      const hidden = `Hidden${token()}`;
      const url = new URL(roleUrl);
      url.pathname = `/${encodeURIComponent(`postgresql://someone:${hidden}@127.0.0.1/elsewhere`)}`;
      await expectFailureWithoutSecrets(url.toString(), /does not exist/, [
        hidden,
        ...allPasswords(),
      ]);
    });
  });
});

describe("request body limits", { skip: !adminUrl }, () => {
  const MAX_OPTS = 5;
  const MAX_BODY_BYTES = 1024;
  let scratch: ScratchDatabase;
  let gateway: TestGateway;

  before(async () => {
    scratch = await createScratchDatabase(adminUrl as string, "limits");
    gateway = await startTestGateway({
      HASURA_GRAPHQL_DATABASE_URL: scratch.url,
      PGDUMP_GATEWAY_MAX_OPTS: String(MAX_OPTS),
      PGDUMP_GATEWAY_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    });
  });

  after(async () => {
    await gateway?.close();
    await scratch?.drop();
  });

  test(`opts with ${MAX_OPTS} entries is a dump`, async () => {
    const response = await gateway.dump({ opts: Array(MAX_OPTS).fill("--schema-only") });
    assert.equal(response.status, 200);
    await response.arrayBuffer();
  });

  test(`opts with ${MAX_OPTS + 1} entries is 400 parse-failed and starts nothing`, async () => {
    const started = gateway.children.length;
    const response = await gateway.dump({ opts: Array(MAX_OPTS + 1).fill("--schema-only") });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      path: "$.opts",
      error: `opts has more than ${MAX_OPTS} entries`,
      code: "parse-failed",
    });
    assert.equal(gateway.children.length, started);
  });

  test(`a body of exactly ${MAX_BODY_BYTES} bytes is a dump`, async () => {
    const response = await gateway.dump(paddedBody(MAX_BODY_BYTES));
    assert.equal(response.status, 200);
    await response.arrayBuffer();
  });

  const TOO_LARGE = {
    path: "$",
    error: `request body is larger than ${MAX_BODY_BYTES} bytes`,
    code: "payload-too-large",
  };

  for (const size of [MAX_BODY_BYTES + 1, 4 * MAX_BODY_BYTES]) {
    test(`a body of ${size} bytes is 413 and starts nothing`, async () => {
      const started = gateway.children.length;
      const response = await gateway.dump(paddedBody(size));
      assert.equal(response.status, 413);
      assert.deepEqual(await response.json(), TOO_LARGE);
      assert.equal(gateway.children.length, started);
    });
  }

  test("a body streamed without Content-Length is counted too: 413", async () => {
    const started = gateway.children.length;
    const bytes = new TextEncoder().encode(paddedBody(2 * MAX_BODY_BYTES));
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        for (let at = 0; at < bytes.length; at += 256) {
          controller.enqueue(bytes.subarray(at, at + 256));
        }
        controller.close();
      },
    });
    const response = await fetch(`${gateway.url}/v1alpha1/pg_dump`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    assert.equal(response.status, 413);
    assert.deepEqual(await response.json(), TOO_LARGE);
    assert.equal(gateway.children.length, started);
  });
});

const withSql = async <T>(url: string, work: (sql: postgres.Sql) => Promise<T>): Promise<T> => {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await work(sql);
  } finally {
    await sql.end();
  }
};

const withCredentials = (url: string, user: string, password: string): string => {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(user);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
};

/** Without password checks on the test server, a wrong password would prove nothing. */
const assertServerChecksPasswords = async (wrongUrl: string): Promise<void> => {
  const sql = postgres(wrongUrl, { max: 1, onnotice: () => {} });
  try {
    // 28P01 is invalid_password: the server asked for one and refused it.
    await assert.rejects(sql`SELECT 1`, { code: "28P01" });
  } finally {
    await sql.end();
  }
};

/** Sets variables of this process; the returned function puts the old values back. */
const setProcessEnv = (values: Record<string, string>): (() => void) => {
  const saved = Object.keys(values).map((name) => [name, process.env[name]] as const);
  Object.assign(process.env, values);
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
};

/** Takes an ACCESS EXCLUSIVE lock on a table in a transaction that lasts until `unlock`. */
const holdLock = (sql: postgres.Sql, table: string) => {
  let unlock = () => {};
  const unlocked = new Promise<void>((resolve) => {
    unlock = resolve;
  });
  let markHeld = () => {};
  const held = new Promise<void>((resolve) => {
    markHeld = resolve;
  });
  const released = sql.begin(async (tx) => {
    await tx.unsafe(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    markHeld();
    await unlocked;
  });
  return { held: Promise.race([held, released.then(() => {})]), released, unlock };
};

const waitUntil = async (check: () => Promise<boolean>, what: string): Promise<void> => {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

const readProcList = (pid: number, file: "cmdline" | "environ"): string[] =>
  readFileSync(`/proc/${pid}/${file}`, "utf8")
    .split("\0")
    .filter((entry) => entry !== "");

/** Every string inside a log entry, as written, without JSON's escaping. */
const stringsIn = (value: unknown): string[] => {
  if (typeof value === "string") return [value];
  if (value === null || typeof value !== "object") return [];
  return Object.values(value).flatMap(stringsIn);
};

const splitOnce = (text: string, separator: string): [string, string] => {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + separator.length)];
};

/** A valid request body of exactly `size` bytes: a cheap dump padded by an ignored field. */
const paddedBody = (size: number): string => {
  const base = JSON.stringify({ opts: ["--schema-only"], padding: "" });
  assert.ok(size >= base.length);
  return JSON.stringify({ opts: ["--schema-only"], padding: "x".repeat(size - base.length) });
};
