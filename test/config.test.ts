/**
 * Configuration from Hasura's environment variables: what loadConfig accepts and refuses,
 * what the enabled APIs do to the routes, and how the real entry point reacts to a bad value.
 */

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError, type Env, loadConfig } from "../src/config/env.ts";
import { findFreePort } from "../src/embedded/cluster.ts";
import { runtimeName, startTestGateway } from "./support/gateway.ts";

// No test here runs pg_dump, so the source only has to be a well-formed URL.
const UNUSED_DATABASE_URL = "postgres://nobody:unused@127.0.0.1:1/none";

const ALLOWED_NAMES = "metadata, graphql, pgdump, developer, config, metrics";

/** Generous: tsx and deno compile the sources on start, on a busy 2-core machine. */
const START_TIMEOUT_MS = 60_000;

/** How long a gateway gets to stop on SIGTERM before the test kills it outright. */
const STOP_GRACE_MS = 10_000;

describe("loadConfig defaults", () => {
  test("an empty environment gives Hasura's defaults", () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.host, "0.0.0.0");
    assert.deepEqual(sorted(config.enabledApis), ["config", "graphql", "metadata", "pgdump"]);
    assert.deepEqual(config.adminSecrets, []);
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.unauthorizedRole, undefined);
    assert.equal(config.externalAuth, false);
  });

  test("empty values count as unset", () => {
    const config = loadConfig({
      HASURA_GRAPHQL_SERVER_PORT: "",
      HASURA_GRAPHQL_ENABLED_APIS: " ",
      HASURA_GRAPHQL_ADMIN_SECRET: "",
      HASURA_GRAPHQL_DATABASE_URL: "",
    });
    assert.equal(config.port, 8080);
    assert.deepEqual(sorted(config.enabledApis), ["config", "graphql", "metadata", "pgdump"]);
    assert.deepEqual(config.adminSecrets, []);
    assert.equal(config.databaseUrl, undefined);
  });

  test("host, port, database URL and unauthorized role are read as given", () => {
    const config = loadConfig({
      HASURA_GRAPHQL_SERVER_HOST: "127.0.0.1",
      HASURA_GRAPHQL_SERVER_PORT: "9090",
      HASURA_GRAPHQL_DATABASE_URL: "postgresql://app:pw@db.internal:5432/shop",
      HASURA_GRAPHQL_UNAUTHORIZED_ROLE: "anonymous",
    });
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.port, 9090);
    assert.equal(config.databaseUrl, "postgresql://app:pw@db.internal:5432/shop");
    assert.equal(config.unauthorizedRole, "anonymous");
  });

  test('host "*" means every interface', () => {
    assert.equal(loadConfig({ HASURA_GRAPHQL_SERVER_HOST: "*" }).host, "0.0.0.0");
  });

  test("every configured admin secret is accepted, deprecated access key included", () => {
    const config = loadConfig({
      HASURA_GRAPHQL_ADMIN_SECRETS: '["one","two"]',
      HASURA_GRAPHQL_ADMIN_SECRET: "three",
      HASURA_GRAPHQL_ACCESS_KEY: "four",
    });
    assert.deepEqual([...config.adminSecrets].sort(), ["four", "one", "three", "two"]);
  });

  test("JWT with an admin secret is external auth", () => {
    const config = loadConfig({
      HASURA_GRAPHQL_JWT_SECRET: '{"type":"HS256","key":"0123456789abcdef0123456789abcdef"}',
      HASURA_GRAPHQL_ADMIN_SECRET: "s",
    });
    assert.equal(config.externalAuth, true);
  });
});

describe("HASURA_GRAPHQL_ENABLED_APIS is trimmed and case-insensitive", () => {
  const CASES: readonly (readonly [value: string, apis: readonly string[]])[] = [
    ["graphql,metadata", ["graphql", "metadata"]],
    [" GraphQL , PGDUMP ,metadata ", ["graphql", "metadata", "pgdump"]],
    ["pgdump,,config,", ["config", "pgdump"]],
    ["METRICS,Developer", ["developer", "metrics"]],
    ["pgdump", ["pgdump"]],
  ];

  for (const [value, apis] of CASES) {
    test(JSON.stringify(value), () => {
      const config = loadConfig({ HASURA_GRAPHQL_ENABLED_APIS: value });
      assert.deepEqual(sorted(config.enabledApis), apis);
    });
  }
});

