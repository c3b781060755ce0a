import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { redactConnectionString, redactSecrets, toLibpqEnv } from "../src/sources/connection.ts";
import { queryServerVersionNum } from "../src/sources/server-version.ts";

const adminUrl = process.env.TEST_DATABASE_URL;

describe("connection strings become libpq's environment", () => {
  test("every part of the URL, percent-decoded, and its query parameters", () => {
    assert.deepEqual(
      toLibpqEnv(
        "postgresql://app%40x:p%3Aw@[::1]:6432/sh%20op?sslmode=require&application_name=a",
      ),
      {
        PGHOST: "::1",
        PGPORT: "6432",
        PGUSER: "app@x",
        PGPASSWORD: "p:w",
        PGDATABASE: "sh op",
        PGSSLMODE: "require",
        PGAPPNAME: "a",
      },
    );
  });

  test("connection parameters given only in the query string", () => {
    assert.deepEqual(toLibpqEnv("postgres:///db?host=/run/pg&user=u&password=s3cret"), {
      PGDATABASE: "db",
      PGHOST: "/run/pg",
      PGUSER: "u",
      PGPASSWORD: "s3cret",
    });
  });

  test("an unknown parameter is an error naming it", () => {
    assert.throws(() => toLibpqEnv("postgres://h/db?colour=blue"), /unknown parameter colour/);
  });
});

describe("redaction for logs and responses", () => {
  for (const [input, expected] of [
    ["postgres://u:s3cret@h:5432/db", "postgres://u:********@h:5432/db"],
    ["postgres://u@h/db?password=s3cret", "postgres://u@h/db?password=********"],
    [
      "postgres://u@h/db?sslmode=require&password=s3cret",
      "postgres://u@h/db?sslmode=require&password=********",
    ],
    ["postgres://h/db", "postgres://h/db"],
  ] as const) {
    test(`${input} is logged as ${expected}`, () => {
      const redacted = redactConnectionString(input);
      assert.equal(redacted, expected);
      assert.ok(!redacted.includes("s3cret"));
    });
  }

  test("a known secret is removed wherever it appears", () => {
    assert.equal(
      redactSecrets('FATAL: password "hunter2" for "app" is hunter2', ["hunter2"]),
      'FATAL: password "********" for "app" is ********',
    );
  });
});

describe("the server version lookup reads the connection as libpq does", {
  skip: !adminUrl,
}, () => {
  test("a password given as a query parameter is used", async () => {
    const url = new URL(adminUrl as string);
    const password = decodeURIComponent(url.password);
    url.password = "";
    url.searchParams.set("password", password);
    const num = await queryServerVersionNum(url.toString());
    assert.ok(num >= 90000, `server_version_num ${num}`);
  });
});
