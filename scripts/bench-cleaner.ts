/**
 * How fast clean_output is, on Bun, Deno and Node, next to `grep -v` doing a comparable line
 * filter over the same file.
 *
 * Usage: npx tsx scripts/bench-cleaner.ts [--size-mb 500] [--runtimes bun,deno,node]
 *          [--shape copy|inserts]
 *
 * The parent writes a pg_dump-shaped file (mostly COPY data, some DDL and functions; or,
 * with `--shape inserts`, the same rows as `pg_dump --inserts` writes them) to the temp
 * directory, streamed, then runs itself once per runtime in child mode
 * (`--child FILE`), where the cleaner alone reads the file in 64 KiB chunks and counts what
 * it emits. It removes the file when done.
 */

import { spawn, spawnSync } from "node:child_process";
import { closeSync, openSync, readSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Cleaner } from "../src/clean/cleaner.ts";
import { seeded } from "../test/support/seeded.ts";

const MB = 1024 * 1024;
const CHUNK = 64 * 1024;
/** Each child cleans the file this many times and reports its best pass. */
const PASSES = 3;

interface ChildResult {
  runtime: string;
  bytesIn: number;
  bytesOut: number;
  /** Seconds of the best pass over the whole file, reading included. */
  seconds: number;
  /** Seconds of the best pass that only reads the file, for scale. */
  readSeconds: number;
}

const runtimeName = (): string => {
  const scope = globalThis as { Bun?: unknown; Deno?: unknown };
  if (scope.Bun !== undefined) return "bun";
  if (scope.Deno !== undefined) return "deno";
  return "node";
};

/** Reads the file in 64 KiB chunks, each in a fresh buffer as a stream would hand them over. */
const readChunks = (path: string, onChunk: (chunk: Uint8Array) => void): void => {
  const fd = openSync(path, "r");
  try {
    for (;;) {
      const chunk = new Uint8Array(CHUNK);
      const read = readSync(fd, chunk, 0, CHUNK, null);
      if (read === 0) return;
      onChunk(read === CHUNK ? chunk : chunk.subarray(0, read));
    }
  } finally {
    closeSync(fd);
  }
};

const timed = (work: () => void): number => {
  const started = performance.now();
  work();
  return (performance.now() - started) / 1000;
};

const runChild = (path: string): void => {
  let bytesIn = 0;
  let bytesOut = 0;
  let seconds = Number.POSITIVE_INFINITY;
  let readSeconds = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass < PASSES; pass++) {
    readSeconds = Math.min(
      readSeconds,
      timed(() => readChunks(path, () => {})),
    );
    bytesIn = 0;
    bytesOut = 0;
    const cleaner = new Cleaner();
    const emit = (part: Uint8Array) => {
      bytesOut += part.length;
    };
    const took = timed(() => {
      readChunks(path, (chunk) => {
        bytesIn += chunk.length;
        cleaner.push(chunk, emit);
      });
      cleaner.end(emit);
    });
    seconds = Math.min(seconds, took);
  }
  const result: ChildResult = { runtime: runtimeName(), bytesIn, bytesOut, seconds, readSeconds };
  process.stdout.write(`${JSON.stringify(result)}\n`);
};

