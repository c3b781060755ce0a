/**
 * Who may dump: each of Hasura's authentication cases for the pg_dump API, over HTTP, with
 * Hasura's exact status and body, and proof that a refused request starts no pg_dump.
 */

import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import type { HasuraErrorBody } from "../src/http/errors.ts";
import { createScratchDatabase, type ScratchDatabase } from "./support/database.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";

const adminUrl = process.env.TEST_DATABASE_URL;

// An empty scratch database makes this a dump of a few SET lines: cheap, and it succeeds.
const CHEAP_DUMP = { opts: ["--schema-only"] };
const DUMP_END = "-- PostgreSQL database dump complete";

const SECRET = "auth-test-secret-7Qw";
const OTHER_SECRET = "auth-test-second-secret-k2P";

const NOT_ADMIN: HasuraErrorBody = {
  path: "$",
  error: "You have to be an admin to access this endpoint",
  code: "access-denied",
};
const INVALID_SECRET: HasuraErrorBody = {
  path: "$",
  error: "invalid x-hasura-admin-secret/x-hasura-access-key",
  code: "access-denied",
};
const SECRET_REQUIRED: HasuraErrorBody = {
  path: "$",
  error: "x-hasura-admin-secret/x-hasura-access-key required, but not found",
  code: "access-denied",
};

type Expected = "dumps" | readonly [status: 400 | 401, body: HasuraErrorBody];

interface Case {
  name: string;
  headers: Readonly<Record<string, string>>;
  expected: Expected;
}

interface Setup {
  name: string;
  env: Readonly<Record<string, string>>;
  cases: readonly Case[];
}

const SETUPS: readonly Setup[] = [
  {
    name: "no admin secret configured",
    env: {},
    cases: [
      { name: "no headers", headers: {}, expected: "dumps" },
      { name: "X-Hasura-Role: admin", headers: { "X-Hasura-Role": "admin" }, expected: "dumps" },
      {
        name: "X-Hasura-Role: user",
        headers: { "X-Hasura-Role": "user" },
        expected: [400, NOT_ADMIN],
      },
      // Role names are case-sensitive in Hasura: only the exact name `admin` is the admin.
      {
        name: "X-Hasura-Role: Admin",
        headers: { "X-Hasura-Role": "Admin" },
        expected: [400, NOT_ADMIN],
      },
      {
        name: "a secret header, ignored while none is configured",
        headers: { "x-hasura-admin-secret": "whatever" },
        expected: "dumps",
      },
    ],
  },
  {
    name: "HASURA_GRAPHQL_ADMIN_SECRET configured",
    env: { HASURA_GRAPHQL_ADMIN_SECRET: SECRET },
    cases: [
      { name: "nothing sent", headers: {}, expected: [401, SECRET_REQUIRED] },
      {
        name: "only X-Hasura-Role: admin",
        headers: { "X-Hasura-Role": "admin" },
        expected: [401, SECRET_REQUIRED],
      },
      {
        name: "a wrong secret",
        headers: { "x-hasura-admin-secret": "wrong" },
        expected: [401, INVALID_SECRET],
      },
      {
        name: "the secret in another case",
        headers: { "x-hasura-admin-secret": SECRET.toUpperCase() },
        expected: [401, INVALID_SECRET],
      },
      {
        name: "a prefix of the secret",
        headers: { "x-hasura-admin-secret": SECRET.slice(0, -1) },
        expected: [401, INVALID_SECRET],
      },
      { name: "the right secret", headers: { "x-hasura-admin-secret": SECRET }, expected: "dumps" },
      {
        name: "the right secret and X-Hasura-Role: admin",
        headers: { "x-hasura-admin-secret": SECRET, "X-Hasura-Role": "admin" },
        expected: "dumps",
      },
      {
        name: "the right secret and X-Hasura-Role: user",
        headers: { "x-hasura-admin-secret": SECRET, "X-Hasura-Role": "user" },
        expected: [400, NOT_ADMIN],
      },
      {
        name: "the right secret as x-hasura-access-key",
        headers: { "x-hasura-access-key": SECRET },
        expected: "dumps",
      },
      {
        name: "a wrong secret as x-hasura-access-key",
        headers: { "x-hasura-access-key": "wrong" },
        expected: [401, INVALID_SECRET],
      },
      {
        name: "the right secret as x-hasura-access-key and X-Hasura-Role: user",
        headers: { "x-hasura-access-key": SECRET, "X-Hasura-Role": "user" },
        expected: [400, NOT_ADMIN],
      },
    ],
  },
  {
    name: "deprecated HASURA_GRAPHQL_ACCESS_KEY configured",
    env: { HASURA_GRAPHQL_ACCESS_KEY: SECRET },
    cases: [
      { name: "nothing sent", headers: {}, expected: [401, SECRET_REQUIRED] },
      {
        name: "a wrong key",
        headers: { "x-hasura-access-key": "wrong" },
        expected: [401, INVALID_SECRET],
      },
      { name: "the right key", headers: { "x-hasura-access-key": SECRET }, expected: "dumps" },
      {
        name: "the right key as x-hasura-admin-secret",
        headers: { "x-hasura-admin-secret": SECRET },
        expected: "dumps",
      },
      {
        name: "the right key and X-Hasura-Role: user",
        headers: { "x-hasura-access-key": SECRET, "X-Hasura-Role": "user" },
        expected: [400, NOT_ADMIN],
      },
    ],
  },
  {
    name: "HASURA_GRAPHQL_ADMIN_SECRETS configured as a JSON list",
    env: { HASURA_GRAPHQL_ADMIN_SECRETS: JSON.stringify([SECRET, OTHER_SECRET]) },
    cases: [
      { name: "nothing sent", headers: {}, expected: [401, SECRET_REQUIRED] },
      { name: "the first secret", headers: { "x-hasura-admin-secret": SECRET }, expected: "dumps" },
      {
        name: "the second secret",
        headers: { "x-hasura-admin-secret": OTHER_SECRET },
        expected: "dumps",
      },
      {
        name: "the second secret as x-hasura-access-key",
        headers: { "x-hasura-access-key": OTHER_SECRET },
        expected: "dumps",
      },
      {
        name: "a secret not in the list",
        headers: { "x-hasura-admin-secret": "wrong" },
        expected: [401, INVALID_SECRET],
      },
      {
        name: "the list itself as the secret",
        headers: { "x-hasura-admin-secret": JSON.stringify([SECRET, OTHER_SECRET]) },
        expected: [401, INVALID_SECRET],
      },
      {
        name: "a listed secret and X-Hasura-Role: user",
        headers: { "x-hasura-admin-secret": OTHER_SECRET, "X-Hasura-Role": "user" },
        expected: [400, NOT_ADMIN],
      },
    ],
  },
  {
    name: "HASURA_GRAPHQL_UNAUTHORIZED_ROLE set to a non-admin role",
    env: { HASURA_GRAPHQL_ADMIN_SECRET: SECRET, HASURA_GRAPHQL_UNAUTHORIZED_ROLE: "anonymous" },
    cases: [
      { name: "no secret header", headers: {}, expected: [400, NOT_ADMIN] },
      // The unauthorized role applies to the whole request; asking for admin does not help.
      {
        name: "no secret header but X-Hasura-Role: admin",
        headers: { "X-Hasura-Role": "admin" },
        expected: [400, NOT_ADMIN],
      },
      {
        name: "a wrong secret",
        headers: { "x-hasura-admin-secret": "wrong" },
        expected: [401, INVALID_SECRET],
      },
      { name: "the right secret", headers: { "x-hasura-admin-secret": SECRET }, expected: "dumps" },
    ],
  },
];

