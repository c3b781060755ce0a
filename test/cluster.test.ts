import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import postgres from "postgres";
import { isProcessRunning } from "../src/embedded/cluster.ts";
import { createScratchDatabase, startTestDatabase } from "./support/database.ts";

test("a test database serves scratch databases, checks passwords, then vanishes", async () => {
  const database = await startTestDatabase();
  let server: { dataDir: string; pid: number } | undefined;

  try {
    const scratch = await createScratchDatabase(database.url, "cluster_test");
    try {
      assert.deepEqual(await query(scratch.url, "select 1 as one"), [{ one: 1 }]);
    } finally {
      await scratch.drop();
    }
    const names = await query(database.url, "select datname from pg_database");
    assert.ok(!names.some((row) => row.datname === scratch.name), "scratch database dropped");

    if (database.kind !== "env") {
      const wrong = new URL(database.url);
      wrong.password = "not-the-password";
      // 28P01 is invalid_password: the server asked for one and refused it.
      await assert.rejects(query(wrong.toString(), "select 1"), { code: "28P01" });
    }

    if (database.kind === "local") server = await inspectServer(database.url);
  } finally {
    await database.stop();
  }

  if (server) {
    assert.equal(existsSync(server.dataDir), false, "data directory removed");
    assert.equal(isProcessRunning(server.pid), false, "postmaster stopped");
  }
});

const query = async (url: string, text: string) => {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return [...(await sql.unsafe(text))];
  } finally {
    await sql.end();
  }
};

/** Reads where the server keeps its files, and its postmaster pid, while it runs. */
const inspectServer = async (url: string) => {
  const [row] = await query(url, "select current_setting('data_directory') as dir");
  const dataDir = String(row?.dir);
  const pid = Number(readFileSync(`${dataDir}/postmaster.pid`, "utf8").split("\n")[0]);
  assert.ok(isProcessRunning(pid), "postmaster runs before stop");
  return { dataDir, pid };
};
