import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import postgres from "postgres";
import { createScratchDatabase, type ScratchDatabase } from "./support/database.ts";
import {
  bytesWritten,
  createBigTable,
  curl,
  hasCurl,
  pgDumpSessions,
  processAlive,
  readAll,
  sleep,
  terminateSessions,
  waitFor,
} from "./support/dump-helpers.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";

const adminUrl = process.env.TEST_DATABASE_URL;
const BIG_MB = 64;
const COMPLETE = "-- PostgreSQL database dump complete";

let scratch: ScratchDatabase;

before(async () => {
  if (!adminUrl) return;
  scratch = await createScratchDatabase(adminUrl, "stream");
  await createBigTable(scratch.url, BIG_MB);
  await createBigTable(scratch.url, 2, "medium");
  const sql = postgres(scratch.url, { max: 1, onnotice: () => {} });
  await sql`CREATE TABLE small (id int, note text)`;
  await sql`INSERT INTO small VALUES (1, 'one'), (2, '')`;
  await sql.end();
});

after(async () => {
  await scratch?.drop();
});

describe("the streaming contract", { skip: !adminUrl }, () => {
  let gateway: TestGateway;

  before(async () => {
    gateway = await startTestGateway({ HASURA_GRAPHQL_DATABASE_URL: scratch.url });
  });

  after(async () => {
    await gateway?.close();
  });

  test("an unreachable host fails before any output: 500 unexpected with pg_dump's stderr", async () => {
    const unreachable = new URL(scratch.url);
    unreachable.port = "1";
    const other = await startTestGateway({}, { default: unreachable.toString() });
    try {
      const response = await other.dump({ opts: ["--schema-only"] });
      assert.equal(response.status, 500);
      const body = (await response.json()) as Record<string, unknown>;
      assert.equal(body.code, "unexpected");
      assert.equal(body.error, "error while executing pg_dump");
      assert.match(String(body.internal), /connection to server .* failed/);
    } finally {
      await other.close();
    }
  });

  test("pg_dump's session killed mid-dump cuts the transfer instead of ending it", async () => {
    const response = await gateway.dump({ opts: ["-t", "big"] });
    assert.equal(response.status, 200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    assert.equal(first.done, false);

    // The reader has stopped, so pg_dump is held mid-table by the full pipe.
    const sessions = await pgDumpSessions(adminUrl as string, scratch.name);
    assert.equal(sessions.length, 1);
    await terminateSessions(adminUrl as string, sessions);

    const rest = await readAll(reader);
    assert.ok(rest.error !== undefined, "the body must fail, not end");
    assert.ok(!rest.text.includes(COMPLETE));
    assert.ok(rest.bytes < BIG_MB * 1024 * 1024);

    const logged = await waitFor(() => outcomes(gateway).includes("failed"), 5000);
    assert.ok(logged, "the failure is logged with its outcome");
    const entry = gateway.logs.find((log) => pgDumpOf(log)?.outcome === "failed");
    assert.match(String(pgDumpOf(entry)?.stderr), /terminat/);
  });

  test("on the wire the cut transfer is an error for curl (exit 18 or 56)", {
    skip: !hasCurl() && "curl is not installed",
  }, async () => {
    const result = await curlWhileTerminating(gateway, []);
    assert.ok([18, 56].includes(result.code), `curl exit ${result.code}: ${result.stderr}`);
  });

  test("a client that disconnects after 1 MB leaves no pg_dump and no session within 2 s", async () => {
    const controller = new AbortController();
    const started = gateway.children.length;
    const response = await fetch(`${gateway.url}/v1alpha1/pg_dump`, {
      method: "POST",
      headers: { "accept-encoding": "identity" },
      body: JSON.stringify({ opts: ["-t", "big"] }),
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let received = 0;
    while (received < 1024 * 1024) {
      const { done, value } = await reader.read();
      assert.equal(done, false);
      received += value?.byteLength ?? 0;
    }
    const child = gateway.children[started];
    assert.ok(child?.pid !== undefined);
    if (gateway.pgDumps.launcher !== undefined) {
      // stdbuf has exec'd pg_dump, which now writes through a 64 KiB buffer.
      const environ = readFileSync(`/proc/${child.pid}/environ`, "utf8").split("\0");
      assert.ok(environ.includes("_STDBUF_O=65536"));
      assert.match(readFileSync(`/proc/${child.pid}/cmdline`, "utf8"), /pg_dump/);
    }
    controller.abort();
    await reader.cancel().catch(() => {});

    const gone = await waitFor(async () => {
      const sessions = await pgDumpSessions(adminUrl as string, scratch.name);
      return !processAlive(child.pid as number) && sessions.length === 0;
    }, 2000);
    assert.ok(gone, "pg_dump reaped and its session closed within 2 s");
    await waitFor(() => outcomes(gateway).includes("aborted-by-client"), 2000);
    assert.ok(outcomes(gateway).includes("aborted-by-client"));
  });

  test("a client reading at 1 MB/s holds pg_dump back and keeps memory flat", {
    skip: !hasCurl() && "curl is not installed",
  }, async () => {
    const started = gateway.children.length;
    const rss: number[] = [];
    let curlPid = 0;
    const run = curl(
      [
        "--limit-rate",
        "1M",
        "--max-time",
        "8",
        "-X",
        "POST",
        `${gateway.url}/v1alpha1/pg_dump`,
        "-d",
        JSON.stringify({ opts: ["-t", "big"] }),
      ],
      (pid) => {
        curlPid = pid;
      },
    );
    await waitFor(() => gateway.children.length > started, 5000);
    const child = gateway.children[started];
    assert.ok(child?.pid !== undefined && curlPid > 0);
    await sleep(1000);
    const baseline = process.memoryUsage().rss;
    let backlog = 0;
    for (let second = 0; second < 12 && processAlive(curlPid); second++) {
      await sleep(500);
      rss.push(process.memoryUsage().rss - baseline);
      if (processAlive(child.pid as number)) backlog = bytesWritten(child.pid as number);
    }
    const result = await run;
    // curl stopped at --max-time: exit 28, a partial body.
    assert.equal(result.code, 28);
    assert.ok(result.bytes < 16 * 1024 * 1024, `curl read ${result.bytes} bytes`);
    // pg_dump wrote little more than curl read: the pipe held it back.
    const ahead = backlog - result.bytes;
    assert.ok(ahead < 24 * 1024 * 1024, `pg_dump ran ${ahead} bytes ahead of the client`);
    const peak = Math.max(...rss);
    assert.ok(peak < 48 * 1024 * 1024, `RSS grew by ${peak} bytes while streaming`);
  });

  test("a slow client of a gzip response holds pg_dump back too", {
    skip: !hasCurl() && "curl is not installed",
  }, async () => {
    const started = gateway.children.length;
    const run = curl([
      "--compressed",
      "--limit-rate",
      "50K",
      "--max-time",
      "6",
      "-X",
      "POST",
      `${gateway.url}/v1alpha1/pg_dump`,
      "-d",
      JSON.stringify({ opts: ["-t", "big"] }),
    ]);
    assert.ok(await waitFor(() => gateway.children.length > started, 5000));
    const pid = gateway.children[started]?.pid as number;
    await sleep(5000);
    // Unchecked, pg_dump would have written the whole table within a second or two. The
    // kernel's socket buffers hold compressed bytes, so how far it got depends on how
    // well the data compresses; that it has not finished is what shows the hold.
    assert.ok(processAlive(pid), "pg_dump is still held back by the slow client");
    assert.ok(bytesWritten(pid) < BIG_MB * 1024 * 1024);
    const result = await run;
    assert.equal(result.code, 28, "curl stopped at --max-time with the dump unfinished");
  });

  test("a gzip response whose dump fails mid-way is cut, not ended", {
    skip: !hasCurl() && "curl is not installed",
  }, async () => {
    const result = await curlWhileTerminating(gateway, ["--compressed"]);
    assert.ok([18, 56].includes(result.code), `curl exit ${result.code}: ${result.stderr}`);
  });

  test("gzip responses decompress to the same bytes as uncompressed ones", async () => {
    const body = { opts: ["-t", "medium", "--restrict-key=gzipkey"], clean_output: true };
    const plain = Buffer.from(await (await gateway.dump(body)).arrayBuffer());
    const raw = await rawPost(`${gateway.url}/v1alpha1/pg_dump`, JSON.stringify(body), {
      "accept-encoding": "gzip",
    });
    assert.equal(raw.status, 200);
    assert.equal(raw.headers["content-encoding"], "gzip");
    assert.equal(raw.body[0], 0x1f);
    assert.equal(raw.body[1], 0x8b);
    assert.ok(raw.body.length < plain.length / 2, "the stream is really compressed");
    assert.ok(gunzipSync(raw.body).equals(plain));
  });

  test("responses carry download, cache and request-id headers", async () => {
    const response = await gateway.dump({ opts: ["-t", "small"] }, { "x-request-id": "abc-123" });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-request-id"), "abc-123");
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.match(
      response.headers.get("content-disposition") ?? "",
      /^attachment; filename="default-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.sql"$/,
    );
    await response.arrayBuffer();
    const generated = await gateway.dump({ opts: ["-t", "small"] });
    assert.match(generated.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
    await generated.arrayBuffer();
  });

  test("each request writes one http-log line with the dump's outcome and size", async () => {
    const response = await gateway.dump({ opts: ["-t", "small"] }, { "x-request-id": "log-1" });
    const text = await response.text();
    const mine = () =>
      gateway.logs.filter((log) => (log.detail as { request_id?: string }).request_id === "log-1");
    assert.ok(await waitFor(() => mine().length > 0, 2000));
    assert.equal(mine().length, 1);
    const entry = mine()[0];
    assert.equal(entry?.type, "http-log");
    const detail = entry?.detail as Record<string, Record<string, unknown>>;
    assert.equal(detail.request_id as unknown, "log-1");
    assert.equal(detail.http_info?.status, 200);
    const dump = pgDumpOf(entry);
    assert.equal(dump?.outcome, "complete");
    assert.equal(dump?.bytes, Buffer.byteLength(text));
  });
});

describe("silences, limits and time-outs", { skip: !adminUrl }, () => {
  /** Holds an ACCESS EXCLUSIVE lock on `small` until the returned function is called. */
  const lockSmall = async (): Promise<() => Promise<void>> => {
    const sql = postgres(scratch.url, { max: 1, onnotice: () => {} });
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked: () => void = () => {};
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const transaction = sql.begin(async (tx) => {
      await tx`LOCK TABLE small IN ACCESS EXCLUSIVE MODE`;
      locked();
      await released;
    });
    await isLocked;
    return async () => {
      release();
      await transaction;
      await sql.end();
    };
  };

  test("a dump silent for 30 s behind a lock still completes once the lock goes", async () => {
    const gateway = await startTestGateway({ HASURA_GRAPHQL_DATABASE_URL: scratch.url });
    const unlock = await lockSmall();
    try {
      const pending = gateway.dump({ opts: ["-t", "small"] });
      await sleep(31_000);
      assert.equal(gateway.children.length, 1);
      assert.ok(processAlive(gateway.children[0]?.pid as number), "pg_dump still waiting");
      await unlock();
      const response = await pending;
      assert.equal(response.status, 200);
      const text = await response.text();
      assert.match(text, /COPY public\.small \(id, note\) FROM stdin;\n1\tone\n2\t\n\\\.\n/);
      assert.ok(text.includes(COMPLETE));
    } finally {
      await unlock();
      await gateway.close();
    }
  });

  test("a client that leaves while pg_dump waits for a lock gets its pg_dump stopped", async () => {
    const gateway = await startTestGateway({ HASURA_GRAPHQL_DATABASE_URL: scratch.url });
    const unlock = await lockSmall();
    try {
      const controller = new AbortController();
      const pending = fetch(`${gateway.url}/v1alpha1/pg_dump`, {
        method: "POST",
        body: JSON.stringify({ opts: ["-t", "small"] }),
        signal: controller.signal,
      }).catch((error: unknown) => error);
      assert.ok(await waitFor(() => gateway.children.length === 1, 5000));
      const pid = gateway.children[0]?.pid as number;
      await sleep(300);
      controller.abort();
      await pending;
      const gone = await waitFor(async () => {
        const sessions = await pgDumpSessions(adminUrl as string, scratch.name);
        return !processAlive(pid) && sessions.length === 0;
      }, 2000);
      assert.ok(gone, "pg_dump stopped and its session closed within 2 s");
    } finally {
      await unlock();
      await gateway.close();
    }
  });

  test("over the concurrency limit: 503 with Retry-After in Hasura's shape", async () => {
    const gateway = await startTestGateway({
      HASURA_GRAPHQL_DATABASE_URL: scratch.url,
      PGDUMP_GATEWAY_MAX_CONCURRENT_DUMPS: "1",
    });
    const unlock = await lockSmall();
    try {
      const first = gateway.dump({ opts: ["-t", "small"] });
      await waitFor(() => gateway.children.length === 1, 5000);
      const second = await gateway.dump({ opts: ["-t", "small"] });
      assert.equal(second.status, 503);
      assert.equal(second.headers.get("retry-after"), "5");
      const body = (await second.json()) as Record<string, unknown>;
      assert.equal(body.code, "service-unavailable");
      assert.equal(body.path, "$");
      assert.equal(gateway.children.length, 1, "the refused request started no pg_dump");
      await unlock();
      assert.equal((await first).status, 200);
      await (await first).text();
      const third = await gateway.dump({ opts: ["-t", "small"] });
      assert.equal(third.status, 200, "the slot is free again");
      await third.text();
    } finally {
      await unlock();
      await gateway.close();
    }
  });

  test("the time limit cuts a dump that is streaming", async () => {
    const gateway = await startTestGateway({
      HASURA_GRAPHQL_DATABASE_URL: scratch.url,
      PGDUMP_GATEWAY_DUMP_TIMEOUT_SECONDS: "2",
    });
    try {
      const response = await gateway.dump({ opts: ["-t", "big"] });
      assert.equal(response.status, 200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      await reader.read();
      await sleep(3000);
      const rest = await readAll(reader);
      assert.ok(rest.error !== undefined, "the body must fail, not end");
      assert.ok(!rest.text.includes(COMPLETE));
      const pid = gateway.children[0]?.pid as number;
      assert.ok(await waitFor(() => !processAlive(pid), 3000));
      assert.ok(await waitFor(() => outcomes(gateway).includes("timed-out"), 3000));
    } finally {
      await gateway.close();
    }
  });

  test("the time limit before any output answers 500 and stops pg_dump", async () => {
    const gateway = await startTestGateway({
      HASURA_GRAPHQL_DATABASE_URL: scratch.url,
      PGDUMP_GATEWAY_DUMP_TIMEOUT_SECONDS: "1",
    });
    const unlock = await lockSmall();
    try {
      const response = await gateway.dump({ opts: ["-t", "small"] });
      assert.equal(response.status, 500);
      const body = (await response.json()) as Record<string, unknown>;
      assert.equal(body.code, "unexpected");
      assert.match(String(body.error), /time limit/);
      const pid = gateway.children[0]?.pid as number;
      assert.ok(await waitFor(() => !processAlive(pid), 3000));
    } finally {
      await unlock();
      await gateway.close();
    }
  });
});

/**
 * Downloads the big table with curl at 2 MB/s and, once pg_dump has written its first
 * megabyte (so the dump is under way and far from done), ends pg_dump's database session.
 */
const curlWhileTerminating = async (gateway: TestGateway, curlArgs: string[]) => {
  const started = gateway.children.length;
  let terminated = 0;
  const terminating = (async () => {
    await waitFor(() => gateway.children.length > started, 5000);
    const pid = gateway.children[started]?.pid as number;
    await waitFor(() => processAlive(pid) && bytesWritten(pid) > 1024 * 1024, 5000);
    const sessions = await pgDumpSessions(adminUrl as string, scratch.name);
    await terminateSessions(adminUrl as string, sessions);
    terminated = sessions.length;
  })();
  const result = await curl([
    ...curlArgs,
    "--limit-rate",
    "2M",
    "-X",
    "POST",
    `${gateway.url}/v1alpha1/pg_dump`,
    "-d",
    JSON.stringify({ opts: ["-t", "big"] }),
  ]);
  await terminating;
  assert.equal(terminated, 1, "pg_dump's session was ended mid-dump");
  return result;
};

type LogEntry = TestGateway["logs"][number];

const pgDumpOf = (entry: LogEntry | undefined): Record<string, unknown> | undefined =>
  (entry?.detail as { operation?: { pg_dump?: Record<string, unknown> } } | undefined)?.operation
    ?.pg_dump;

const outcomes = (gateway: TestGateway): unknown[] =>
  gateway.logs.map((entry) => pgDumpOf(entry)?.outcome).filter((outcome) => outcome !== undefined);

/** A POST through node:http, which hands back the body exactly as sent (no decoding). */
const rawPost = (
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> =>
  new Promise((resolve, reject) => {
    const outgoing = request(url, { method: "POST", headers }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("end", () =>
        resolve({
          status: incoming.statusCode ?? 0,
          headers: incoming.headers,
          body: Buffer.concat(chunks),
        }),
      );
      incoming.on("error", reject);
    });
    outgoing.on("error", reject);
    outgoing.end(body);
  });