describe("a bad value is a ConfigError that names the variable", () => {
  const CASES: readonly (readonly [title: string, env: Env, mustSay: readonly RegExp[]])[] = [
    [
      "an unknown API name",
      { HASURA_GRAPHQL_ENABLED_APIS: "graphql,bogus" },
      [/^HASURA_GRAPHQL_ENABLED_APIS: /, /bogus/, new RegExp(`allowed names: ${ALLOWED_NAMES}`)],
    ],
    [
      "pg_dump spelled with an underscore",
      { HASURA_GRAPHQL_ENABLED_APIS: "pg_dump" },
      [/^HASURA_GRAPHQL_ENABLED_APIS: /, /pg_dump/, new RegExp(ALLOWED_NAMES)],
    ],
    [
      "API names separated by semicolons",
      { HASURA_GRAPHQL_ENABLED_APIS: "graphql;metadata" },
      [/^HASURA_GRAPHQL_ENABLED_APIS: /, new RegExp(ALLOWED_NAMES)],
    ],
    [
      "a port that is a word",
      { HASURA_GRAPHQL_SERVER_PORT: "http" },
      [/^HASURA_GRAPHQL_SERVER_PORT: /],
    ],
    [
      "a port in hexadecimal",
      { HASURA_GRAPHQL_SERVER_PORT: "0x1F90" },
      [/^HASURA_GRAPHQL_SERVER_PORT: expected a whole number/],
    ],
    [
      "a port in exponent notation",
      { HASURA_GRAPHQL_SERVER_PORT: "1e3" },
      [/^HASURA_GRAPHQL_SERVER_PORT: expected a whole number/],
    ],
    [
      "a limit in exponent notation",
      { PGDUMP_GATEWAY_MAX_CONCURRENT_DUMPS: "1e1" },
      [/^PGDUMP_GATEWAY_MAX_CONCURRENT_DUMPS: expected a whole number/],
    ],
    [
      "a port above 65535",
      { HASURA_GRAPHQL_SERVER_PORT: "70000" },
      [/^HASURA_GRAPHQL_SERVER_PORT: /],
    ],
    ["a negative port", { HASURA_GRAPHQL_SERVER_PORT: "-1" }, [/^HASURA_GRAPHQL_SERVER_PORT: /]],
    [
      "a fractional port",
      { HASURA_GRAPHQL_SERVER_PORT: "80.5" },
      [/^HASURA_GRAPHQL_SERVER_PORT: /],
    ],
    [
      "a port with trailing text",
      { HASURA_GRAPHQL_SERVER_PORT: "8080abc" },
      [/^HASURA_GRAPHQL_SERVER_PORT: /],
    ],
    [
      "a database URL of another scheme",
      { HASURA_GRAPHQL_DATABASE_URL: "mysql://app:pw@db/shop" },
      [/^HASURA_GRAPHQL_DATABASE_URL: /, /postgres:\/\//],
    ],
    [
      "a database URL that is not a URL",
      { HASURA_GRAPHQL_DATABASE_URL: "db.internal:5432/shop" },
      [/^HASURA_GRAPHQL_DATABASE_URL: /],
    ],
    [
      "JWT and webhook together",
      {
        HASURA_GRAPHQL_ADMIN_SECRET: "s",
        HASURA_GRAPHQL_JWT_SECRET: '{"type":"HS256","key":"0123456789abcdef0123456789abcdef"}',
        HASURA_GRAPHQL_AUTH_HOOK: "http://127.0.0.1:1/hook",
      },
      [/HASURA_GRAPHQL_JWT_SECRET/, /HASURA_GRAPHQL_AUTH_HOOK/],
    ],
    [
      "JWT without an admin secret",
      { HASURA_GRAPHQL_JWT_SECRET: '{"type":"HS256","key":"0123456789abcdef0123456789abcdef"}' },
      [/^HASURA_GRAPHQL_JWT_SECRET: /, /HASURA_GRAPHQL_ADMIN_SECRET/],
    ],
    [
      "a webhook without an admin secret",
      { HASURA_GRAPHQL_AUTH_HOOK: "http://127.0.0.1:1/hook" },
      [/^HASURA_GRAPHQL_AUTH_HOOK: /, /HASURA_GRAPHQL_ADMIN_SECRET/],
    ],
    [
      "admin secrets that are not JSON",
      { HASURA_GRAPHQL_ADMIN_SECRETS: "one,two" },
      [/^HASURA_GRAPHQL_ADMIN_SECRETS: /, /JSON/],
    ],
    [
      "admin secrets that are not all strings",
      { HASURA_GRAPHQL_ADMIN_SECRETS: '["one", 2]' },
      [/^HASURA_GRAPHQL_ADMIN_SECRETS: /],
    ],
    ["no opts allowed at all", { PGDUMP_GATEWAY_MAX_OPTS: "0" }, [/^PGDUMP_GATEWAY_MAX_OPTS: /]],
    [
      "a body limit below 64 bytes",
      { PGDUMP_GATEWAY_MAX_BODY_BYTES: "10" },
      [/^PGDUMP_GATEWAY_MAX_BODY_BYTES: /],
    ],
  ];

  for (const [title, env, mustSay] of CASES) {
    test(title, () => {
      const message = configErrorOf(env);
      for (const pattern of mustSay) assert.match(message, pattern);
    });
  }

  // A start-up error goes to the log, so it must not repeat a secret it failed to read.
  test("the message does not repeat the secret values it refused", () => {
    const secret = "leak-canary-9f3b";
    const messages = [
      configErrorOf({ HASURA_GRAPHQL_DATABASE_URL: `mysql://app:${secret}@db/shop` }),
      configErrorOf({ HASURA_GRAPHQL_ADMIN_SECRETS: `["${secret}", 2]` }),
      configErrorOf({ HASURA_GRAPHQL_ADMIN_SECRETS: `${secret},other` }),
    ];
    for (const message of messages) assert.ok(!message.includes(secret), message);
  });
});

describe("HASURA_GRAPHQL_ENABLED_APIS over HTTP", () => {
  test("without pgdump the pg_dump route is Hasura's 404 and starts nothing", async () => {
    const gateway = await startTestGateway({
      HASURA_GRAPHQL_DATABASE_URL: UNUSED_DATABASE_URL,
      HASURA_GRAPHQL_ENABLED_APIS: "graphql,metadata",
    });
    try {
      const response = await gateway.dump({ opts: ["--schema-only"] });
      assert.equal(response.status, 404);
      assert.deepEqual(await response.json(), {
        path: "$",
        error: "resource does not exist",
        code: "not-found",
      });
      assert.equal(gateway.children.length, 0);
    } finally {
      await gateway.close();
    }
  });

  // A body that is not JSON gets the route's own 400, so no pg_dump is needed to tell that
  // the route exists.
  test("with pgdump written in odd case and spaces the route exists", async () => {
    const gateway = await startTestGateway({
      HASURA_GRAPHQL_DATABASE_URL: UNUSED_DATABASE_URL,
      HASURA_GRAPHQL_ENABLED_APIS: " GraphQL , PGDUMP ",
    });
    try {
      const response = await gateway.dump("{not json");
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { code: string }).code, "invalid-json");
      assert.equal(gateway.children.length, 0);
    } finally {
      await gateway.close();
    }
  });
});

