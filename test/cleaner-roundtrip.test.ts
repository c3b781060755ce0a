/**
 * clean_output against real PostgreSQL: a database full of data that a blind line filter
 * would damage is dumped through the gateway with clean_output, loaded into an empty
 * database with psql, and compared with the original: rows, columns, functions, views,
 * comments and triggers. A last group runs the same round trip with a Hasura-like blind
 * filter instead, to show that these comparisons do catch such a filter.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import postgres from "postgres";
import { toLibpqEnv } from "../src/sources/connection.ts";
import { createScratchDatabase, type ScratchDatabase } from "./support/database.ts";
import { HASURA_FRONT_MATTER } from "./support/front-matter.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";

const adminUrl = process.env.TEST_DATABASE_URL;

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");

/** Runs SQL through psql as a migration tool would, stopping at the first error. */
const psql = (url: string, input: string | Uint8Array): void => {
  execFileSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"], {
    input,
    env: { PATH: process.env.PATH ?? "", ...toLibpqEnv(url) },
    stdio: "pipe",
  });
};

/** What a database holds, by object, in a form two databases can be compared by. */
type Fingerprint = Map<string, string>;

const NOT_SYSTEM = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')";

const fingerprint = async (url: string): Promise<Fingerprint> => {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const result: Fingerprint = new Map();
  const add = (rows: readonly { key: string; value: string | null }[]) => {
    for (const { key, value } of rows) result.set(key, value ?? "");
  };
  try {
    const tables = await sql.unsafe<{ name: string }[]>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND ${NOT_SYSTEM}`,
    );
    for (const { name } of tables) {
      add(
        await sql.unsafe(
          `SELECT 'rows of ' || $1 AS key, count(*) || ' ' ||
             md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS value
           FROM ${name} t`,
          [name],
        ),
      );
    }
    add(
      await sql.unsafe(
        `SELECT 'columns of ' || c.oid::regclass AS key,
           string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', '
             ORDER BY a.attnum) AS value
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'v') AND a.attnum > 0 AND NOT a.attisdropped AND ${NOT_SYSTEM}
         GROUP BY c.oid`,
      ),
    );
    add(
      await sql.unsafe(
        `SELECT 'function ' || p.oid::regprocedure AS key, pg_get_functiondef(p.oid) AS value
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${NOT_SYSTEM}`,
      ),
    );
    add(
      await sql.unsafe(
        `SELECT 'view ' || c.oid::regclass AS key, pg_get_viewdef(c.oid) AS value
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'v' AND ${NOT_SYSTEM}`,
      ),
    );
    // Objects made by the test have oids from 16384 on (FirstNormalObjectId).
    add(
      await sql.unsafe(
        `SELECT 'comment on ' || pg_describe_object(classoid, objoid, objsubid) AS key,
           description AS value FROM pg_description WHERE objoid >= 16384`,
      ),
    );
    add(
      await sql.unsafe(
        `SELECT 'trigger ' || tgname || ' on ' || tgrelid::regclass AS key,
           pg_get_triggerdef(oid) AS value FROM pg_trigger WHERE NOT tgisinternal`,
      ),
    );
    return result;
  } finally {
    await sql.end();
  }
};

/** The keys whose values differ between two fingerprints, or that only one has. */
const differences = (expected: Fingerprint, actual: Fingerprint): string[] =>
  [...new Set([...expected.keys(), ...actual.keys()])]
    .filter((key) => expected.get(key) !== actual.get(key))
    .sort();

const isHasuraTrigger = (key: string, value: string): boolean =>
  key.startsWith("trigger notify_hasura_") && value.includes("EXECUTE FUNCTION hdb_catalog.");

/** The source as it should come back: everything but Hasura's event triggers. */
const withoutHasuraTriggers = (source: Fingerprint): Fingerprint =>
  new Map([...source].filter(([key, value]) => !isHasuraTrigger(key, value)));

/** Hasura's front-matter list, as its clean_output matches it. */
const HASURA_FRONT_MATTER_LINES = new Set(HASURA_FRONT_MATTER);

const HASURA_TRIGGER_LINE =
  /^CREATE TRIGGER "?notify_hasura_\S* AFTER \w+ ON .* EXECUTE FUNCTION hdb_catalog\./;

/** A line filter blind to SQL, the way Hasura's clean_output works. */
const blindFilter = (dump: string): string =>
  dump
    .split("\n")
    .filter(
      (line) =>
        line.trim() !== "" &&
        !line.startsWith("--") &&
        !HASURA_FRONT_MATTER_LINES.has(line) &&
        !HASURA_TRIGGER_LINE.test(line),
    )
    .map((line) => `${line}\n`)
    .join("");

const WAYS: [string, string[]][] = [
  ["plain COPY", []],
  ["--inserts", ["--inserts"]],
  ["--column-inserts", ["--column-inserts"]],
];

describe("clean_output round trip through psql", { skip: !adminUrl }, () => {
  const scratches: ScratchDatabase[] = [];
  let source: ScratchDatabase;
  let hasura: ScratchDatabase;
  let sourceGateway: TestGateway;
  let hasuraGateway: TestGateway;
  let sourcePrint: Fingerprint;

  const scratch = async (prefix: string): Promise<ScratchDatabase> => {
    const database = await createScratchDatabase(adminUrl as string, prefix);
    scratches.push(database);
    return database;
  };

  const dump = async (gateway: TestGateway, opts: string[], clean: boolean): Promise<string> => {
    const response = await gateway.dump({ opts, clean_output: clean });
    const body = await response.text();
    assert.equal(response.status, 200, body);
    return body;
  };

  /** Loads a dump into a new empty database and fingerprints what it made. */
  const load = async (text: string): Promise<Fingerprint> => {
    const target = await scratch("clean_target");
    psql(target.url, text);
    return fingerprint(target.url);
  };

  before(async () => {
    source = await scratch("clean_source");
    psql(source.url, fixture("hard-cases.source.sql") + fixture("hasura-triggers.source.sql"));
    sourcePrint = await fingerprint(source.url);
    sourceGateway = await startTestGateway({ HASURA_GRAPHQL_DATABASE_URL: source.url });

    hasura = await scratch("clean_hasura");
    psql(hasura.url, fixture("hasura-triggers.source.sql"));
    hasuraGateway = await startTestGateway({ HASURA_GRAPHQL_DATABASE_URL: hasura.url });
  });

  after(async () => {
    await sourceGateway?.close();
    await hasuraGateway?.close();
    for (const database of scratches) await database.drop();
  });

  test("the source holds the hard cases and four Hasura event triggers", () => {
    const hasuraTriggers = [...sourcePrint].filter(([key, value]) => isHasuraTrigger(key, value));
    assert.equal(hasuraTriggers.length, 4);
    assert.ok(sourcePrint.has("trigger orders_touch on orders"));
    assert.ok(sourcePrint.has('rows of public."we""ird\nname"'));
    assert.match(sourcePrint.get("function add_one(integer)") ?? "", /\n\n\s*-- a comment/);
    assert.match(sourcePrint.get("comment on table notes") ?? "", /\n\n-- with a dashed line/);
  });

  for (const [way, opts] of WAYS) {
    test(`${way}: the cleaned dump loads and gives back rows, functions and comments`, async () => {
      const cleaned = await dump(sourceGateway, opts, true);
      assert.ok(cleaned.startsWith("SET check_function_bodies = false;\n"), cleaned.slice(0, 200));
      const loaded = await load(cleaned);
      assert.deepEqual(differences(withoutHasuraTriggers(sourcePrint), loaded), []);
    });
  }

  test("--inserts from a server with standard_conforming_strings off", async () => {
    const sql = postgres(adminUrl as string, { max: 1, onnotice: () => {} });
    let cleaned: string;
    try {
      await sql.unsafe(`ALTER DATABASE "${source.name}" SET standard_conforming_strings = off`);
      cleaned = await dump(sourceGateway, ["--inserts"], true);
    } finally {
      await sql.unsafe(`ALTER DATABASE "${source.name}" RESET standard_conforming_strings`);
      await sql.end();
    }
    assert.match(cleaned, /^SET standard_conforming_strings = off;$/m);
    assert.match(cleaned, /'back\\\\slash, ''quotes''/);
    const loaded = await load(cleaned);
    assert.deepEqual(differences(withoutHasuraTriggers(sourcePrint), loaded), []);
  });

  const SCHEMAS: [string, string[]][] = [
    ["public and hdb_catalog", ["--schema", "public", "--schema", "hdb_catalog"]],
    ["public only", ["--schema", "public"]],
  ];
  for (const [schemas, opts] of SCHEMAS) {
    test(`Hasura event triggers go and every other statement stays (${schemas})`, async () => {
      const raw = await dump(hasuraGateway, opts, false);
      const cleaned = await dump(hasuraGateway, opts, true);

      const triggerLines = raw.split("\n").filter((line) => HASURA_TRIGGER_LINE.test(line));
      assert.equal(triggerLines.length, 4);
      // This schema holds no multi-line literal, so a line filter is a fair model here.
      const expected = blindFilter(raw).replace(/^\\(un)?restrict \S+\n/gm, "");
      assert.equal(cleaned, expected);
      assert.match(cleaned, /^CREATE TRIGGER orders_touch BEFORE UPDATE ON public\.orders /m);
      assert.match(cleaned, /^CREATE TRIGGER notify_hasura_lookalike AFTER INSERT /m);

      // With the event triggers gone, the public schema loads without hdb_catalog.
      const loaded = await load(cleaned);
      const triggers = [...loaded.keys()].filter((key) => key.startsWith("trigger "));
      assert.deepEqual(triggers.sort(), [
        "trigger notify_hasura_lookalike on orders",
        "trigger orders_touch on orders",
      ]);
      const catalogFunctions = [...loaded.keys()].filter((key) => key.includes("hdb_catalog."));
      assert.equal(catalogFunctions.length, opts.includes("hdb_catalog") ? 4 : 0);
    });
  }

  describe("the same round trip with a blind line filter fails, so the test can catch one", () => {
    // What comes back wrong, found by these same comparisons: blank and `--` lines cut out
    // of COPY data (plain COPY), of multi-line literals and of function bodies.
    const DEFINITIONS = [
      "comment on column tag of table notes",
      "comment on table notes",
      "function add_one(integer)",
      "function tags()",
    ];
    const DAMAGE: Record<string, string[]> = {
      "plain COPY": [...DEFINITIONS, "rows of public.lines", "view note_view"],
      "--inserts": [
        ...DEFINITIONS,
        'rows of public."we""ird\nname"',
        "rows of public.notes",
        "view note_view",
      ],
      "--column-inserts": [
        ...DEFINITIONS,
        'rows of public."we""ird\nname"',
        "rows of public.notes",
        "view note_view",
      ],
    };

    for (const [way, opts] of WAYS) {
      test(`${way}: a Hasura-like filter on the raw dump loses data`, async () => {
        const filtered = blindFilter(await dump(sourceGateway, opts, false));
        const loaded = await load(filtered);
        assert.deepEqual(differences(withoutHasuraTriggers(sourcePrint), loaded), DAMAGE[way]);
      });
    }
  });
});