const STATUSES = ["new", "paid", "shipped", "cancelled", "refunded"];
/** Note values as COPY writes them: escapes, empty text, and text that looks like SQL. */
const NOTES = [
  "",
  "",
  "\\N",
  "leave at the door",
  "-- not a comment",
  "SET lock_timeout = 0;",
  "first line\\nsecond line\\n\\nafter a blank line",
  "tab\\tseparated",
  'json {"gift": true, "path": "C:\\\\orders"}',
  "café ✓ naïve résumé",
  "call before delivery, gate code 4411",
  "a longer note that someone typed into the order form, without any special characters",
];
const NAMES = ["Ada Lovelace", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov", "Alan Kay"];

const header = (): string =>
  [
    "--\n-- PostgreSQL database dump\n--\n\n\\restrict benchkey\n\n",
    "SET statement_timeout = 0;\nSET lock_timeout = 0;\n",
    "SET idle_in_transaction_session_timeout = 0;\nSET client_encoding = 'UTF8';\n",
    "SET standard_conforming_strings = on;\n",
    "SELECT pg_catalog.set_config('search_path', '', false);\n",
    "SET check_function_bodies = false;\nSET xmloption = content;\n",
    "SET client_min_messages = warning;\nSET row_security = off;\n\n",
  ].join("");

const tableSection = (index: number, shape: Shape): string =>
  [
    `--\n-- Name: touch_${index}(); Type: FUNCTION; Schema: public; Owner: app\n--\n\n`,
    `CREATE FUNCTION public.touch_${index}() RETURNS trigger\n    LANGUAGE plpgsql\n`,
    "    AS $$\nBEGIN\n\n  -- keep the audit column current\n  NEW.updated_at := now();\n",
    "  RETURN NEW;\nEND;\n$$;\n\n\n",
    "SET default_tablespace = '';\n\nSET default_table_access_method = heap;\n\n",
    `--\n-- Name: orders_${index}; Type: TABLE; Schema: public; Owner: app\n--\n\n`,
    `CREATE TABLE public.orders_${index} (\n    id bigint NOT NULL,\n    customer text,\n`,
    "    status text NOT NULL,\n    note text,\n    amount numeric(12,2),\n",
    "    created_at timestamp with time zone\n);\n\n\n",
    `COMMENT ON TABLE public.orders_${index} IS 'Orders.\n\n-- One row per checkout.';\n\n\n`,
    `--\n-- Data for Name: orders_${index}; Type: TABLE DATA; Schema: public; Owner: app\n--\n\n`,
    shape === "copy"
      ? `COPY public.orders_${index} (id, customer, status, note, amount, created_at) FROM stdin;\n`
      : "",
  ].join("");

const pick = <T>(random: () => number, list: readonly T[]): T =>
  list[Math.floor(random() * list.length)] as T;

type Shape = "copy" | "inserts";

/** A row as COPY's text format writes it, or as an INSERT statement. */
const row = (random: () => number, shape: Shape, table: number, id: number): string => {
  const day = String(1 + Math.floor(random() * 28)).padStart(2, "0");
  const fields = [
    String(id),
    pick(random, NAMES),
    pick(random, STATUSES),
    pick(random, NOTES),
    (random() * 1000).toFixed(2),
    `2024-05-${day} 12:${day}:07+00`,
  ];
  if (shape === "copy") return `${fields.join("\t")}\n`;
  const values = fields.map((field, index) =>
    index === 0 || index === 4 ? field : field === "\\N" ? "NULL" : literal(field),
  );
  return `INSERT INTO public.orders_${table} VALUES (${values.join(", ")});\n`;
};

/** A COPY field turned back into the SQL literal `pg_dump --inserts` would write. */
const literal = (field: string): string => {
  const text = field.replace(/\\(.)/g, (_, char: string) =>
    char === "n" ? "\n" : char === "t" ? "\t" : char,
  );
  return `'${text.replace(/'/g, "''")}'`;
};

/** Writes the benchmark dump, about `size` bytes, a megabyte at a time. */
const writeDump = (path: string, size: number, shape: Shape): number => {
  const random = seeded(20250801);
  const encoder = new TextEncoder();
  const fd = openSync(path, "w");
  let written = 0;
  const write = (text: string) => {
    const bytes = encoder.encode(text);
    writeSync(fd, bytes);
    written += bytes.length;
  };
  try {
    write(header());
    let id = 1;
    for (let table = 0; written < size; table++) {
      write(tableSection(table, shape));
      const tableEnd = Math.min(size, written + 100 * MB);
      while (written < tableEnd) {
        const rows: string[] = [];
        for (let bytes = 0; bytes < MB; ) {
          const next = row(random, shape, table, id++);
          rows.push(next);
          bytes += next.length;
        }
        write(rows.join(""));
      }
      if (shape === "copy") write("\\.\n");
      write(`\n\n--\n-- Name: orders_${table} orders_pkey; Type: CONSTRAINT\n--\n\n`);
      write(`ALTER TABLE ONLY public.orders_${table}\n    ADD CONSTRAINT orders_${table}_pkey`);
      write(" PRIMARY KEY (id);\n\n\n");
    }
    write("--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict benchkey\n\n");
  } finally {
    closeSync(fd);
  }
  return written;
};

/**
 * grep's time for a comparable filter. Its output goes through a pipe to `wc -c`: with
 * stdout on /dev/null, GNU grep stops at the first selected line and would measure nothing.
 * `count` times `grep -c` instead, which only counts the kept lines and writes no output:
 * a lower bound for any filter, shown for scale.
 */
const timeGrep = (path: string, count: boolean): number => {
  const filter = "grep -v -e '^--' -e '^$'";
  const command = count ? `${filter} -c "$1"` : `${filter} "$1" | wc -c`;
  let best = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass < PASSES; pass++) {
    const took = timed(() => {
      const result = spawnSync("sh", ["-c", command, "sh", path], {
        env: { ...process.env, LC_ALL: "C" },
        encoding: "utf8",
      });
      if (result.status !== 0) throw new Error(`grep failed: ${result.stderr}`);
    });
    best = Math.min(best, took);
  }
  return best;
};

