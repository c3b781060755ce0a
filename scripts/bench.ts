/**
 * End-to-end throughput and memory benchmark of the gateway on Bun, Deno and Node. It prints
 * figures; it asserts nothing and exits 0 whether targets are met or not.
 *
 * Usage: npm run bench -- [--size-mb 800] [--runs 3] [--runtimes bun,deno,node]
 *
 * - PostgreSQL: `BENCH_DATABASE_URL` (a URL that may create databases) when set, otherwise a
 *   throwaway local cluster that is removed at the end, also on Ctrl-C or an error.
 * - Data: a database `pgdump_bench` whose plain dump is at least `--size-mb` MB, made of a
 *   few wide-ish tables (int, bigint, text of varying length with empty strings, escapes and
 *   non-ASCII, timestamptz, numeric, double, jsonb) plus indexes, a view, functions and a
 *   trigger. Its comment records the measured dump size, so a rerun against the same server
 *   reuses it instead of loading it again.
 * - Baseline: the same pg_dump the gateway runs, with the same arguments and libpq
 *   environment, writing to /dev/null (wall time, median of `--runs`), and its time to the
 *   first output byte through a pipe (median of `--runs`).
 * - Gateway: each runtime's real entry point as its own process; for clean_output false and
 *   true, `--runs` curl downloads of the dump to /dev/null while the gateway process's VmRSS
 *   (not pg_dump's, which is another process) is sampled every 50 ms. Throughput is bytes
 *   received / total time, first byte is curl's time_starttransfer; medians are shown, RSS
 *   is the peak over all runs.
 *
 * MB means 2^20 bytes throughout. The machine is shared with whatever else runs, so figures
 * move from run to run; look at them side by side, not one at a time.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { findFreePort, type LocalCluster, startLocalCluster } from "../src/embedded/cluster.ts";
import { parsePgDumpOptions, toPgDumpArgs } from "../src/pgdump/options.ts";
import { selectPgDump } from "../src/pgdump/versions.ts";
import { nodeRuntime } from "../src/runtime/node.ts";
import { childEnvFrom, findPgDumps } from "../src/server/start.ts";
import { toLibpqEnv } from "../src/sources/connection.ts";
import { queryServerVersionNum, versionNumParts } from "../src/sources/server-version.ts";

const MB = 1024 * 1024;
const DATABASE = "pgdump_bench";
/** Bump when the data changes shape, so an old database is rebuilt rather than reused. */
const MARKER_VERSION = "v1";
/** The options of every dump here; data-heavy on purpose, since bytes are what is measured. */
const DUMP_OPTS = ["-O", "-x"];
const RSS_SAMPLE_MS = 50;
const ROOT = fileURLToPath(new URL("..", import.meta.url));

const TARGETS = { throughputShare: 0.9, peakRssMb: 100, firstByteDeltaMs: 200 };

type RuntimeName = "bun" | "deno" | "node";

/** How each runtime starts the gateway, from the repository root. */
const GATEWAY_COMMANDS: Record<RuntimeName, [string, string[]]> = {
  bun: ["node_modules/.bin/bun", ["src/main/bun.ts"]],
  deno: [
    "node_modules/.bin/deno",
    [
      "run",
      "--unstable-no-legacy-abort",
      "--v8-flags=--max-semi-space-size=1",
      "-A",
      "src/main/deno.ts",
    ],
  ],
  node: [process.execPath, ["--max-semi-space-size=1", "--import", "tsx", "src/main/node.ts"]],
};

interface Settings {
  sizeMb: number;
  runs: number;
  runtimes: RuntimeName[];
}

/** What the raw pg_dump and the gateways need to run a dump of the bench database. */
interface DumpTarget {
  url: string;
  pgDumpPath: string;
  pgDumpVersion: string;
  args: string[];
  env: Record<string, string>;
}

interface RawFigures {
  bytes: number;
  seconds: number;
  firstByteMs: number;
}

interface GatewayFigures {
  runtime: RuntimeName;
  cleanOutput: boolean;
  bytes: number;
  seconds: number;
  firstByteMs: number;
  peakRssMb: number;
  /** RSS right after start-up, before any request: the runtime's own floor. */
  idleRssMb: number;
  cpuSeconds: number;
  problems: string[];
}

