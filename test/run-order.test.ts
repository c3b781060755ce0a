import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startDump } from "../src/pgdump/run.ts";
import type { ChildProcess, SpawnProcess } from "../src/runtime/process.ts";

const encoder = new TextEncoder();

/**
 * A stand-in for pg_dump whose exit is reported before its output can be read. A real
 * pg_dump gets there only now and then, depending on the scheduler, so these tests fake
 * the process to make the order certain.
 */
const exitsBeforeOutput =
  (chunks: string[], code: number): SpawnProcess =>
  async (): Promise<ChildProcess> => ({
    pid: undefined,
    stdout: new ReadableStream<Uint8Array>({
      start: async (controller) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
        controller.close();
      },
    }),
    stderr: new ReadableStream<Uint8Array>({
      start: (controller) => {
        if (code !== 0) controller.enqueue(encoder.encode("pg_dump: error: boom\n"));
        controller.close();
      },
    }),
    exited: Promise.resolve({ code, signal: null }),
    kill: () => {},
  });

const plan = {
  source: { name: "default", connectionString: "postgres://app:pw@127.0.0.1:5432/shop" },
  options: [],
  cleanOutput: false,
};

describe("the first output chunk when pg_dump's exit is seen first (stand-in process)", () => {
  test("no chunk is lost", async () => {
    const dump = await startDump(plan, {
      spawn: exitsBeforeOutput(["first\n", "second\n"], 0),
      pgDumpPath: "pg_dump",
      baseEnv: {},
    });
    await dump.ready;
    assert.equal(await new Response(dump.body).text(), "first\nsecond\n");
    assert.equal((await dump.result).outcome, "complete");
  });

  test("a failed exit is still an error response, whatever was written", async () => {
    const dump = await startDump(plan, {
      spawn: exitsBeforeOutput(["partial\n"], 1),
      pgDumpPath: "pg_dump",
      baseEnv: {},
    });
    await assert.rejects(dump.ready, (error: Error & { status?: number; internal?: unknown }) => {
      assert.equal(error.status, 500);
      assert.match(String(error.internal), /boom/);
      return true;
    });
  });
});
