import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { toLibpqEnv } from "../src/sources/connection.ts";
import { createScratchDatabase, type ScratchDatabase } from "./support/database.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";

const adminUrl = process.env.TEST_DATABASE_URL;
const DOCS_OPTS = ["-O", "-x", "--schema-only", "--schema", "public"];

// The sample response of Hasura's pg_dump API reference, for the same table.
const DOCS_RESPONSE = `SET check_function_bodies = false;
CREATE TABLE public.author (
    id integer NOT NULL,
    name text NOT NULL
);
CREATE SEQUENCE public.author_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.author_id_seq OWNED BY public.author.id;
ALTER TABLE ONLY public.author ALTER COLUMN id SET DEFAULT nextval('public.author_id_seq'::regclass);
`;

const pgDumpDirect = (url: string, args: string[]): Buffer =>
  execFileSync("pg_dump", ["--encoding=utf8", ...args], {
    env: { PATH: process.env.PATH ?? "", ...toLibpqEnv(url) },
    maxBuffer: 64 * 1024 * 1024,
  });

describe("POST /v1alpha1/pg_dump against a real database", { skip: !adminUrl }, () => {
  let scratch: ScratchDatabase;
  let gateway: TestGateway;

  before(async () => {
    scratch = await createScratchDatabase(adminUrl as string, "api");
    const sql = postgres(scratch.url, { max: 1, onnotice: () => {} });
    await sql`CREATE TABLE public.author (id serial, name text NOT NULL)`;
    await sql`INSERT INTO public.author (name) VALUES ('Ada'), ('')`;
    await sql.end();
    gateway = await startTestGateway({ HASURA_GRAPHQL_DATABASE_URL: scratch.url });
  });

  after(async () => {
    await gateway?.close();
    await scratch?.drop();
  });

  test("the docs' request with clean_output returns exactly the docs' statements", async () => {
    const response = await gateway.dump({ opts: DOCS_OPTS, clean_output: true });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/sql");
    assert.equal(await response.text(), DOCS_RESPONSE);
  });

  test("without clean_output the body is pg_dump's output byte for byte", async () => {
    // A fixed restrict key, because pg_dump otherwise picks a random one on every run.
    const opts = [...DOCS_OPTS, "--restrict-key=fixedkey"];
    const response = await gateway.dump({ opts, clean_output: false });
    assert.equal(response.status, 200);
    const body = Buffer.from(await response.arrayBuffer());
    assert.ok(body.length > DOCS_RESPONSE.length);
    assert.deepEqual(body, pgDumpDirect(scratch.url, opts));
  });

  test("a data dump keeps the empty string row that a blind cleaner would drop", async () => {
    const response = await gateway.dump({
      opts: ["--data-only", "-t", "author"],
      clean_output: true,
    });
    assert.equal(response.status, 200);
    const body = await response.text();
    assert.match(body, /^COPY public\.author \(id, name\) FROM stdin;\n1\tAda\n2\t\n\\\.\n/m);
  });

  test("null clean_output and source mean their defaults, as in Hasura", async () => {
    const response = await gateway.dump({ opts: DOCS_OPTS, clean_output: null, source: null });
    assert.equal(response.status, 200);
    assert.ok((await response.text()).startsWith("--\n-- PostgreSQL database dump"));
  });

  test("unknown fields are ignored and source defaults to default", async () => {
    const response = await gateway.dump({ opts: DOCS_OPTS, clean_output: true, extra: 1 });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), DOCS_RESPONSE);
  });

  test("an unknown source is 400 not-found naming it", async () => {
    const response = await gateway.dump({ opts: DOCS_OPTS, source: "analytics" });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      path: "$",
      error: 'source "analytics" not found',
      code: "not-found",
    });
  });

  test("a pg_dump failure before any output is 500 unexpected with stderr in internal", async () => {
    const started = gateway.children.length;
    const response = await gateway.dump({ opts: ["-t", "no_such_table", "--strict-names"] });
    assert.equal(response.status, 500);
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(body.code, "unexpected");
    assert.equal(body.error, "error while executing pg_dump");
    assert.match(String(body.internal), /no matching tables were found/);
    assert.equal(gateway.children.length, started + 1);
  });

  test("a body that is not JSON is 400 invalid-json, and starts no process", async () => {
    const started = gateway.children.length;
    const response = await gateway.dump("{not json");
    assert.equal(response.status, 400);
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(body.code, "invalid-json");
    assert.equal(body.path, "$");
    assert.equal(gateway.children.length, started);
  });

  for (const [name, body, path, message] of [
    ["opts missing", {}, "$", 'key "opts" not found'],
    ["opts not an array", { opts: "-O" }, "$.opts", "expected Array, but encountered String"],
    [
      "opts holding a number",
      { opts: ["-O", 1] },
      "$.opts[1]",
      "expected String, but encountered Number",
    ],
    [
      "clean_output not a boolean",
      { opts: [], clean_output: "yes" },
      "$.clean_output",
      "expected Boolean, but encountered String",
    ],
    [
      "source not a string",
      { opts: [], source: 1 },
      "$.source",
      "expected String, but encountered Number",
    ],
    ["body not an object", [1], "$", "expected Object, but encountered Array"],
    [
      "an entry of opts too long to pass to a process",
      { opts: [`--schema=${"x".repeat(70000)}`] },
      "$.opts[0]",
      "an entry of opts is longer than 65536 characters",
    ],
  ] as const) {
    test(`${name} is 400 parse-failed at ${path}`, async () => {
      const started = gateway.children.length;
      const response = await gateway.dump(body);
      assert.equal(response.status, 400);
      assert.deepEqual(await response.json(), { path, error: message, code: "parse-failed" });
      assert.equal(gateway.children.length, started);
    });
  }

  test("GET /healthz answers OK", async () => {
    const response = await fetch(`${gateway.url}/healthz`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "OK");
  });

  test("an unknown route is Hasura's 404", async () => {
    const response = await fetch(`${gateway.url}/v1/nothing`);
    assert.equal(response.status, 404);
    assert.deepEqual(await response.json(), {
      path: "$",
      error: "resource does not exist",
      code: "not-found",
    });
  });
});

describe("pg_dump that cannot be started", { skip: !adminUrl }, () => {
  test("is 500 unexpected 'internal exception while executing pg_dump'", async () => {
    const gateway = await startTestGateway({
      HASURA_GRAPHQL_DATABASE_URL: adminUrl,
      PGDUMP_GATEWAY_PG_DUMP: "/nonexistent/pg_dump",
    });
    try {
      const response = await gateway.dump({ opts: ["--schema-only"] });
      assert.equal(response.status, 500);
      const body = (await response.json()) as Record<string, unknown>;
      assert.equal(body.code, "unexpected");
      assert.equal(body.error, "internal exception while executing pg_dump");
    } finally {
      await gateway.close();
    }
  });
});
