import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parsePgDumpOptions } from "../src/pgdump/options.ts";
import { dumpHeaders, gzipWanted } from "../src/pgdump/response.ts";

const NOW = new Date("2026-12-03T16:30:05.123Z");

const fileNameFor = (source: string, opts: string[]): string => {
  const parsed = parsePgDumpOptions(opts);
  assert.ok(parsed.ok);
  const headers = dumpHeaders({ source, options: parsed.options, gzip: false, now: NOW });
  return /filename="([^"]+)"/.exec(headers.get("content-disposition") ?? "")?.[1] ?? "";
};

describe("the download name says what the file holds", () => {
  for (const [opts, name] of [
    [[], "default-2026-12-03T16-30-05Z.sql"],
    [["-Fc"], "default-2026-12-03T16-30-05Z.dump"],
    [["--format=tar"], "default-2026-12-03T16-30-05Z.tar"],
    [["-Z", "5"], "default-2026-12-03T16-30-05Z.sql.gz"],
    [["--compress=gzip:9"], "default-2026-12-03T16-30-05Z.sql.gz"],
    [["--compress=zstd"], "default-2026-12-03T16-30-05Z.sql.zst"],
    [["--compress=lz4:3"], "default-2026-12-03T16-30-05Z.sql.lz4"],
    [["-Z", "0"], "default-2026-12-03T16-30-05Z.sql"],
    [["--compress=none"], "default-2026-12-03T16-30-05Z.sql"],
    [["-Fc", "-Z", "5"], "default-2026-12-03T16-30-05Z.dump"],
  ] as const) {
    test(`${JSON.stringify(opts)} → ${name}`, () => {
      assert.equal(fileNameFor("default", [...opts]), name);
    });
  }

  test("a source name cannot break out of the header or the file name", () => {
    assert.equal(fileNameFor('a"b/../c\r\nx', []), "a_b_.._c__x-2026-12-03T16-30-05Z.sql");
  });
});

describe("gzip is used only when the client accepts it", () => {
  for (const [header, wanted] of [
    [undefined, false],
    ["gzip", true],
    ["br, gzip;q=0.8", true],
    ["GZIP", true],
    ["x-gzip", true],
    ["*", true],
    ["gzip;q=0", false],
    ["identity", false],
    ["deflate, br", false],
    ["gzip;q=0, *", false],
    ["*;q=0", false],
    ["gzip;q=0.5, *;q=0", true],
  ] as const) {
    test(`Accept-Encoding: ${header} → ${wanted}`, () => {
      assert.equal(gzipWanted(header), wanted);
    });
  }
});