const CHILD_COMMANDS: Record<string, string[]> = {
  bun: ["npx", "bun"],
  deno: ["npx", "deno", "run", "-A"],
  node: ["npx", "tsx"],
};

const runIn = (runtime: string, script: string, path: string): Promise<ChildResult> =>
  new Promise((resolve, reject) => {
    const [command, ...args] = CHILD_COMMANDS[runtime] as [string, ...string[]];
    const child = spawn(command, [...args, script, "--child", path], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`${runtime} child exited with ${code}`));
      else resolve(JSON.parse(output.trim().split("\n").at(-1) ?? "") as ChildResult);
    });
  });

const option = (args: readonly string[], name: string): string | undefined => {
  const index = args.indexOf(name);
  return index === -1 ? undefined : args[index + 1];
};

const runParent = async (args: readonly string[]): Promise<void> => {
  const sizeMb = Number(option(args, "--size-mb") ?? 500);
  const runtimes = (option(args, "--runtimes") ?? "bun,deno,node").split(",");
  const shape: Shape = option(args, "--shape") === "inserts" ? "inserts" : "copy";
  const path = join(tmpdir(), `bench-cleaner-${process.pid}.sql`);
  const script = fileURLToPath(import.meta.url);

  // An interrupted run must not leave half a gigabyte behind.
  process.once("SIGINT", () => {
    rmSync(path, { force: true });
    process.exit(130);
  });
  try {
    process.stderr.write(`writing ${sizeMb} MB (${shape}) to ${path}\n`);
    writeDump(path, sizeMb * MB, shape);
    const bytes = statSync(path).size;
    const grepSeconds = timeGrep(path, false);
    const countSeconds = timeGrep(path, true);
    const rows: string[][] = [
      ["grep -v, piped to wc -c", mbps(bytes, grepSeconds), "1.00", "-"],
      ["grep -v -c (no output)", mbps(bytes, countSeconds), ratio(grepSeconds, countSeconds), "-"],
    ];
    for (const runtime of runtimes) {
      process.stderr.write(`cleaning under ${runtime}\n`);
      const result = await runIn(runtime, script, path);
      if (result.bytesIn !== bytes) throw new Error(`${runtime} read ${result.bytesIn} bytes`);
      rows.push([
        runtime,
        mbps(bytes, result.seconds),
        ratio(grepSeconds, result.seconds),
        mbps(bytes, result.readSeconds),
      ]);
    }
    const size = `${(bytes / MB).toFixed(0)} MB dump (${shape})`;
    process.stdout.write(`\n${size}, best of ${PASSES} passes, MB = 2^20 bytes\n`);
    printTable([["runtime", "MB/s", "ratio to grep", "read only MB/s"], ...rows]);
  } finally {
    rmSync(path, { force: true });
  }
};

const mbps = (bytes: number, seconds: number): string => (bytes / MB / seconds).toFixed(0);

/** How many times faster than the reference grep: above 1 is faster. */
const ratio = (grepSeconds: number, seconds: number): string => (grepSeconds / seconds).toFixed(2);

const printTable = (rows: readonly string[][]): void => {
  const widths = (rows[0] ?? []).map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? "").length)),
  );
  for (const row of rows) {
    const cells = row.map((cell, column) => cell.padEnd(widths[column] ?? 0));
    process.stdout.write(`| ${cells.join(" | ")} |\n`);
  }
};

const args = process.argv.slice(2);
const childPath = option(args, "--child");
if (childPath !== undefined) runChild(childPath);
else await runParent(args);