describe("pg_dump API authentication", { skip: !adminUrl }, () => {
  let scratch: ScratchDatabase;

  before(async () => {
    scratch = await createScratchDatabase(adminUrl as string, "auth");
  });

  after(async () => {
    await scratch?.drop();
  });

  for (const setup of SETUPS) {
    describe(setup.name, () => {
      let gateway: TestGateway;

      before(async () => {
        gateway = await startTestGateway({
          ...setup.env,
          HASURA_GRAPHQL_DATABASE_URL: scratch.url,
        });
      });

      after(async () => {
        await gateway?.close();
      });

      for (const { name, headers, expected } of setup.cases) {
        const outcome = expected === "dumps" ? "200 and a dump" : `${expected[0]}`;
        test(`${name}: ${outcome}`, async () => {
          const started = gateway.children.length;
          const response = await gateway.dump(CHEAP_DUMP, { ...headers });
          await expectOutcome(response, expected);
          const spawned = expected === "dumps" ? 1 : 0;
          assert.equal(gateway.children.length, started + spawned, "pg_dump processes started");
        });
      }
    });
  }

  // fetch's Headers lowercases names before sending, so these go over a raw socket to show
  // that the gateway, not the client library, makes header names case-insensitive.
  describe("header names in odd case on the wire", () => {
    let gateway: TestGateway;

    before(async () => {
      gateway = await startTestGateway({
        HASURA_GRAPHQL_ADMIN_SECRET: SECRET,
        HASURA_GRAPHQL_DATABASE_URL: scratch.url,
      });
    });

    after(async () => {
      await gateway?.close();
    });

    const WIRE_CASES: readonly (readonly [lines: readonly string[], status: number])[] = [
      [[`X-HASURA-ADMIN-SECRET: ${SECRET}`], 200],
      [[`x-Hasura-Access-KEY: ${SECRET}`], 200],
      [[`X-HASURA-ADMIN-SECRET: ${SECRET}`, "X-HASURA-ROLE: user"], 400],
      [["X-HASURA-ADMIN-SECRET: wrong"], 401],
    ];

    for (const [lines, status] of WIRE_CASES) {
      test(`${lines.join(", ")}: ${status}`, async () => {
        const started = gateway.children.length;
        const response = await rawPost(gateway.url, lines, JSON.stringify(CHEAP_DUMP));
        assert.equal(response.status, status);
        if (status === 200) assert.ok(response.text.includes(DUMP_END), "the dump is complete");
        assert.equal(gateway.children.length, started + (status === 200 ? 1 : 0));
      });
    }
  });
});

const expectOutcome = async (response: Response, expected: Expected): Promise<void> => {
  if (expected === "dumps") {
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/sql");
    assert.ok((await response.text()).includes(DUMP_END), "the dump is complete");
    return;
  }
  const [status, body] = expected;
  assert.equal(response.status, status);
  assert.deepEqual(await response.json(), body);
};

/** Sends one HTTP/1.1 request with header lines exactly as given and reads the whole reply. */
const rawPost = (
  base: string,
  headerLines: readonly string[],
  body: string,
): Promise<{ status: number; text: string }> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
      resolve({ status, text });
      socket.destroy();
    });
    socket.write(
      [
        "POST /v1alpha1/pg_dump HTTP/1.1",
        `Host: ${hostname}:${port}`,
        "Content-Type: application/json",
        `Content-Length: ${Buffer.byteLength(body)}`,
        "Connection: close",
        ...headerLines,
        "",
        body,
      ].join("\r\n"),
    );
  });
