import assert from "node:assert/strict";
import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { createScratchDatabase, type ScratchDatabase } from "./support/database.ts";
import { createBigTable, pgDumpSessions, readAll, sleep, waitFor } from "./support/dump-helpers.ts";
import { runtimeName } from "./support/gateway.ts";

const adminUrl = process.env.TEST_DATABASE_URL;
const COMPLETE = "-- PostgreSQL database dump complete";

/** The real entry point of the runtime running this test, as a separate process. */
const entryCommand = (): string[] => {
  switch (runtimeName()) {
    case "bun":
      return [process.execPath, "src/main/bun.ts"];
    case "deno":
      return [process.execPath, "run", "--unstable-no-legacy-abort", "-A", "src/main/deno.ts"];
    default:
      return [process.execPath, "--import", "tsx", "src/main/node.ts"];
  }
};

interface GatewayProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

const startGatewayProcess = async (env: Record<string, string>): Promise<GatewayProcess> => {
  const [command, ...args] = entryCommand() as [string, ...string[]];
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const listening = await waitFor(() => /"port":\d+/.test(output), 30_000);
  assert.ok(listening, `the gateway did not start:\n${output}`);
  const port = /"message":"pg_dump gateway listening".*?"port":(\d+)/.exec(output)?.[1];
  return { child, url: `http://127.0.0.1:${port}`, output: () => output, exited };
};

/** The gateway on a free loopback port, with the given shutdown grace period. */
const startWithGrace = (databaseUrl: string, graceSeconds: number): Promise<GatewayProcess> =>
  startGatewayProcess({
    HASURA_GRAPHQL_DATABASE_URL: databaseUrl,
    HASURA_GRAPHQL_SERVER_PORT: "0",
    HASURA_GRAPHQL_SERVER_HOST: "127.0.0.1",
    PGDUMP_GATEWAY_SHUTDOWN_GRACE_SECONDS: String(graceSeconds),
  });

const startDump = async (url: string) => {
  const response = await fetch(`${url}/v1alpha1/pg_dump`, {
    method: "POST",
    headers: { "accept-encoding": "identity" },
    body: JSON.stringify({ opts: ["-t", "big"] }),
  });
  assert.equal(response.status, 200);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  assert.equal((await reader.read()).done, false);
  return reader;
};

/**
 * Sends SIGTERM past the child handle: Deno's child_process reports a child it signalled
 * through kill() as ended by that signal, even when the child handled it and exited 0.
 */
const terminate = (gateway: GatewayProcess): void => {
  process.kill(gateway.child.pid as number, "SIGTERM");
};

const exitsWithin = async (gateway: GatewayProcess, ms: number): Promise<number | null> =>
  Promise.race([gateway.exited, sleep(ms).then(() => "still running" as const)]).then((code) => {
    assert.notEqual(code, "still running", `the gateway did not exit:\n${gateway.output()}`);
    return code as number | null;
  });

describe("SIGTERM on the real gateway process", { skip: !adminUrl }, () => {
  let scratch: ScratchDatabase;

  before(async () => {
    scratch = await createScratchDatabase(adminUrl as string, "shutdown");
    await createBigTable(scratch.url, 48);
  });

  after(async () => {
    await scratch?.drop();
  });

  test("a running dump finishes within the grace period, then the process exits 0", async () => {
    const gateway = await startWithGrace(scratch.url, 30);
    try {
      const reader = await startDump(gateway.url);
      terminate(gateway);
      await sleep(500);

      const refused = await fetch(`${gateway.url}/v1alpha1/pg_dump`, {
        method: "POST",
        body: JSON.stringify({ opts: ["-t", "big"] }),
      }).then(
        (response) => response.status,
        () => "refused",
      );
      assert.ok(refused === "refused" || refused === 503, `a new dump got ${refused}`);

      const rest = await readAll(reader);
      assert.equal(rest.error, undefined);
      assert.ok(rest.text.includes(COMPLETE), "the running dump completed");
      assert.equal(await exitsWithin(gateway, 10_000), 0);
      // The server ends a backend shortly after its client has gone.
      const closed = await waitFor(
        async () => (await pgDumpSessions(adminUrl as string, scratch.name)).length === 0,
        2000,
      );
      assert.ok(closed, "pg_dump's session is gone");
    } finally {
      gateway.child.kill("SIGKILL");
    }
  });

  test("a dump still running when the grace period ends is cut, then the process exits", async () => {
    const gateway = await startWithGrace(scratch.url, 1);
    try {
      const reader = await startDump(gateway.url);
      terminate(gateway);
      // The reader stalls past the grace period, so the dump cannot finish in time.
      await sleep(2500);
      const rest = await readAll(reader);
      assert.ok(rest.error !== undefined, "the body must fail, not end");
      assert.ok(!rest.text.includes(COMPLETE));
      assert.equal(await exitsWithin(gateway, 10_000), 0);
      assert.match(gateway.output(), /grace period over/);
      const closed = await waitFor(
        async () => (await pgDumpSessions(adminUrl as string, scratch.name)).length === 0,
        2000,
      );
      assert.ok(closed, "pg_dump's session is gone");
    } finally {
      gateway.child.kill("SIGKILL");
    }
  });
});