const note = (message: string): void => {
  process.stderr.write(`[bench] ${message}\n`);
};

/** Processes still running, ended on Ctrl-C or an error so none outlives the benchmark. */
const liveChildren = new Set<ChildProcess>();
let cluster: LocalCluster | undefined;

/** Set by Ctrl-C: from then on nothing new starts while the clean-up runs. */
let interrupted = false;

const throwIfInterrupted = (): void => {
  if (interrupted) throw new Error("interrupted");
};

const track = (child: ChildProcess): ChildProcess => {
  if (interrupted) {
    child.kill("SIGTERM");
    throwIfInterrupted();
  }
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
  return child;
};

const cleanUp = async (): Promise<void> => {
  for (const child of liveChildren) child.kill("SIGTERM");
  await cluster?.stop();
};

const main = async (): Promise<void> => {
  const settings = readSettings();
  const loadBefore = loadAverage();
  const adminUrl = process.env.BENCH_DATABASE_URL || (await startCluster());

  const target = await dumpTarget(adminUrl);
  note(`pg_dump ${target.pgDumpVersion} at ${target.pgDumpPath}, args ${target.args.join(" ")}`);
  const bytes = await ensureDatabase(adminUrl, target, settings.sizeMb);

  const raw = await measureRaw(target, bytes, settings.runs);
  note(
    `raw pg_dump: ${mbPerSecond(raw.bytes, raw.seconds).toFixed(1)} MB/s, ` +
      `first byte ${raw.firstByteMs.toFixed(0)} ms`,
  );

  const rows: GatewayFigures[] = [];
  for (const runtime of settings.runtimes) {
    rows.push(...(await measureGateway(runtime, target, bytes, settings.runs)));
  }

  const context = { runs: settings.runs, loadBefore, loadAfter: loadAverage() };
  process.stdout.write(`\n${renderTable(raw, rows, context)}\n`);
};

const readSettings = (): Settings => {
  const { values } = parseArgs({
    options: {
      "size-mb": { type: "string", default: "800" },
      runs: { type: "string", default: "3" },
      runtimes: { type: "string", default: "bun,deno,node" },
    },
  });
  const sizeMb = Number(values["size-mb"]);
  const runs = Number(values.runs);
  const runtimes = values.runtimes.split(",").map((name) => name.trim());
  if (!Number.isFinite(sizeMb) || sizeMb <= 0) throw new Error("--size-mb must be a number > 0");
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be an integer >= 1");
  const unknown = runtimes.filter((name) => !(name in GATEWAY_COMMANDS));
  if (unknown.length > 0) throw new Error(`unknown runtimes: ${unknown.join(", ")}`);
  return { sizeMb, runs, runtimes: runtimes as RuntimeName[] };
};

const startCluster = async (): Promise<string> => {
  note("BENCH_DATABASE_URL is not set: starting a throwaway PostgreSQL cluster");
  cluster = await startLocalCluster({ log: note });
  return cluster.url;
};

/** Picks the pg_dump the gateway would pick for this server and builds its invocation. */
const dumpTarget = async (adminUrl: string): Promise<DumpTarget> => {
  const url = databaseUrl(adminUrl, DATABASE);
  const childEnv = childEnvFrom(process.env);
  const inventory = await findPgDumps(
    nodeRuntime,
    { pgDumpPath: undefined, pgDumpDirs: [] },
    childEnv,
  );
  const server = versionNumParts(await queryServerVersionNum(adminUrl));
  const picked = selectPgDump(inventory, server, "default");
  if (!picked.ok) throw new Error(picked.error.message);

  const parsed = parsePgDumpOptions(DUMP_OPTS);
  if (!parsed.ok) throw new Error(`bench options refused: ${parsed.option}`);
  return {
    url,
    pgDumpPath: picked.binary.path,
    pgDumpVersion: picked.binary.version,
    // As src/pgdump/run.ts builds them, so the baseline does exactly what a request does.
    args: ["--encoding=utf8", ...toPgDumpArgs(parsed.options)],
    env: { ...childEnv, ...toLibpqEnv(url) },
  };
};

const databaseUrl = (adminUrl: string, name: string): string => {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
};

// ---------------------------------------------------------------------------------------------
// The bench database
// ---------------------------------------------------------------------------------------------

