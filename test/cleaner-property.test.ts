/**
 * clean_output against generated dumps. Each dump is built from parts shaped like pg_dump's
 * output (DDL, COPY blocks escaped as pg_dump escapes them, --inserts literals, functions
 * with dollar quotes, quoted identifiers, comments, front matter), and each part knows what
 * the cleaner must make of it and which of its bytes are data that must survive.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { Cleaner } from "../src/clean/cleaner.ts";
import { FRONT_MATTER } from "./support/front-matter.ts";

interface Part {
  /** The part as pg_dump would write it. */
  text: string;
  /** What of it clean_output keeps. */
  expected: string;
  /** Stretches of data (COPY rows, literals, identifiers, bodies) that must come out whole. */
  data: string[];
}

interface Dump {
  text: string;
  expected: string;
  data: string[];
}

const RUNS = 1000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const cleanCuts = (bytes: Uint8Array, cuts: readonly number[]): string => {
  const cleaner = new Cleaner();
  let out = "";
  const textDecoder = new TextDecoder();
  const emit = (part: Uint8Array) => {
    out += textDecoder.decode(part, { stream: true });
  };
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    cleaner.push(bytes.subarray(from, cut), emit);
    from = cut;
  }
  cleaner.end(emit);
  return out + textDecoder.decode();
};

const kept = (text: string, data: string[] = []): Part => ({ text, expected: text, data });
const dropped = (text: string): Part => ({ text, expected: "", data: [] });

/** Text that tempts a blind filter: rule lines, terminators, quotes, comment marks. */
const TRAPS = [
  "",
  "--",
  "-- x",
  "SET lock_timeout = 0;",
  "SET statement_timeout = 0;",
  "CREATE SCHEMA public;",
  "\\restrict k",
  "\\.",
  "\\",
  "\n",
  "\n\n",
  "\r\n",
  "\t",
  " ",
  "'",
  "''",
  '"',
  "$$",
  "$_$",
  "$q$",
  "/*",
  "*/",
  ";",
  "COPY t FROM stdin;",
  "BEGIN ATOMIC",
  "END;",
  "é",
  "✓",
  "𝄞",
];

const unit = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...TRAPS) },
  { weight: 4, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
);
const anyText = fc.string({ unit, maxLength: 10 });
const lineText = anyText.map((text) => text.replace(/[\n]/g, " "));

/** A name as pg_dump prints it: bare when it is a plain lower-case word, else quoted. */
const name = fc.oneof(
  fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/),
  anyText.filter((text) => text.length > 0).map((text) => `"${text.replace(/"/g, '""')}"`),
);

/** COPY's text format, as pg_dump writes a field (CopyAttributeOutText). */
const COPY_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
  "\v": "\\v",
};
const copyField = fc
  .option(anyText, { nil: null })
  .map((value) =>
    value === null ? "\\N" : [...value].map((char) => COPY_ESCAPES[char] ?? char).join(""),
  );

const copyBlock = fc
  .tuple(name, fc.integer({ min: 1, max: 4 }))
  .chain(([table, width]) =>
    fc.tuple(
      fc.constant(table),
      fc.constant(width),
      fc.array(fc.array(copyField, { minLength: width, maxLength: width }), { maxLength: 6 }),
    ),
  )
  .map(([table, width, rows]): Part => {
    const columns = Array.from({ length: width }, (_, index) => `c${index}`).join(", ");
    const data = `${rows.map((row) => `${row.join("\t")}\n`).join("")}\\.\n`;
    return kept(`COPY public.${table} (${columns}) FROM stdin;\n${data}`, [data]);
  });

/** A string literal as pg_dump or a person writes it, in every quoting the lexer knows. */
const literal = (backslashEscapes: boolean) =>
  fc.tuple(anyText, fc.constantFrom("plain", "escape", "escape-quote")).map(([value, style]) => {
    const backslashed = value.replace(/\\/g, "\\\\");
    if (style === "plain" && !backslashEscapes) return `'${value.replace(/'/g, "''")}'`;
    if (style === "plain") return `'${backslashed.replace(/'/g, "''")}'`;
    const quote = style === "escape-quote" ? "\\'" : "''";
    // With backslash escapes on for plain strings, \' needs no E in front.
    const prefix = backslashEscapes && style === "escape-quote" ? "" : "E";
    return `${prefix}'${backslashed.replace(/'/g, quote)}'`;
  });

