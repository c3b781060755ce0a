/**
 * The `opts` of a pg_dump request, over HTTP against a real database: every form of pg_dump's
 * option grammar reaches pg_dump and shapes the dump, every refused option is a 400 that names
 * it and says why, and a refused request never starts a process.
 */

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import postgres from "postgres";
import { createScratchDatabase, type ScratchDatabase } from "./support/database.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import {
  CONNECTION,
  DIRECTORY,
  NOT_A_DUMP,
  NUL,
  POSITIONAL,
  PROMPTS,
  UNKNOWN,
  WRITES_FILE,
} from "./support/refusals.ts";

const adminUrl = process.env.TEST_DATABASE_URL;

const TABLE_AUTHOR = /^CREATE TABLE public\.author \(/m;
const TABLE_BOOK = /^CREATE TABLE other\.book \(/m;
const TABLE_DASH = /^CREATE TABLE public\."-x" \(/m;
const DATA_AUTHOR = /^COPY public\.author \(id, name\) FROM stdin;$/m;
const INSERT_AUTHOR = /^INSERT INTO public\.author VALUES \(1, 'Ada'\);$/m;
const OWNER = /^ALTER TABLE public\.author OWNER TO /m;
const GRANT = /^GRANT SELECT ON TABLE public\.author TO PUBLIC;$/m;
const COMMENT = /^COMMENT ON TABLE public\.author IS 'people who write';$/m;
const DUMP_END = /^-- PostgreSQL database dump complete$/m;

interface Accepted {
  opts: readonly string[];
  has?: readonly RegExp[];
  lacks?: readonly RegExp[];
}

/** Requests pg_dump runs; what the dump holds shows that the option reached pg_dump. */
const ACCEPTED: readonly Accepted[] = [
  { opts: [], has: [TABLE_AUTHOR, TABLE_BOOK, DATA_AUTHOR, OWNER, GRANT, COMMENT] },
  { opts: ["-O"], has: [GRANT], lacks: [OWNER] },
  { opts: ["-Ox"], has: [TABLE_AUTHOR], lacks: [OWNER, GRANT] },
  { opts: ["-Oxs"], has: [TABLE_AUTHOR], lacks: [OWNER, GRANT, DATA_AUTHOR] },
  { opts: ["-sO", "-x"], has: [TABLE_AUTHOR], lacks: [OWNER, GRANT, DATA_AUTHOR] },
  // What `hasura migrate create --from-server` sends.
  {
    opts: ["-O", "-x", "--schema-only", "--schema", "public"],
    has: [TABLE_AUTHOR],
    lacks: [TABLE_BOOK, OWNER, GRANT, DATA_AUTHOR],
  },
  { opts: ["-npublic"], has: [TABLE_AUTHOR], lacks: [TABLE_BOOK] },
  { opts: ["-n", "other"], has: [TABLE_BOOK], lacks: [TABLE_AUTHOR] },
  { opts: ["-Oxnother"], has: [TABLE_BOOK], lacks: [TABLE_AUTHOR, OWNER] },
  { opts: ["-Oxn", "other"], has: [TABLE_BOOK], lacks: [TABLE_AUTHOR, OWNER] },
  { opts: ["--schema=other"], has: [TABLE_BOOK], lacks: [TABLE_AUTHOR] },
  { opts: ["--schema", "other"], has: [TABLE_BOOK], lacks: [TABLE_AUTHOR] },
  { opts: ["--exclude-s=other"], has: [TABLE_AUTHOR], lacks: [TABLE_BOOK] },
  { opts: ["--schema-o"], has: [TABLE_AUTHOR], lacks: [DATA_AUTHOR] },
  { opts: ["--schema-only", "--"], has: [TABLE_AUTHOR], lacks: [DATA_AUTHOR] },
  { opts: ["--"], has: [TABLE_AUTHOR, DATA_AUTHOR] },
  { opts: ["-N", "other"], has: [TABLE_AUTHOR], lacks: [TABLE_BOOK] },
  { opts: ["--exclude-schema", "other"], has: [TABLE_AUTHOR], lacks: [TABLE_BOOK] },
  // A value that starts with a dash is still the value of the option before it.
  { opts: ["-t", "-x"], has: [TABLE_DASH], lacks: [TABLE_AUTHOR] },
  { opts: ["--table", "-x"], has: [TABLE_DASH], lacks: [TABLE_AUTHOR] },
  { opts: ["-t", "author", "--data-only"], has: [DATA_AUTHOR], lacks: [TABLE_AUTHOR] },
  { opts: ["--table=author", "-a"], has: [DATA_AUTHOR], lacks: [TABLE_AUTHOR] },
  { opts: ["-tauthor", "-a"], has: [DATA_AUTHOR], lacks: [TABLE_AUTHOR] },
  { opts: ["-Oxst", "author"], has: [TABLE_AUTHOR], lacks: [TABLE_BOOK, DATA_AUTHOR, OWNER] },
  { opts: ["-T", "author"], has: [TABLE_BOOK], lacks: [TABLE_AUTHOR] },
  { opts: ["--exclude-table=author"], has: [TABLE_BOOK], lacks: [TABLE_AUTHOR] },
  { opts: ["--exclude-table-data=author"], has: [TABLE_AUTHOR], lacks: [DATA_AUTHOR] },
  { opts: ["-a", "--inserts", "-t", "author"], has: [INSERT_AUTHOR], lacks: [DATA_AUTHOR] },
  { opts: ["-a", "--ins", "-t", "author"], has: [INSERT_AUTHOR], lacks: [DATA_AUTHOR] },
  {
    opts: ["-a", "--column-inserts", "-t", "author"],
    has: [/^INSERT INTO public\.author \(id, name\) VALUES \(1, 'Ada'\);$/m],
  },
  {
    opts: ["-a", "--attribute-inserts", "-t", "author"],
    has: [/^INSERT INTO public\.author \(id, name\) VALUES \(1, 'Ada'\);$/m],
  },
  {
    opts: ["-a", "--rows-per-insert=2", "-t", "author"],
    has: [/^INSERT INTO public\.author VALUES\n\t\(1, 'Ada'\),\n\t\(2, 'Grace'\);$/m],
  },
  {
    opts: ["-a", "--disable-triggers", "-S", "postgres", "-t", "author"],
    has: [/^ALTER TABLE public\.author DISABLE TRIGGER ALL;$/m],
  },
  { opts: ["--no-acl", "--no-owner"], has: [TABLE_AUTHOR], lacks: [OWNER, GRANT] },
  { opts: ["--no-a", "--no-ow"], has: [TABLE_AUTHOR], lacks: [OWNER, GRANT] },
  { opts: ["--no-privileges"], has: [OWNER], lacks: [GRANT] },
  { opts: ["--no-comments"], has: [TABLE_AUTHOR], lacks: [COMMENT] },
  { opts: ["-E", "UTF8"], has: [/^SET client_encoding = 'UTF8';$/m] },
  { opts: ["--encoding=utf-8"], has: [/^SET client_encoding = 'UTF8';$/m] },
  { opts: ["--enc", "Unicode"], has: [/^SET client_encoding = 'UTF8';$/m] },
  { opts: ["-Fp"], has: [TABLE_AUTHOR, DATA_AUTHOR] },
  { opts: ["-F", "p"], has: [TABLE_AUTHOR, DATA_AUTHOR] },
  { opts: ["--format=plain"], has: [TABLE_AUTHOR, DATA_AUTHOR] },
  { opts: ["-Z", "0"], has: [TABLE_AUTHOR, DATA_AUTHOR] },
  { opts: ["--compress=0"], has: [TABLE_AUTHOR, DATA_AUTHOR] },
  { opts: ["--section=pre-data"], has: [TABLE_AUTHOR], lacks: [DATA_AUTHOR] },
  { opts: ["--sec", "data"], has: [DATA_AUTHOR], lacks: [TABLE_AUTHOR] },
  { opts: ["--clean", "-s"], has: [/^DROP TABLE public\.author;$/m] },
  { opts: ["-c", "--if-exists", "-s"], has: [/^DROP TABLE IF EXISTS public\.author;$/m] },
  { opts: ["-C", "-s"], has: [/^CREATE DATABASE /m] },
  { opts: ["--quote-all-identifiers", "-s"], has: [/^CREATE TABLE "public"\."author" \(/m] },
  { opts: ["--use-set-session-authorization", "-s"], has: [/^SET SESSION AUTHORIZATION /m] },
  { opts: ["--no-table-access-method", "-s"], lacks: [/^SET default_table_access_method/m] },
  { opts: ["--strict-names", "-t", "author"], has: [TABLE_AUTHOR], lacks: [TABLE_BOOK] },
  { opts: ["-v", "-s"], has: [TABLE_AUTHOR] },
  { opts: ["--verb", "-s"], has: [TABLE_AUTHOR] },
  { opts: ["-w", "-s"], has: [TABLE_AUTHOR] },
  { opts: ["--no-password", "-s"], has: [TABLE_AUTHOR] },
  { opts: ["-R", "-s"], has: [TABLE_AUTHOR] },
  { opts: ["-b", "-s"], has: [TABLE_AUTHOR] },
  { opts: ["-B", "-s"], has: [TABLE_AUTHOR] },
  // pg_dump 16 renamed --blobs; the gateway hands older pg_dumps the name they know.
  { opts: ["--large-objects", "-s"], has: [TABLE_AUTHOR] },
  { opts: ["--lock-wait-timeout=10000", "-s"], has: [TABLE_AUTHOR] },
  { opts: ["--extra-float-digits=3", "-s"], has: [TABLE_AUTHOR] },
  { opts: ["--disable-dollar-quoting", "-s"], has: [TABLE_AUTHOR] },
  { opts: ["--enable-row-security", "-s"], has: [TABLE_AUTHOR] },
  { opts: ["--load-via-partition-root", "-a"], has: [DATA_AUTHOR] },
  {
    opts: [
      "--no-tablespaces",
      "--no-toast-compression",
      "--no-unlogged-table-data",
      "--no-security-labels",
      "--no-publications",
      "--no-subscriptions",
    ],
    has: [TABLE_AUTHOR, DATA_AUTHOR],
  },
];

/** Requests refused before any process starts: the opts, then the option named and why. */
const REFUSED: readonly (readonly [opts: readonly string[], option: string, reason: string])[] = [
  [["-f", "out.sql"], "-f", WRITES_FILE],
  [["-fout.sql"], "-f", WRITES_FILE],
  [["-Oxf", "out.sql"], "-f", WRITES_FILE],
  [["--file=out.sql"], "--file", WRITES_FILE],
  [["--file", "out.sql"], "--file", WRITES_FILE],
  [["-O", "--fil", "out.sql"], "--fil", "is ambiguous: it could be --file or --filter"],
  [["-Fd"], "-F", DIRECTORY],
  [["-F", "d"], "-F", DIRECTORY],
  [["--format=directory"], "--format", DIRECTORY],
  [["--format", "Directory"], "--format", DIRECTORY],
  [["-j", "2"], "-j", "requires directory format"],
  [["-j2"], "-j", "requires directory format"],
  [["--jobs=2"], "--jobs", "requires directory format"],
  [["-h", "localhost"], "-h", CONNECTION],
  [["-hlocalhost"], "-h", CONNECTION],
  [["--host=localhost"], "--host", CONNECTION],
  [["--host", "localhost"], "--host", CONNECTION],
  [["-p", "5432"], "-p", CONNECTION],
  [["-p5432"], "-p", CONNECTION],
  [["--port=5432"], "--port", CONNECTION],
  [["-U", "postgres"], "-U", CONNECTION],
  [["--username=postgres"], "--username", CONNECTION],
  [["--user", "postgres"], "--user", CONNECTION],
  [["-d", "postgres"], "-d", CONNECTION],
  [["--dbname=postgres"], "--dbname", CONNECTION],
  [["-schema"], "-h", CONNECTION],
  [["postgres"], "postgres", POSITIONAL],
  [["postgres://127.0.0.1/postgres"], "postgres://127.0.0.1/postgres", POSITIONAL],
  [["-O", "mydb", "-x"], "mydb", POSITIONAL],
  [["--", "-O"], "-O", POSITIONAL],
  [["-"], "-", POSITIONAL],
  [[""], "", POSITIONAL],
  [["-W"], "-W", PROMPTS],
  [["--password"], "--password", PROMPTS],
  [["--filter=f.txt"], "--filter", "reads a file on the server"],
  [["-V"], "-V", NOT_A_DUMP],
  [["--version"], "--version", NOT_A_DUMP],
  [["-?"], "-?", NOT_A_DUMP],
  [["-Ox?"], "-?", NOT_A_DUMP],
  [["--help"], "--help", NOT_A_DUMP],
  [["-q"], "-q", UNKNOWN],
  [["-Oo"], "-o", UNKNOWN],
  [["--nonsense"], "--nonsense", UNKNOWN],
  [["--oids"], "--oids", UNKNOWN],
  [["---schema"], "---schema", UNKNOWN],
  [["--sch=public"], "--sch", "is ambiguous: it could be --schema or --schema-only"],
  [["--ver"], "--ver", "is ambiguous: it could be --verbose or --version"],
  [["--f", "x"], "--f", "is ambiguous: it could be --file, --format or --filter"],
  [["--schema=pub\0lic"], "--schema", NUL],
  [["-n", "a\0b"], "-n", NUL],
  [["-Ona\0b"], "-n", NUL],
  [["--no-owner=yes"], "--no-owner", "takes no value"],
  [["--schema"], "--schema", "requires a value"],
  [["-O", "-n"], "-n", "requires a value"],
  [
    ["-E", "LATIN1"],
    "-E",
    "chooses an encoding other than UTF8, which the gateway always dumps in",
  ],
  [["-Fx"], "-F", 'format "x" is not one of plain, custom or tar'],
];

const ONLY_PLAIN_CLEANED =
  "clean_output works only on plain-format output: drop --format and --compress, " +
  "or set clean_output to false";

/** Options whose output is an archive or compressed, so it cannot be cleaned line by line. */
const NOT_PLAIN: readonly (readonly [opts: readonly string[], magic: (body: Buffer) => void])[] = [
  [["-Fc"], (body) => assertCustomArchive(body)],
  [["--format=custom"], (body) => assertCustomArchive(body)],
  [["-F", "c", "-Z", "0"], (body) => assertCustomArchive(body)],
  [["-Ft"], (body) => assertTarArchive(body)],
  [["-Z", "5"], (body) => assertGzippedDump(body)],
  [["--compress=9"], (body) => assertGzippedDump(body)],
  [["-Fp", "-Z5"], (body) => assertGzippedDump(body)],
];

describe("pg_dump options over HTTP", { skip: !adminUrl }, () => {
  let scratch: ScratchDatabase;
  let gateway: TestGateway;

  before(async () => {
    scratch = await createScratchDatabase(adminUrl as string, "options_api");
    const sql = postgres(scratch.url, { max: 1, onnotice: () => {} });
    await sql.unsafe(`
      CREATE TABLE public.author (id serial PRIMARY KEY, name text NOT NULL);
      INSERT INTO public.author (name) VALUES ('Ada'), ('Grace');
      COMMENT ON TABLE public.author IS 'people who write';
      GRANT SELECT ON public.author TO PUBLIC;
      CREATE SCHEMA other;
      CREATE TABLE other.book (id integer);
      CREATE TABLE public."-x" (id integer);
    `);
    await sql.end();
    gateway = await startTestGateway({ HASURA_GRAPHQL_DATABASE_URL: scratch.url });
  });

  after(async () => {
    await gateway?.close();
    await scratch?.drop();
  });

  describe("accepted grammar reaches pg_dump: 200 with the dump it shapes", () => {
    for (const { opts, has = [], lacks = [] } of ACCEPTED) {
      test(JSON.stringify(opts), async () => {
        const started = gateway.children.length;
        const response = await gateway.dump({ opts });
        const body = await response.text();
        assert.equal(response.status, 200, body);
        assert.match(body, DUMP_END);
        for (const pattern of has) assert.match(body, pattern);
        for (const pattern of lacks) assert.doesNotMatch(body, pattern);
        assert.equal(gateway.children.length, started + 1);
      });
    }
  });

  describe("a refused option is 400 naming it and why, and starts no process", () => {
    for (const [opts, option, reason] of REFUSED) {
      test(`${JSON.stringify(opts)} refuses ${JSON.stringify(option)}`, async () => {
        const started = gateway.children.length;
        const response = await gateway.dump({ opts });
        assert.equal(response.status, 400);
        assert.deepEqual(await response.json(), {
          path: "$.opts",
          error: `pg_dump option ${JSON.stringify(option)} ${reason}`,
          code: "bad-request",
        });
        assert.equal(gateway.children.length, started);
      });
    }
  });

  describe("clean_output with output that is not plain text", () => {
    for (const [opts, checkOutput] of NOT_PLAIN) {
      test(`${JSON.stringify(opts)} with clean_output is 400 and starts nothing`, async () => {
        const started = gateway.children.length;
        const response = await gateway.dump({ opts, clean_output: true });
        assert.equal(response.status, 400);
        assert.deepEqual(await response.json(), {
          path: "$.clean_output",
          error: ONLY_PLAIN_CLEANED,
          code: "bad-request",
        });
        assert.equal(gateway.children.length, started);
      });

      test(`${JSON.stringify(opts)} without clean_output is 200 and pg_dump's bytes`, async () => {
        const response = await gateway.dump({ opts, clean_output: false });
        assert.equal(response.status, 200);
        checkOutput(Buffer.from(await response.arrayBuffer()));
      });
    }

    // pg_dump honours the last --format and --compress, and so does the check.
    for (const opts of [["-Fp"], ["-Fc", "-Fp"], ["-Z", "0"], ["-Z5", "--compress=0"]]) {
      test(`${JSON.stringify(opts)} with clean_output is cleaned plain SQL`, async () => {
        const response = await gateway.dump({ opts, clean_output: true });
        const body = await response.text();
        assert.equal(response.status, 200, body);
        assert.match(body, TABLE_AUTHOR);
        assert.doesNotMatch(body, /^--/m);
      });
    }
  });

  describe("an output file is never written", () => {
    let directory: string;

    before(async () => {
      directory = await mkdtemp(join(tmpdir(), "pgdump-options-api-"));
    });

    after(async () => {
      await rm(directory, { recursive: true, force: true });
    });

    const FILE_OPTS: readonly ((path: string) => string[])[] = [
      (path) => ["-f", path],
      (path) => [`--file=${path}`],
      (path) => ["-s", `-Of${path}`],
    ];

    for (const [index, optsFor] of FILE_OPTS.entries()) {
      test(`${JSON.stringify(optsFor("<tmpdir>/out.sql"))} is 400 and no file appears`, async () => {
        const path = join(directory, `out-${index}.sql`);
        const started = gateway.children.length;
        const response = await gateway.dump({ opts: optsFor(path) });
        assert.equal(response.status, 400);
        const body = (await response.json()) as { error: string };
        assert.match(body.error, /writes a file on the server/);
        assert.equal(existsSync(path), false, `${path} was written`);
        assert.equal(gateway.children.length, started);
      });
    }
  });
});

const assertCustomArchive = (body: Buffer): void => {
  assert.equal(body.subarray(0, 5).toString("latin1"), "PGDMP");
};

/** A tar archive: pg_dump's first member is toc.dat, and the ustar magic sits at byte 257. */
const assertTarArchive = (body: Buffer): void => {
  assert.equal(body.subarray(0, 8).toString("latin1"), "toc.dat\0");
  assert.equal(body.subarray(257, 262).toString("latin1"), "ustar");
};

const assertGzippedDump = (body: Buffer): void => {
  assert.deepEqual([...body.subarray(0, 2)], [0x1f, 0x8b]);
  const text = gunzipSync(body).toString("utf8");
  assert.match(text, TABLE_AUTHOR);
  assert.match(text, DUMP_END);
};