/**
 * Returns the dump size in bytes, loading the database first unless a fitting one exists.
 * The size depends a little on pg_dump's version (its header names it), so another pg_dump
 * measures it anew instead of loading everything again.
 */
const ensureDatabase = async (
  adminUrl: string,
  target: DumpTarget,
  sizeMb: number,
): Promise<number> => {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await admin`
      select shobj_description(oid, 'pg_database') as marker
      from pg_database where datname = ${DATABASE}
    `;
    const marker = readMarker(row?.marker);
    if (marker?.sizeMb === sizeMb) {
      const bytes =
        marker.pgDump === target.pgDumpVersion ? marker.bytes : (await countDump(target)).bytes;
      note(`reusing database ${DATABASE}: ${(bytes / MB).toFixed(1)} MB of dump`);
      await writeMarker(admin, sizeMb, bytes, target.pgDumpVersion);
      return bytes;
    }
    if (row !== undefined) {
      note(`database ${DATABASE} has another size, shape or was not finished: rebuilding it`);
      await admin.unsafe(`drop database ${DATABASE} with (force)`);
    }
    await admin.unsafe(`create database ${DATABASE}`);

    const bytes = await loadDatabase(target, sizeMb * MB);
    await writeMarker(admin, sizeMb, bytes, target.pgDumpVersion);
    return bytes;
  } finally {
    await admin.end();
  }
};

interface Marker {
  sizeMb: number;
  bytes: number;
  pgDump: string;
}

const MARKER = /^pgdump-bench (\S+) size_mb=(\S+) bytes=(\d+) pg_dump=(\S+)$/;

const readMarker = (text: unknown): Marker | undefined => {
  const match = typeof text === "string" ? MARKER.exec(text) : null;
  if (match === null || match[1] !== MARKER_VERSION) return undefined;
  return { sizeMb: Number(match[2]), bytes: Number(match[3]), pgDump: String(match[4]) };
};

/** Written last, so a load that was cut short leaves no marker and is done again. */
const writeMarker = async (
  admin: postgres.Sql,
  sizeMb: number,
  bytes: number,
  pgDump: string,
): Promise<void> => {
  const text = `pgdump-bench ${MARKER_VERSION} size_mb=${sizeMb} bytes=${bytes} pg_dump=${pgDump}`;
  await admin.unsafe(`comment on database ${DATABASE} is '${text.replaceAll("'", "''")}'`);
};

/**
 * One "step" `i` adds a row to events and metrics and, for even `i`, to documents. The load
 * is calibrated on a sample, then topped up until the measured dump reaches the target.
 */
