/**
 * clean_output without a database: each drop rule, each lexer state the cleaner must see
 * through, and the promise that any split of the input gives the same output.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { Cleaner, CleanOutputStream } from "../src/clean/cleaner.ts";
import { FRONT_MATTER } from "./support/front-matter.ts";
import { seeded } from "./support/seeded.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Cleans `bytes` handed over in pieces cut at `cuts` (ascending offsets). */
const cleanCuts = (bytes: Uint8Array, cuts: readonly number[]): Uint8Array => {
  const cleaner = new Cleaner();
  const parts: Uint8Array[] = [];
  const emit = (part: Uint8Array) => parts.push(part);
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    cleaner.push(bytes.subarray(from, cut), emit);
    from = cut;
  }
  cleaner.end(emit);
  return concat(parts);
};

const cleanSized = (bytes: Uint8Array, size: number): Uint8Array => {
  const cuts: number[] = [];
  for (let cut = size; cut < bytes.length; cut += size) cuts.push(cut);
  return cleanCuts(bytes, cuts);
};

const clean = (text: string): string => decoder.decode(cleanCuts(encoder.encode(text), []));

const concat = (parts: readonly Uint8Array[]): Uint8Array => {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
};

const fixture = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)));

const STATEMENT = "CREATE TABLE public.t (a text);\n";

describe("clean_output drops what the rules name, between statements", () => {
  test("blank and whitespace-only lines", () => {
    assert.equal(clean(`\n${STATEMENT}  \n\t\n \t \n${STATEMENT}\n\n`), STATEMENT + STATEMENT);
  });

  test("lines starting with --, but not a line that starts with a space", () => {
    const input = `--\n-- Name: t; Type: TABLE\n--x\n${STATEMENT}  -- indented\n`;
    assert.equal(clean(input), `${STATEMENT}  -- indented\n`);
  });

  for (const line of FRONT_MATTER) {
    test(`front matter: ${line}`, () => {
      assert.equal(clean(`${line}\n${STATEMENT}`), STATEMENT);
    });
  }

  test("front matter only when the line is exactly the statement", () => {
    const kept = [
      "SET check_function_bodies = false;",
      "SET statement_timeout = 5;",
      "SET lock_timeout = 0; ",
      " SET lock_timeout = 0;",
      "set lock_timeout = 0;",
      "SET default_tablespace = fast;",
      "SET standard_conforming_strings = off;",
      "SET escape_string_warning = off;",
      "CREATE SCHEMA public2;",
      "SELECT pg_catalog.set_config('search_path', 'public', false);",
    ].join("\n");
    assert.equal(clean(`${kept}\n`), `${kept}\n`);
  });

  test("\\restrict and \\unrestrict with their key; other psql meta-commands stay", () => {
    const input = `\\restrict Ab12\n${STATEMENT}\\unrestrict Ab12\n\\connect other\n${STATEMENT}`;
    assert.equal(clean(input), `${STATEMENT}\\connect other\n${STATEMENT}`);
  });

  test("a psql meta-command line is not read as SQL", () => {
    // The lone quote must not open a literal that would hide the comment line after it.
    const input = `\\echo don't panic\n-- dropped\n${STATEMENT}`;
    assert.equal(clean(input), `\\echo don't panic\n${STATEMENT}`);
  });

  test("Hasura event triggers, in every spelling pg_dump and Hasura versions produce", () => {
    const triggers = [
      "CREATE TRIGGER notify_hasura_order_insert AFTER INSERT ON public.orders FOR EACH ROW " +
        "EXECUTE FUNCTION hdb_catalog.notify_hasura_order_insert();",
      'CREATE TRIGGER "notify_hasura_Order_INSERT" AFTER INSERT ON public."Orders" FOR EACH ' +
        'ROW EXECUTE FUNCTION hdb_catalog."notify_hasura_Order_INSERT"();',
      'CREATE TRIGGER "notify_hasura_o_UPDATE" AFTER UPDATE ON public.orders FOR EACH ROW ' +
        'EXECUTE PROCEDURE hdb_catalog."notify_hasura_o_UPDATE"();',
      'CREATE TRIGGER "notify_hasura_o_DELETE" AFTER DELETE ON s.t FOR EACH ROW ' +
        'EXECUTE PROCEDURE hdb_views."notify_hasura_o_DELETE"();',
      'CREATE TRIGGER "notify_hasura_a""b_INSERT" AFTER INSERT ON t FOR EACH ROW ' +
        'EXECUTE FUNCTION "hdb_catalog"."notify_hasura_a""b_INSERT"();',
      // A carriage return inside a quoted table name (found by the property tests).
      'CREATE TRIGGER notify_hasura_a AFTER INSERT ON public."\r" FOR EACH ROW ' +
        "EXECUTE FUNCTION hdb_catalog.notify_hasura_a();",
    ];
    assert.equal(clean(`${triggers.join("\n")}\n${STATEMENT}`), STATEMENT);
  });

  test("ordinary triggers stay, even with a Hasura-like name", () => {
    const kept = [
      "CREATE TRIGGER touch BEFORE UPDATE ON public.orders FOR EACH ROW " +
        "EXECUTE FUNCTION public.touch();",
      "CREATE TRIGGER notify_hasura_x AFTER INSERT ON public.orders FOR EACH ROW " +
        "EXECUTE FUNCTION public.touch();",
      "CREATE TRIGGER notify_hasura_x BEFORE INSERT ON public.orders FOR EACH ROW " +
        "EXECUTE FUNCTION hdb_catalog.notify_hasura_x();",
      "CREATE TRIGGER audit AFTER INSERT ON public.orders FOR EACH ROW " +
        "EXECUTE FUNCTION hdb_catalog.notify_hasura_x();",
      "CREATE TRIGGER notify_hasura_x AFTER INSERT ON public.orders FOR EACH STATEMENT " +
        "EXECUTE FUNCTION hdb_catalog.notify_hasura_x();",
    ].join("\n");
    assert.equal(clean(`${kept}\n`), `${kept}\n`);
  });

  test("a rule line as the last line without a newline is dropped; another is kept", () => {
    assert.equal(clean(`${STATEMENT}SET lock_timeout = 0;`), STATEMENT);
    assert.equal(clean(`${STATEMENT}-- end`), STATEMENT);
    assert.equal(clean(`${STATEMENT}SET lock_timeout = 1;`), `${STATEMENT}SET lock_timeout = 1;`);
  });

  test("CRLF line ends: blank, comment and front-matter lines go; COPY ends at \\.\\r\\n", () => {
    const input =
      "--\r\n\r\nSET lock_timeout = 0;\r\nCOPY t (a) FROM stdin;\r\n\r\n--x\r\n\\.\r\n" +
      "-- after\r\n\r\nSELECT 1;\r\n";
    assert.equal(clean(input), "COPY t (a) FROM stdin;\r\n\r\n--x\r\n\\.\r\nSELECT 1;\r\n");
  });
});

