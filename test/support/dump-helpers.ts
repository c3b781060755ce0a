/**
 * Helpers for tests of the streaming contract: a big table, slow and stalling readers,
 * and looks at processes and database sessions.
 */

import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import postgres from "postgres";
import { isProcessRunning } from "../../src/embedded/cluster.ts";

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Creates a table (`big` unless named) with about `megabytes` MB of COPY output. */
export const createBigTable = async (
  url: string,
  megabytes: number,
  name = "big",
): Promise<void> => {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    // Each row is about 105 bytes in COPY text format.
    const rows = Math.ceil((megabytes * 1024 * 1024) / 105);
    await sql.unsafe(
      `CREATE TABLE ${name} AS SELECT g AS id, repeat(md5(g::text), 3) AS payload
       FROM generate_series(1, ${rows}) AS g`,
    );
  } finally {
    await sql.end();
  }
};

/** pg_dump sessions connected to the database behind `url`. */
export const pgDumpSessions = async (adminUrl: string, database: string): Promise<number[]> => {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ pid: number }[]>`
      SELECT pid FROM pg_stat_activity
      WHERE datname = ${database} AND application_name = 'pg_dump'`;
    return rows.map((row) => row.pid);
  } finally {
    await sql.end();
  }
};

export const terminateSessions = async (adminUrl: string, pids: number[]): Promise<void> => {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    for (const pid of pids) await sql`SELECT pg_terminate_backend(${pid})`;
  } finally {
    await sql.end();
  }
};

/** True while a process exists and is not a zombie. */
export const processAlive = isProcessRunning;

/** Bytes a process has written so far (all file descriptors), from /proc. */
export const bytesWritten = (pid: number): number => {
  const io = readFileSync(`/proc/${pid}/io`, "utf8");
  return Number(/^wchar: (\d+)$/m.exec(io)?.[1] ?? 0);
};

/** Polls `check` until it is true or `ms` pass; returns its last answer. */
export const waitFor = async (
  check: () => boolean | Promise<boolean>,
  ms: number,
): Promise<boolean> => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(50);
  }
  return check();
};

/** Reads a body to the end; returns the bytes, or the error it failed with. */
export const readAll = async (
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<{ bytes: number; text: string; error?: unknown }> => {
  const decoder = new TextDecoder();
  let bytes = 0;
  let tail = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { bytes, text: tail };
      bytes += value.byteLength;
      tail = (tail + decoder.decode(value, { stream: true })).slice(-4096);
    }
  } catch (error) {
    return { bytes, text: tail, error };
  }
};

/** Runs curl; resolves with its exit code and how many body bytes it got. */
export const curl = (
  args: string[],
  onStart?: (pid: number) => void,
): Promise<{ code: number; bytes: number; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn("curl", ["-sS", "-o", "/dev/null", "-w", "%{size_download}", ...args]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once("error", reject);
    child.once("spawn", () => onStart?.(child.pid ?? 0));
    child.once("close", (code) => resolve({ code: code ?? -1, bytes: Number(stdout), stderr }));
  });

export const hasCurl = (): boolean =>
  (process.env.PATH ?? "").split(":").some((dir) => existsSync(`${dir}/curl`));