describe(`the real entry point on ${runtimeName()}`, () => {
  test("refuses an unknown API name: exits non-zero, names the variable, never listens", async () => {
    const port = await findFreePort();
    const run = startEntryPoint({
      HASURA_GRAPHQL_DATABASE_URL: UNUSED_DATABASE_URL,
      HASURA_GRAPHQL_ENABLED_APIS: "graphql,bogus",
      HASURA_GRAPHQL_SERVER_PORT: String(port),
      HASURA_GRAPHQL_SERVER_HOST: "127.0.0.1",
    });
    const listened = probeUntilExit(run.child, port);
    const exit = await run.exited;

    assert.equal(exit.signal, null, `ended by a signal; output:\n${run.output()}`);
    assert.notEqual(exit.code, 0, `exit code; output:\n${run.output()}`);
    assert.match(run.output(), /HASURA_GRAPHQL_ENABLED_APIS/);
    assert.match(run.output(), new RegExp(`allowed names: ${ALLOWED_NAMES}`));
    assert.doesNotMatch(run.output(), /listening/);
    assert.equal(await listened, false, "something accepted connections on the port");
  });

  // The control for the test above: the same probe does see a gateway that starts.
  test("starts and listens when every API name is known", async () => {
    const port = await findFreePort();
    const run = startEntryPoint({
      HASURA_GRAPHQL_DATABASE_URL: UNUSED_DATABASE_URL,
      HASURA_GRAPHQL_ENABLED_APIS: "graphql, PGDUMP",
      HASURA_GRAPHQL_SERVER_PORT: String(port),
      HASURA_GRAPHQL_SERVER_HOST: "127.0.0.1",
    });
    try {
      const listened = probeUntilExit(run.child, port, () => run.output().includes("listening"));
      assert.equal(await listened, true, `never listened; output:\n${run.output()}`);
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(await response.text(), "OK");
    } finally {
      run.child.kill("SIGTERM");
      const timer = setTimeout(() => run.child.kill("SIGKILL"), STOP_GRACE_MS);
      await run.exited;
      clearTimeout(timer);
    }
  });
});

const sorted = (names: Iterable<string>): string[] => [...names].sort();

const configErrorOf = (env: Env): string => {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.message;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)}`);
};

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * The command that runs this runtime's entry point, from the binary that runs this test, so
 * the entry point meets the same runtime version. Node loads tsx in-process rather than
 * through `npx tsx`: npx's wrapper processes do not pass SIGTERM on, which would leave the
 * gateway running.
 */
const entryCommand = (): [string, string[]] => {
  switch (runtimeName()) {
    case "bun":
      return [process.execPath, ["src/main/bun.ts"]];
    case "deno":
      return [process.execPath, ["run", "-A", "src/main/deno.ts"]];
    default:
      return [process.execPath, ["--import", "tsx", "src/main/node.ts"]];
  }
};

interface EntryPointRun {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: string | null }>;
}

const startEntryPoint = (overrides: Record<string, string>): EntryPointRun => {
  // Hasura variables of the machine running the tests must not leak into the child.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("HASURA_GRAPHQL_")),
  );
  const [command, args] = entryCommand();
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...inherited, ...overrides },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  return { child, output: () => output, exited };
};

/**
 * Tries to connect to the port until the child exits (false: nothing ever answered) or a
 * connection succeeds and `enough` says so (true). Bounded by START_TIMEOUT_MS either way.
 */
const probeUntilExit = async (
  child: ChildProcess,
  port: number,
  enough: () => boolean = () => true,
): Promise<boolean> => {
  let running = true;
  child.once("close", () => {
    running = false;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (running && Date.now() < deadline) {
    if ((await canConnect(port)) && enough()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
};

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