describe("clean_output keeps every byte of data, literals, identifiers and bodies", () => {
  test("COPY data: empty values, values starting with -- or SET, rule-like lines", () => {
    const data = [
      "",
      "--",
      "-- looks like a comment",
      "SET statement_timeout = 0;",
      "SET transaction_timeout = 0;",
      "\\\\restrict key",
      "CREATE TRIGGER notify_hasura_x AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION " +
        "hdb_catalog.notify_hasura_x();",
      "   ",
      "\\N",
      "",
    ].join("\n");
    const copy = `COPY public.lines (line) FROM stdin;\n${data}\n\\.\n`;
    assert.equal(clean(`-- Data\n\n${copy}\n-- after\n\n${STATEMENT}`), copy + STATEMENT);
  });

  test("a COPY block ends only at the line \\. and the text after it is cleaned again", () => {
    const copy = "COPY t (a, b) FROM stdin;\n1\t\\\\.\n\\\\.\n2\tx\\.\n3\t\n\\.\n";
    assert.equal(clean(`${copy}\n-- gone\n${STATEMENT}`), copy + STATEMENT);
  });

  test("an empty COPY block and two blocks in a row", () => {
    const input = "COPY a (x) FROM stdin;\n\\.\n\nCOPY b (x) FROM stdin;\n\n--\n\\.\n\n";
    assert.equal(clean(input), "COPY a (x) FROM stdin;\n\\.\nCOPY b (x) FROM stdin;\n\n--\n\\.\n");
  });

  test("COPY of a table whose quoted name spans lines", () => {
    const copy = 'COPY public."we""ird\nname" (id, "col\numn") FROM stdin;\n1\t\n\n--\n\\.\n';
    assert.equal(clean(`${copy}\n--\n`), copy);
  });

  test("the words COPY ... FROM stdin; inside a literal or a body start no COPY block", () => {
    const input =
      "SELECT 'COPY t FROM stdin;';\n\n" +
      "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$COPY t FROM stdin;$$;\n\n-- c\n";
    assert.equal(
      clean(input),
      "SELECT 'COPY t FROM stdin;';\n" +
        "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$COPY t FROM stdin;$$;\n",
    );
  });

  test("a multi-line string literal with a blank line and a line -- x", () => {
    const statement = "INSERT INTO t VALUES (1, 'first\n\n-- x\nSET lock_timeout = 0;\n', '');\n";
    assert.equal(clean(`${statement}\n-- c\n`), statement);
  });

  test("doubled quotes inside a literal do not end it", () => {
    const statement = "COMMENT ON TABLE t IS 'it''s\n\n-- kept''\n''';\n";
    assert.equal(clean(`${statement}\n`), statement);
  });

  test("E'' with \\' inside, then a newline and a -- line", () => {
    const statement = "INSERT INTO t VALUES (E'it\\'s\n-- kept\n\n', 'x\\');\n";
    assert.equal(clean(`${statement}-- dropped\n`), statement);
  });

  test("E'' with an escaped backslash before the closing quote", () => {
    const statement = "SELECT E'a\\\\';\n";
    assert.equal(clean(`${statement}\n-- dropped\n`), statement);
  });

  test("standard_conforming_strings off: backslash escapes in plain literals", () => {
    const statement = "INSERT INTO t VALUES ('it\\'s\n-- kept\n\n');\n";
    const off = "SET standard_conforming_strings = off;\n";
    assert.equal(clean(`${off}${statement}-- dropped\n`), off + statement);
  });

  test("standard_conforming_strings on again: backslash is plain text once more", () => {
    const input =
      "SET standard_conforming_strings = off;\nSET standard_conforming_strings = on;\n" +
      "SELECT 'a\\';\n-- dropped\n";
    assert.equal(clean(input), "SET standard_conforming_strings = off;\nSELECT 'a\\';\n");
  });

  test("a dollar-quoted body with blank and comment lines and a nested other tag", () => {
    const statement =
      "CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $_$\nBEGIN\n\n" +
      "  -- comment line\nSET lock_timeout = 0;\n  RETURN $$ x $$ || $q$\n-- in q\n$q$;\n" +
      "END;\n$_$;\n";
    assert.equal(clean(`${statement}\n-- dropped\n`), statement);
  });

  test("a body holding $$ is closed only by its own tag", () => {
    const statement = "CREATE FUNCTION f() RETURNS text AS $_$ SELECT $$\n\n-- x\n$$ $_$;\n";
    assert.equal(clean(`${statement}\n`), statement);
  });

  test("a tag of the same length is not the closing tag", () => {
    const statement =
      "CREATE FUNCTION f() RETURNS int AS $_$\n  -- see $q$;\n\n  RETURN 1;\n$_$;\n";
    assert.equal(clean(`${statement}\n-- dropped\n`), statement);
  });

  test("a dollar tag longer than 64 bytes, as pg_dump picks when the body holds short ones", () => {
    const tag = `$${"_".repeat(100)}$`;
    const statement = `CREATE FUNCTION f() RETURNS void AS ${tag}\nSELECT 1;\n\n-- x\n${tag};\n`;
    assert.equal(clean(`${statement}\n-- dropped\n`), statement);
  });

  test("$1 parameters and identifiers holding $ open no dollar quote", () => {
    const input = "PREPARE p AS SELECT $1, a$b$ FROM t;\n\n-- dropped\n";
    assert.equal(clean(input), "PREPARE p AS SELECT $1, a$b$ FROM t;\n");
  });

  test('a quoted identifier holding a newline and ""', () => {
    const statement = 'CREATE TABLE public."a""b\n\n-- c\nSET lock_timeout = 0;" (x int);\n';
    assert.equal(clean(`${statement}\n`), statement);
  });

  test("nested block comments spanning lines", () => {
    const comment = "/* outer\n/* inner\n\n-- x\n*/\nSET lock_timeout = 0;\n*/\n";
    assert.equal(clean(`${comment}\n-- dropped\n${STATEMENT}`), comment + STATEMENT);
  });

  test("a -- comment inside a statement hides a quote", () => {
    const input = "SELECT 1 -- it's\n;\n\n-- dropped\n";
    assert.equal(clean(input), "SELECT 1 -- it's\n;\n");
  });

  test("a semicolon inside parentheses, as in a rule's action list, ends no statement", () => {
    const statement =
      "CREATE RULE r AS\n    ON INSERT TO public.t DO INSTEAD ( INSERT INTO public.a (x)\n" +
      "  VALUES (new.x);\n\n-- c\n INSERT INTO public.b (x)\n  VALUES (new.x);\n);\n";
    assert.equal(clean(`${statement}\n-- dropped\n`), statement);
  });

  test("lines inside an open statement stay, blank or not", () => {
    const statement = "CREATE TABLE t (\n\n-- c\n    a int\n);\n";
    assert.equal(clean(`${statement}\n`), statement);
  });

  test("a BEGIN ATOMIC body keeps its lines until END", () => {
    const statement =
      "CREATE FUNCTION f(a integer) RETURNS integer\n    LANGUAGE sql\n    BEGIN ATOMIC\n" +
      " SELECT CASE WHEN a > 0 THEN a ELSE 0 END;\n\n-- c\nSET lock_timeout = 0;\n" +
      " SELECT (a + 1);\nEND;\n";
    assert.equal(clean(`${statement}\n-- dropped\n${STATEMENT}`), statement + STATEMENT);
  });

  test("a \\connect line is kept, and a literal line starting with \\restrict too", () => {
    const input =
      "\\connect shop\n\nCOMMENT ON TABLE t IS '\n\\restrict inside\n';\n\\restrict key\n";
    assert.equal(clean(input), "\\connect shop\nCOMMENT ON TABLE t IS '\n\\restrict inside\n';\n");
  });

  test("a boundary line longer than any rule is kept whole", () => {
    const line = `SET search_path = ${"x".repeat(10_000)};\n`;
    assert.equal(clean(`${line}\n`), line);
  });

  test("multi-byte characters around rules and literals", () => {
    const input = "-- é\nCOMMENT ON TABLE t IS 'ü\n\n✓';\n\nSELECT '𝄞';\n";
    assert.equal(clean(input), "COMMENT ON TABLE t IS 'ü\n\n✓';\nSELECT '𝄞';\n");
  });
});