const loadDatabase = async (target: DumpTarget, targetBytes: number): Promise<number> => {
  const sql = postgres(target.url, { max: 1, onnotice: () => {} });
  const started = Date.now();
  try {
    await sql.unsafe(SCHEMA_SQL);
    const emptyBytes = (await countDump(target)).bytes;

    const sample = 50_000;
    await insertSteps(sql, 1, sample);
    const sampleBytes = (await countDump(target)).bytes;
    const perStep = (sampleBytes - emptyBytes) / sample;
    note(`calibration: ${perStep.toFixed(0)} dump bytes per step`);

    // Indexes and vacuum come after the bulk load, which is faster; a short top-up follows
    // only when the estimate fell short.
    let steps = sample;
    let bytes = sampleBytes;
    let indexed = false;
    while (!indexed || bytes < targetBytes) {
      if (bytes < targetBytes) {
        const more = Math.ceil(((targetBytes - bytes) / perStep) * 1.01) + 1000;
        await insertSteps(sql, steps + 1, steps + more);
        steps += more;
      }
      if (!indexed) await sql.unsafe(INDEX_SQL);
      indexed = true;
      // Hint bits and the visibility map are set now, so no timed dump does writes.
      note("vacuum (freeze, analyze)");
      await sql.unsafe("vacuum (freeze, analyze)");
      bytes = (await countDump(target)).bytes;
      note(`dump is ${(bytes / MB).toFixed(1)} MB after ${steps} steps`);
    }
    note(`database loaded in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return bytes;
  } finally {
    await sql.end();
  }
};

const insertSteps = async (sql: postgres.Sql, from: number, to: number): Promise<void> => {
  const batch = 200_000;
  for (let start = from; start <= to; start += batch) {
    throwIfInterrupted();
    const end = Math.min(to, start + batch - 1);
    const range = `generate_series(${start}, ${end}) as i`;
    await sql.unsafe(EVENTS_INSERT.replace("$RANGE", range));
    await sql.unsafe(DOCUMENTS_INSERT.replace("$RANGE", range));
    await sql.unsafe(METRICS_INSERT.replace("$RANGE", range));
    note(`loaded steps ${start}..${end}`);
  }
};

const SCHEMA_SQL = `
create table events (
  id bigint not null,
  account_id integer not null,
  kind text not null,
  payload text not null,
  note text,
  amount numeric(14, 4),
  fingerprint bigint,
  created_at timestamptz not null,
  attributes jsonb
);
comment on table events is 'Append-only activity; payload is empty for every sixth event.';

create table documents (
  id integer not null,
  title text not null,
  body text not null,
  meta jsonb not null,
  revision integer not null default 1,
  updated_at timestamptz not null
);

create table metrics (
  id bigint not null,
  sensor integer not null,
  reading numeric(12, 3),
  value double precision,
  recorded_at timestamptz not null,
  labels jsonb
);

create view account_totals as
  select account_id, count(*) as events, sum(amount) as amount
  from events group by account_id;

create function event_label(kind text, amount numeric) returns text
  language sql immutable
  as $$ select kind || ': ' || coalesce(amount::text, 'n/a') $$;

create function touch_document() returns trigger
  language plpgsql
  as $body$
begin
  -- A dollar-quoted body with ';' and quotes inside, as real dumps have.
  new.revision := old.revision + 1;
  new.updated_at := now();
  raise notice 'document % is now at revision %; ''quoted''', new.id, new.revision;
  return new;
end;
$body$;

create trigger documents_touch before update on documents
  for each row execute function touch_document();
`;

const INDEX_SQL = `
alter table events add primary key (id);
alter table documents add primary key (id);
alter table metrics add primary key (id);
create index events_account_created on events (account_id, created_at);
create index metrics_sensor_recorded on metrics (sensor, recorded_at);
`;

const EVENTS_INSERT = `
insert into events
select
  i,
  i % 5000,
  (array['click', 'view', 'purchase', 'signup', 'refund'])[1 + i % 5],
  repeat(md5(i::text), i % 6),
  case i % 4
    when 0 then ''
    when 1 then 'café № ' || i
    when 2 then E'tab\\there, line\\nbreak, back\\\\slash ' || i
  end,
  round(((i::bigint * 7919) % 10000000) / 100.0, 4),
  i::bigint * 2654435761,
  timestamptz '2020-01-01 00:00:00+00' + i * interval '1 second',
  jsonb_build_object(
    'n', i, 'even', i % 2 = 0, 'label', '日本 ' || i % 100,
    'tags', jsonb_build_array('t' || i % 10, 'u' || i % 7)
  )
from $RANGE`;

const DOCUMENTS_INSERT = `
insert into documents (id, title, body, meta, updated_at)
select
  i,
  'Document ' || i,
  repeat(md5(i::text) || ' ', 2 + i % 24),
  jsonb_build_object('author', 'user' || i % 300, 'words', 2 + i % 24, 'draft', i % 9 = 0),
  timestamptz '2021-06-01 12:00:00+00' + i * interval '17 seconds'
from $RANGE
where i % 2 = 0`;

const METRICS_INSERT = `
insert into metrics
select
  i,
  i % 200,
  ((i::bigint * 104729) % 1000000) / 1000.0,
  sin(i) * 1000,
  timestamptz '2022-01-01 00:00:00+00' + i * interval '250 milliseconds',
  case when i % 3 = 0 then null else jsonb_build_object('site', 's' || i % 12) end
from $RANGE`;

// ---------------------------------------------------------------------------------------------
// Raw pg_dump
// ---------------------------------------------------------------------------------------------

const spawnPgDump = (target: DumpTarget, stdout: "pipe" | number): ChildProcess =>
  track(
    spawn(target.pgDumpPath, target.args, {
      env: target.env,
      stdio: ["ignore", stdout, "pipe"],
    }),
  );

/** Waits for a pg_dump to end; rejects with its stderr when it fails. */
const finished = (child: ChildProcess, what: string): Promise<void> => {
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${what} ended with ${code ?? signal}: ${stderr.trim()}`));
    });
  });
};