const insert = (backslashEscapes: boolean) =>
  fc
    .tuple(
      name,
      fc.array(fc.option(fc.oneof(literal(backslashEscapes), fc.integer().map(String))), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.option(fc.array(name, { minLength: 1, maxLength: 3 })),
    )
    .map(([table, values, columns]): Part => {
      const written = values.map((value) => value ?? "NULL");
      // --column-inserts names the columns, quoted names included.
      const columnList = columns === null ? "" : ` (${columns.join(", ")})`;
      const literals = written.filter((value) => value.endsWith("'"));
      const names = columns ?? [];
      return kept(`INSERT INTO public.${table}${columnList} VALUES (${written.join(", ")});\n`, [
        table,
        ...names,
        ...literals,
      ]);
    });

const BODY_LINES = ["", "-- comment", "SET lock_timeout = 0;", "  RETURN 1;", "$$", "/* c */"];

/** A function as pg_dump writes it, with a delimiter the body does not hold, as it picks. */
const dollarFunction = fc
  .tuple(name, fc.array(fc.oneof(fc.constantFrom(...BODY_LINES), anyText), { maxLength: 6 }))
  .map(([fn, lines]): Part => {
    const body = `\n${lines.join("\n")}\n`;
    let delimiter = "$";
    for (let next = 0; body.includes(delimiter); next++) delimiter += "_XXXXXXX".charAt(next % 8);
    const quoted = `${delimiter}$${body}${delimiter}$`;
    return kept(
      `CREATE FUNCTION public.${fn}() RETURNS text\n    LANGUAGE plpgsql\n    AS ${quoted};\n`,
      [fn, quoted],
    );
  });

const atomicFunction = (backslashEscapes: boolean) =>
  fc.array(literal(backslashEscapes), { maxLength: 3 }).map((values): Part => {
    const selects = values.map((value) => ` SELECT ${value};\n`).join("");
    return kept(
      "CREATE FUNCTION public.f(a integer) RETURNS integer\n    LANGUAGE sql\n    BEGIN ATOMIC\n" +
        " SELECT\n         CASE\n             WHEN (a > 0) THEN a\n             ELSE 0\n" +
        `         END;\n${selects}\n-- inside the body\n SELECT (a + 1);\nEND;\n`,
      values,
    );
  });

const comment = (backslashEscapes: boolean) =>
  fc
    .tuple(name, literal(backslashEscapes))
    .map(([table, text]) => kept(`COMMENT ON TABLE public.${table} IS ${text};\n`, [table, text]));

const table = fc.array(name, { minLength: 1, maxLength: 3 }).map(([tableName, ...columns]) => {
  const lines = ["id integer NOT NULL", ...columns.map((column) => `${column} text`)];
  const body = lines.map((line) => `    ${line}`).join(",\n");
  return kept(`CREATE TABLE public.${tableName} (\n${body}\n);\n`, [
    tableName as string,
    ...columns,
  ]);
});

/** Block comment text without its own comment marks, so nesting stays as generated. */
const COMMENT_PIECES = ["", "\n", "\n\n", "-- x\n", "SET lock_timeout = 0;", "'", '"', "$$"];
const blockComment = fc
  .array(
    fc.oneof(
      fc.constantFrom(...COMMENT_PIECES),
      anyText.map((text) => text.replace(/[*/]/g, "x")),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .chain((pieces) =>
    fc.nat({ max: pieces.length }).map((split) => {
      const inner = `/*${pieces.slice(0, split).join("")}*/`;
      return kept(`/*${pieces.slice(split).join("")}${inner}\n*/\n`);
    }),
  );

/** Table names here hold no newline: a trigger line split by one is no longer one line. */
const hasuraTrigger = fc
  .tuple(
    fc.stringMatching(/^[A-Za-z0-9_]{1,10}$/),
    fc.constantFrom("INSERT", "UPDATE", "DELETE"),
    fc.boolean(),
    name.filter((table) => !table.includes("\n")),
    fc.constantFrom("FUNCTION", "PROCEDURE"),
    fc.constantFrom("hdb_catalog", "hdb_views"),
  )
  .map(([event, op, suffixed, onTable, kind, schema]) => {
    // Hasura appends the operation; older names and hand-made ones may lack it.
    const base = suffixed ? `notify_hasura_${event}_${op}` : `notify_hasura_${event}`;
    const trigger = /^[a-z0-9_]+$/.test(base) ? base : `"${base}"`;
    return dropped(
      `CREATE TRIGGER ${trigger} AFTER ${op} ON public.${onTable} FOR EACH ROW ` +
        `EXECUTE ${kind} ${schema}.${trigger}();\n`,
    );
  });

const keptLines = fc.constantFrom(
  "SET check_function_bodies = false;\n",
  "SET search_path = public;\n",
  "\\connect shop\n",
  "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);\n",
  "CREATE TRIGGER touch BEFORE UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION public.touch();\n",
  "SELECT pg_catalog.setval('public.t_id_seq', 1, false);\n",
);

const STRING_SETTING = "SET standard_conforming_strings = ";

const droppedLines = (backslashEscapes: boolean) =>
  fc.oneof(
    lineText.map((text) => dropped(`--${text}\n`)),
    fc.stringMatching(/^[ \t\r\f\v]{0,4}$/).map((blank) => dropped(`${blank}\n`)),
    // With strings read the old way, pg_dump would never also write the `on` line.
    fc
      .constantFrom(
        ...FRONT_MATTER.filter((line) => !line.startsWith(STRING_SETTING)),
        ...(backslashEscapes ? [] : [`${STRING_SETTING}on;`]),
      )
      .map((line) => dropped(`${line}\n`)),
    fc
      .tuple(fc.constantFrom("restrict", "unrestrict"), fc.stringMatching(/^[A-Za-z0-9]{1,20}$/))
      .map(([command, key]) => dropped(`\\${command} ${key}\n`)),
    hasuraTrigger,
  );

const part = (backslashEscapes: boolean) =>
  fc.oneof(
    { weight: 4, arbitrary: droppedLines(backslashEscapes) },
    { weight: 1, arbitrary: keptLines.map((line) => kept(line)) },
    { weight: 2, arbitrary: copyBlock },
    { weight: 2, arbitrary: insert(backslashEscapes) },
    { weight: 1, arbitrary: dollarFunction },
    { weight: 1, arbitrary: atomicFunction(backslashEscapes) },
    { weight: 1, arbitrary: comment(backslashEscapes) },
    { weight: 1, arbitrary: table },
    { weight: 1, arbitrary: blockComment },
  );

/** A whole dump; sometimes from a server with standard_conforming_strings off. */
const dump: fc.Arbitrary<Dump> = fc.boolean().chain((backslashEscapes) =>
  fc.array(part(backslashEscapes), { maxLength: 25 }).map((parts) => {
    const all = backslashEscapes
      ? [kept("SET standard_conforming_strings = off;\n"), ...parts]
      : parts;
    return {
      text: all.map((p) => p.text).join(""),
      expected: all.map((p) => p.expected).join(""),
      data: all.flatMap((p) => p.data),
    };
  }),
);

type Cuts = { size: number } | { fractions: number[] };

/** Where to cut a dump: at random places, or into chunks of one small size. */
const cuts: fc.Arbitrary<Cuts> = fc.oneof(
  fc.record({ fractions: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }) }),
  fc.record({ size: fc.integer({ min: 1, max: 16 }) }),
);

const cutsFor = (length: number, spec: Cuts): number[] => {
  if ("size" in spec) {
    const list: number[] = [];
    for (let at = spec.size; at < length; at += spec.size) list.push(at);
    return list;
  }
  return spec.fractions.map((fraction) => Math.floor(fraction * length)).sort((a, b) => a - b);
};

describe("clean_output on generated dumps", () => {
  test("(a) the output is the same for any chunking", () => {
    fc.assert(
      fc.property(dump, cuts, (generated, spec) => {
        const bytes = encoder.encode(generated.text);
        const whole = cleanCuts(bytes, []);
        assert.equal(cleanCuts(bytes, cutsFor(bytes.length, spec)), whole);
      }),
      { numRuns: RUNS },
    );
  });

  test("(b) every byte of COPY data, literals, quoted identifiers and bodies survives", () => {
    fc.assert(
      fc.property(dump, cuts, (generated, spec) => {
        const bytes = encoder.encode(generated.text);
        const output = cleanCuts(bytes, cutsFor(bytes.length, spec));
        let from = 0;
        for (const data of generated.data) {
          const at = output.indexOf(data, from);
          assert.ok(at !== -1, `missing or out of order: ${JSON.stringify(data)}`);
          from = at + data.length;
        }
      }),
      { numRuns: RUNS },
    );
  });

  test("(c) the dropped lines are exactly those the rules name", () => {
    fc.assert(
      fc.property(dump, cuts, (generated, spec) => {
        const bytes = encoder.encode(generated.text);
        assert.equal(cleanCuts(bytes, cutsFor(bytes.length, spec)), generated.expected);
      }),
      { numRuns: RUNS },
    );
  });

  test("the generator makes the traps it is meant to (a check on the test itself)", () => {
    const samples = fc.sample(dump, { numRuns: 300, seed: 42 });
    const texts = samples.map((sample) => sample.text).join("");
    assert.match(texts, /FROM stdin;\n(?:[^\n]*\n)*?\n(?:[^\n]*\n)*?\\\.\n/);
    assert.match(texts, /'[^']*\n\n[^']*'/);
    assert.match(texts, /\$_?\$\n[^$]*-- comment/);
    assert.match(texts, /"[^"]*\n[^"]*"/);
    assert.ok(samples.some((sample) => sample.text.startsWith("SET standard_conforming_strings")));
    assert.ok(samples.some((sample) => sample.text.length > sample.expected.length));
    assert.equal(decoder.decode(encoder.encode(texts)), texts);
  });
});