describe("clean_output passes data on without copying it", () => {
  test("COPY data leaves as views of the chunk it came in", () => {
    const chunk = encoder.encode(`COPY t (a) FROM stdin;\n${"row\t\n".repeat(1000)}\\.\n`);
    const parts: Uint8Array[] = [];
    const cleaner = new Cleaner();
    cleaner.push(chunk, (part) => parts.push(part));
    cleaner.end((part) => parts.push(part));
    assert.ok(parts.length > 0);
    for (const part of parts) assert.equal(part.buffer, chunk.buffer);
    assert.deepEqual(concat(parts), chunk);
  });

  test("a literal of many lines is scanned in linear, not quadratic, work", () => {
    // Counts the bytes every indexOf call looks at; no clock involved.
    let scanned = 0;
    class CountingBytes extends Uint8Array {
      override indexOf(value: number, from = 0): number {
        const found = super.indexOf(value, from);
        scanned += (found === -1 ? this.length : found + 1) - from;
        return found;
      }
    }
    const body = "x\n".repeat(2000);
    const text = `COMMENT ON TABLE t IS '${body}';\nSELECT $$${body}$$;\n/*${body}*/\n`;
    const input = new CountingBytes(encoder.encode(text));
    const output = cleanCuts(input, []);
    assert.equal(output.length, input.length);
    assert.ok(scanned <= 4 * input.length, `indexOf looked at ${scanned} bytes`);
  });

  test("CleanOutputStream gives what Cleaner gives", async () => {
    const bytes = fixture("hard-cases.dump.sql");
    const source = new ReadableStream<Uint8Array>({
      start: (controller) => {
        for (let at = 0; at < bytes.length; at += 100)
          controller.enqueue(bytes.slice(at, at + 100));
        controller.close();
      },
    });
    const parts: Uint8Array[] = [];
    for await (const part of source.pipeThrough(new CleanOutputStream())) parts.push(part);
    assert.deepEqual(concat(parts), fixture("hard-cases.dump.clean.sql"));
  });
});