/** Runs a whole dump through a pipe and counts its bytes. */
const countDump = async (target: DumpTarget): Promise<{ bytes: number }> => {
  const child = spawnPgDump(target, "pipe");
  let bytes = 0;
  child.stdout?.on("data", (chunk: Buffer) => {
    bytes += chunk.byteLength;
  });
  await finished(child, "pg_dump");
  return { bytes };
};

const measureRaw = async (target: DumpTarget, bytes: number, runs: number) => {
  const seconds: number[] = [];
  const firstBytes: number[] = [];
  for (let run = 1; run <= runs; run++) {
    seconds.push(await timeToDevNull(target));
    firstBytes.push(await timeToFirstByte(target));
    note(`raw run ${run}: ${seconds.at(-1)?.toFixed(2)} s, first byte ${firstBytes.at(-1)} ms`);
  }
  return { bytes, seconds: median(seconds), firstByteMs: median(firstBytes) } as RawFigures;
};

/** `pg_dump ... > /dev/null`: the file descriptor itself, as a shell redirect hands it over. */
const timeToDevNull = async (target: DumpTarget): Promise<number> => {
  const devNull = openSync("/dev/null", "w");
  try {
    const started = performance.now();
    await finished(spawnPgDump(target, devNull), "pg_dump");
    return (performance.now() - started) / 1000;
  } finally {
    closeSync(devNull);
  }
};

/** Milliseconds from spawning pg_dump to its first stdout chunk; then it is stopped. */
const timeToFirstByte = (target: DumpTarget): Promise<number> =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawnPgDump(target, "pipe");
    child.once("error", reject);
    child.stdout?.once("data", () => {
      const elapsed = Math.round(performance.now() - started);
      child.kill("SIGTERM");
      child.once("close", () => resolve(elapsed));
    });
    child.once("close", (code) => {
      if (code === 0) reject(new Error("pg_dump wrote nothing"));
    });
  });

// ---------------------------------------------------------------------------------------------
// The gateways
// ---------------------------------------------------------------------------------------------

interface RunningGateway {
  child: ChildProcess;
  port: number;
  output: () => string;
}

const measureGateway = async (
  runtime: RuntimeName,
  target: DumpTarget,
  rawBytes: number,
  runs: number,
): Promise<GatewayFigures[]> => {
  const gateway = await startGateway(runtime, target);
  const pid = gateway.child.pid as number;
  const idleRssMb = readRssMb(pid) ?? 0;
  note(`${runtime}: gateway pid ${pid} on port ${gateway.port}, RSS ${idleRssMb.toFixed(1)} MB`);
  const rows: GatewayFigures[] = [];
  try {
    for (const cleanOutput of [false, true]) {
      const samples: DownloadSample[] = [];
      for (let run = 1; run <= runs; run++) {
        const sample = checkSize(await download(gateway, cleanOutput), cleanOutput, rawBytes);
        note(
          `${runtime} clean_output=${cleanOutput} run ${run}: ` +
            `${mbPerSecond(sample.bytes, sample.seconds).toFixed(1)} MB/s, ` +
            `first byte ${sample.firstByteMs.toFixed(0)} ms, peak RSS ` +
            `${sample.peakRssMb.toFixed(1)} MB, gateway CPU ${sample.cpuSeconds.toFixed(1)} s` +
            (sample.problem === undefined ? "" : `, PROBLEM: ${sample.problem}`),
        );
        if (sample.problem !== undefined) note(`${runtime} gateway output:\n${gateway.output()}`);
        samples.push(sample);
      }
      rows.push(summarise(runtime, cleanOutput, samples, idleRssMb));
    }
  } finally {
    await stopGateway(gateway);
  }
  return rows;
};

/** Medians over the runs that completed; a run that failed shows only as a problem. */
const summarise = (
  runtime: RuntimeName,
  cleanOutput: boolean,
  samples: DownloadSample[],
  idleRssMb: number,
): GatewayFigures => {
  const problems = samples.flatMap((sample) => (sample.problem ? [sample.problem] : []));
  const complete = samples.filter((sample) => sample.problem === undefined);
  return {
    runtime,
    cleanOutput,
    bytes: median(complete.map((sample) => sample.bytes)),
    seconds: median(complete.map((sample) => sample.seconds)),
    firstByteMs: median(complete.map((sample) => sample.firstByteMs)),
    peakRssMb: Math.max(...samples.map((sample) => sample.peakRssMb)),
    idleRssMb,
    cpuSeconds: median(complete.map((sample) => sample.cpuSeconds)),
    problems,
  };
};