/** A sample of pg_dump's shapes, put together here, with every kind of trap at once. */
const SAMPLE = [
  "--\n-- PostgreSQL database dump\n--\n\n\\restrict k3y\n\n",
  `${FRONT_MATTER.join("\n")}\nSET check_function_bodies = false;\n\n`,
  "CREATE FUNCTION public.f() RETURNS text\n    LANGUAGE plpgsql\n    AS $_$\nBEGIN\n\n",
  "  -- body comment\n  RETURN $$x$$;\nEND;\n$_$;\n\n\n",
  "COMMENT ON TABLE public.t IS 'a\n\n-- b\nSET lock_timeout = 0;\n';\n\n",
  'CREATE TABLE public."odd\n""name" (\n    a text\n);\n\n',
  "/* a /* nested */\n\n-- comment */\n",
  "COPY public.t (a, b) FROM stdin;\n\t\n--\t-- x\nSET statement_timeout = 0;\t\\\\.\n\n\\.\n\n",
  "INSERT INTO public.t VALUES (E'it\\'s\n\n-- y', 'z''\n');\n",
  'CREATE TRIGGER "notify_hasura_e_INSERT" AFTER INSERT ON public.t FOR EACH ROW ' +
    'EXECUTE FUNCTION hdb_catalog."notify_hasura_e_INSERT"();\n\n',
  "CREATE FUNCTION public.g(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n SELECT 1;\n\n",
  "END;\n\n\\connect db\n\\unrestrict k3y\n-- no newline at the end",
].join("");

const SAMPLE_CLEANED = [
  "SET check_function_bodies = false;\n",
  "CREATE FUNCTION public.f() RETURNS text\n    LANGUAGE plpgsql\n    AS $_$\nBEGIN\n\n",
  "  -- body comment\n  RETURN $$x$$;\nEND;\n$_$;\n",
  "COMMENT ON TABLE public.t IS 'a\n\n-- b\nSET lock_timeout = 0;\n';\n",
  'CREATE TABLE public."odd\n""name" (\n    a text\n);\n',
  "/* a /* nested */\n\n-- comment */\n",
  "COPY public.t (a, b) FROM stdin;\n\t\n--\t-- x\nSET statement_timeout = 0;\t\\\\.\n\n\\.\n",
  "INSERT INTO public.t VALUES (E'it\\'s\n\n-- y', 'z''\n');\n",
  "CREATE FUNCTION public.g(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n SELECT 1;\n\n",
  "END;\n\\connect db\n",
].join("");

describe("clean_output is the same however the input is split", () => {
  const cases: [string, Uint8Array, Uint8Array][] = [
    ["the built sample", encoder.encode(SAMPLE), encoder.encode(SAMPLE_CLEANED)],
    ["pg_dump output (COPY)", fixture("hard-cases.dump.sql"), fixture("hard-cases.dump.clean.sql")],
    [
      "pg_dump --inserts output",
      fixture("hard-cases.inserts.sql"),
      fixture("hard-cases.inserts.clean.sql"),
    ],
  ];

  for (const [name, input, expected] of cases) {
    test(`${name}: whole input gives the expected output`, () => {
      assert.equal(decoder.decode(cleanCuts(input, [])), decoder.decode(expected));
    });

    test(`${name}: every chunk size from 1 byte to the whole length`, () => {
      for (let size = 1; size <= input.length; size++) {
        const output = cleanSized(input, size);
        if (!equalBytes(output, expected)) {
          assert.equal(decoder.decode(output), decoder.decode(expected), `chunk size ${size}`);
        }
      }
    });

    test(`${name}: 500 random splits`, () => {
      const random = seeded(0x5eed + input.length);
      for (let run = 0; run < 500; run++) {
        const count = 1 + Math.floor(random() * 40);
        const cuts = Array.from({ length: count }, () => Math.floor(random() * input.length));
        cuts.sort((a, b) => a - b);
        const output = cleanCuts(input, cuts);
        if (!equalBytes(output, expected)) {
          assert.equal(decoder.decode(output), decoder.decode(expected), `cuts ${cuts}`);
        }
      }
    });
  }

  test("the COPY terminator cut after its backslash, one chunk holding only that byte", () => {
    const input = encoder.encode("COPY t (a) FROM stdin;\nx\n\\.\n-- gone\nSELECT 1;\n");
    const at = input.indexOf(0x5c);
    const output = cleanCuts(input, [at, at + 1, at + 2]);
    assert.equal(decoder.decode(output), "COPY t (a) FROM stdin;\nx\n\\.\nSELECT 1;\n");
  });
});

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
};