/** A download that is not a whole dump is a failure, whatever the status said. */
const checkSize = (sample: DownloadSample, cleanOutput: boolean, rawBytes: number) => {
  const whole = cleanOutput
    ? sample.bytes > 0 && sample.bytes <= rawBytes
    : sample.bytes === rawBytes;
  if (whole || sample.problem !== undefined) return sample;
  return { ...sample, problem: `received ${sample.bytes} bytes; raw pg_dump writes ${rawBytes}` };
};

const startGateway = async (runtime: RuntimeName, target: DumpTarget): Promise<RunningGateway> => {
  const port = await findFreePort();
  const [command, args] = GATEWAY_COMMANDS[runtime];
  // Nothing of this shell's own gateway configuration (an admin secret, limits) leaks in.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith("HASURA_GRAPHQL_") && !name.startsWith("PGDUMP_GATEWAY_"),
    ),
  );
  const child = track(
    spawn(command, args, {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...inherited,
        NO_COLOR: "1",
        HASURA_GRAPHQL_DATABASE_URL: target.url,
        HASURA_GRAPHQL_SERVER_PORT: String(port),
        HASURA_GRAPHQL_SERVER_HOST: "127.0.0.1",
        PGDUMP_GATEWAY_PG_DUMP: target.pgDumpPath,
      },
    }),
  );

  let output = "";
  const keep = (chunk: Buffer) => {
    // The tail is enough to explain a failure; the pipes must be drained regardless.
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${runtime}: no start-up line in 120 s`)),
      120_000,
    );
    const onData = () => {
      if (!output.includes("pg_dump gateway listening")) return;
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      resolve();
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${runtime} gateway exited with ${code} at start-up:\n${output}`));
    });
  });
  return { child, port, output: () => output };
};

const stopGateway = async ({ child }: RunningGateway): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 40_000);
  await exited;
  clearTimeout(timer);
};

interface DownloadSample {
  bytes: number;
  seconds: number;
  firstByteMs: number;
  peakRssMb: number;
  cpuSeconds: number;
  problem?: string;
}

/** One curl download of a dump, with the gateway's memory and CPU watched meanwhile. */
const download = async (gateway: RunningGateway, cleanOutput: boolean): Promise<DownloadSample> => {
  const pid = gateway.child.pid as number;
  const cpuBefore = readCpuSeconds(pid) ?? 0;
  let peakRssMb = readRssMb(pid) ?? 0;
  const sampler = setInterval(() => {
    peakRssMb = Math.max(peakRssMb, readRssMb(pid) ?? 0);
  }, RSS_SAMPLE_MS);

  try {
    const result = await curl(gateway.port, cleanOutput);
    peakRssMb = Math.max(peakRssMb, readRssMb(pid) ?? 0);
    return {
      ...result,
      peakRssMb,
      cpuSeconds: (readCpuSeconds(pid) ?? 0) - cpuBefore,
    };
  } finally {
    clearInterval(sampler);
  }
};

const curl = (
  port: number,
  cleanOutput: boolean,
): Promise<{ bytes: number; seconds: number; firstByteMs: number; problem?: string }> =>
  new Promise((resolve, reject) => {
    const body = JSON.stringify({ opts: DUMP_OPTS, clean_output: cleanOutput });
    const child = track(
      spawn(
        "curl",
        [
          "-sS",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code} %{time_starttransfer} %{time_total} %{size_download}",
          "-X",
          "POST",
          "-H",
          "content-type: application/json",
          `http://127.0.0.1:${port}/v1alpha1/pg_dump`,
          "-d",
          body,
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      ),
    );
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once("error", reject);
    child.once("close", (code) => {
      const [status, start, total, size] = stdout.trim().split(" ");
      const problems = [
        code === 0 ? "" : `curl exited with ${code}: ${stderr.trim()}`,
        status === "200" ? "" : `HTTP status ${status}`,
      ].filter((problem) => problem !== "");
      resolve({
        bytes: Number(size),
        seconds: Number(total),
        firstByteMs: Number(start) * 1000,
        ...(problems.length > 0 ? { problem: problems.join("; ") } : {}),
      });
    });
  });

const readRssMb = (pid: number): number | undefined => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kilobytes = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kilobytes === undefined ? undefined : Number(kilobytes) / 1024;
  } catch {
    return undefined;
  }
};

/** User plus system CPU time of the process, from /proc (clock ticks of 1/100 s on Linux). */
const readCpuSeconds = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
};

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

const MISS = " ✗";

const renderTable = (raw: RawFigures, rows: GatewayFigures[], context: ReportContext): string => {
  const rawRate = mbPerSecond(raw.bytes, raw.seconds);
  const lines = [
    `Dump: ${(raw.bytes / MB).toFixed(1)} MB (opts ${JSON.stringify(DUMP_OPTS)}), median of ` +
      `${context.runs} run(s). RSS: the gateway process only, peak over all runs. ` +
      "Gateway CPU: its user + system seconds per dump.",
    `Machine: ${cpus().length} cores, load average ${context.loadBefore} before and ` +
      `${context.loadAfter} after; anything else running takes CPU from the dumps.`,
    `Targets: MB/s >= ${TARGETS.throughputShare * 100}% of raw pg_dump, ` +
      `peak RSS < ${TARGETS.peakRssMb} MB, first byte within ${TARGETS.firstByteDeltaMs} ms ` +
      `of pg_dump's. ${MISS.trim()} marks a miss.`,
    "",
    "| runtime | clean_output | MB/s | vs raw pg_dump | peak RSS MB (at start-up) " +
      "| first byte ms (Δ vs pg_dump) | gateway CPU s |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    `| raw pg_dump > /dev/null | – | ${rawRate.toFixed(1)} | 100% | – ` +
      `| ${raw.firstByteMs.toFixed(0)} | – |`,
    ...rows.map((row) => renderRow(row, raw, rawRate)),
  ];

  const problems = rows.flatMap((row) =>
    row.problems.map((problem) => `- ${row.runtime} clean_output=${row.cleanOutput}: ${problem}`),
  );
  if (problems.length > 0) lines.push("", "Problems:", ...problems);
  return lines.join("\n");
};

interface ReportContext {
  runs: number;
  loadBefore: string;
  loadAfter: string;
}

const renderRow = (row: GatewayFigures, raw: RawFigures, rawRate: number): string => {
  const mark = (missed: boolean) => (missed ? MISS : "");
  const memory =
    `${row.peakRssMb.toFixed(1)}${mark(row.peakRssMb >= TARGETS.peakRssMb)} ` +
    `(${row.idleRssMb.toFixed(1)})`;
  // No run completed: only the problems below say anything about it.
  if (Number.isNaN(row.seconds)) {
    return `| ${row.runtime} | ${row.cleanOutput} | failed${MISS} | – | ${memory} | – | – |`;
  }

  const rate = mbPerSecond(row.bytes, row.seconds);
  const share = rate / rawRate;
  const delta = row.firstByteMs - raw.firstByteMs;
  const firstByte =
    `${row.firstByteMs.toFixed(0)} (${delta >= 0 ? "+" : ""}${delta.toFixed(0)})` +
    mark(delta > TARGETS.firstByteDeltaMs);
  return (
    `| ${row.runtime} | ${row.cleanOutput} | ${rate.toFixed(1)} ` +
    `| ${(share * 100).toFixed(0)}%${mark(share < TARGETS.throughputShare)} | ${memory} ` +
    `| ${firstByte} | ${row.cpuSeconds.toFixed(1)} |`
  );
};

const loadAverage = (): string =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");

const mbPerSecond = (bytes: number, seconds: number): number => bytes / MB / seconds;

const median = (values: number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

// ---------------------------------------------------------------------------------------------

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    interrupted = true;
    note(`${signal}: stopping`);
    void cleanUp().finally(() => process.exit(130));
  });
}

try {
  await main();
  await cleanUp();
} catch (error) {
  // After Ctrl-C the signal handler cleans up and exits; the errors it causes say nothing.
  if (!interrupted) {
    process.stderr.write(`[bench] failed: ${(error as Error).stack ?? error}\n`);
    await cleanUp();
    process.exit(1);
  }
}
