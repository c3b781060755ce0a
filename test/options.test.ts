import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  isPlainFormat,
  type ParseResult,
  type PgDumpOption,
  parsePgDumpOptions,
  toPgDumpArgs,
} from "../src/pgdump/options.ts";
import {
  CONNECTION,
  DIRECTORY,
  NEEDS_VALUE,
  NO_VALUE,
  NOT_A_DUMP,
  NUL,
  POSITIONAL,
  UNKNOWN,
  WRITES_FILE,
} from "./support/refusals.ts";

const accepted = (...options: PgDumpOption[]): ParseResult => ({ ok: true, options });
const refused = (option: string, reason: string): ParseResult => ({ ok: false, option, reason });
const flag = (name: string): PgDumpOption => ({ name });
const valued = (name: string, value: string): PgDumpOption => ({ name, value });

type Case = readonly [opts: readonly string[], expected: ParseResult];

/** Each group names the behaviour its cases prove; each case's title is its `opts`. */
const PARSE_CASES: Readonly<Record<string, readonly Case[]>> = {
  "reads short options alone and bundled": [
    [[], accepted()],
    [["-O"], accepted(flag("no-owner"))],
    [["-Ox"], accepted(flag("no-owner"), flag("no-privileges"))],
    [["-Oxs"], accepted(flag("no-owner"), flag("no-privileges"), flag("schema-only"))],
    [["-a", "--disable-triggers"], accepted(flag("data-only"), flag("disable-triggers"))],
    [["-b", "-B"], accepted(flag("blobs"), flag("no-blobs"))],
    [["-vC", "-c"], accepted(flag("verbose"), flag("create"), flag("clean"))],
    [["-R", "-w"], accepted(flag("no-reconnect"), flag("no-password"))],
    [["-Oq"], refused("-q", UNKNOWN)],
    [["-o"], refused("-o", UNKNOWN)],
    [["-x", "-X"], refused("-X", UNKNOWN)],
    [["-é"], refused("-é", UNKNOWN)],
    [["-O😀"], refused("-😀", UNKNOWN)],
    [["-O\0"], refused("-\0", UNKNOWN)],
  ],

  "reads short option values attached or separate": [
    [["-npublic"], accepted(valued("schema", "public"))],
    [["-n", "public"], accepted(valued("schema", "public"))],
    [["-Oxnpublic"], accepted(flag("no-owner"), flag("no-privileges"), valued("schema", "public"))],
    [
      ["-Oxn", "public"],
      accepted(flag("no-owner"), flag("no-privileges"), valued("schema", "public")),
    ],
    [["-nOx"], accepted(valued("schema", "Ox"))],
    [["-n", "-x"], accepted(valued("schema", "-x"))],
    [["-n", "--"], accepted(valued("schema", "--"))],
    [["-n", ""], accepted(valued("schema", ""))],
    [
      ["-t", "public.users", "-T", "audit.*"],
      accepted(valued("table", "public.users"), valued("exclude-table", "audit.*")),
    ],
    [
      ["-S", "postgres", "-e", "postgis"],
      accepted(valued("superuser", "postgres"), valued("extension", "postgis")),
    ],
    [
      ["-N", "pg_temp", "-Z9"],
      accepted(valued("exclude-schema", "pg_temp"), valued("compress", "9")),
    ],
    [["-n"], refused("-n", NEEDS_VALUE)],
    [["-Oxn"], refused("-n", NEEDS_VALUE)],
    [["-O", "-Z"], refused("-Z", NEEDS_VALUE)],
  ],

  "reads long option values after = or separate": [
    [["--schema=public"], accepted(valued("schema", "public"))],
    [["--schema", "public"], accepted(valued("schema", "public"))],
    [["--schema="], accepted(valued("schema", ""))],
    [["--schema=a=b"], accepted(valued("schema", "a=b"))],
    [["--table", "--no-owner"], accepted(valued("table", "--no-owner"))],
    [
      ["--section=pre-data", "--section", "data"],
      accepted(valued("section", "pre-data"), valued("section", "data")),
    ],
    [
      ["--rows-per-insert=100", "--on-conflict-do-nothing"],
      accepted(valued("rows-per-insert", "100"), flag("on-conflict-do-nothing")),
    ],
    [
      ["--role", "dumper", "--snapshot=00000003-1"],
      accepted(valued("role", "dumper"), valued("snapshot", "00000003-1")),
    ],
    [
      ["--restrict-key=abc123", "--with-data"],
      accepted(valued("restrict-key", "abc123"), flag("with-data")),
    ],
    [["--schema"], refused("--schema", NEEDS_VALUE)],
    [["-O", "--exclude-table-data"], refused("--exclude-table-data", NEEDS_VALUE)],
    [["--no-owner=yes"], refused("--no-owner", NO_VALUE)],
    [["--inserts="], refused("--inserts", NO_VALUE)],
    [["--no-ow=1"], refused("--no-ow", NO_VALUE)],
  ],

  "resolves long names: aliases, exact matches and unique prefixes": [
    [["--no-owner", "--no-acl"], accepted(flag("no-owner"), flag("no-privileges"))],
    [["--large-objects", "--no-large-objects"], accepted(flag("blobs"), flag("no-blobs"))],
    [["--attribute-inserts"], accepted(flag("column-inserts"))],
    [["--schema-o"], accepted(flag("schema-only"))],
    [["--table=t"], accepted(valued("table", "t"))],
    [["--statistics"], accepted(flag("statistics"))],
    [["--exclude-table-data=log"], accepted(valued("exclude-table-data", "log"))],
    [
      ["--ins", "--verb", "--quote", "--cl"],
      accepted(flag("inserts"), flag("verbose"), flag("quote-all-identifiers"), flag("clean")),
    ],
    [
      ["--bl", "--no-l", "--no-a"],
      accepted(flag("blobs"), flag("no-blobs"), flag("no-privileges")),
    ],
    [["--la"], accepted(flag("blobs"))],
    [["--sec", "post-data"], accepted(valued("section", "post-data"))],
  ],

  "refuses ambiguous and unknown long names": [
    [["--sch=x"], refused("--sch", "is ambiguous: it could be --schema or --schema-only")],
    [["--stat"], refused("--stat", "is ambiguous: it could be --statistics or --statistics-only")],
    [
      ["--with-s"],
      refused("--with-s", "is ambiguous: it could be --with-schema or --with-statistics"),
    ],
    [["--ver"], refused("--ver", "is ambiguous: it could be --verbose or --version")],
    [["--fi", "x"], refused("--fi", "is ambiguous: it could be --file or --filter")],
    [["--f"], refused("--f", "is ambiguous: it could be --file, --format or --filter")],
    [
      ["--excl", "x"],
      refused(
        "--excl",
        "is ambiguous: it could be --exclude-schema, --exclude-table, --exclude-extension, " +
          "--exclude-table-and-children, --exclude-table-data or --exclude-table-data-and-children",
      ),
    ],
    [["--nonsense"], refused("--nonsense", UNKNOWN)],
    [["--oids"], refused("--oids", UNKNOWN)],
    [["--=x"], refused("--=x", UNKNOWN)],
    [["---schema"], refused("---schema", UNKNOWN)],
    [["--no-owner\0"], refused("--no-owner\0", UNKNOWN)],
    [["-schema"], refused("-h", CONNECTION)],
  ],

  "ends options at -- and refuses positional arguments": [
    [["--"], accepted()],
    [["-O", "--"], accepted(flag("no-owner"))],
    [["--", "-O"], refused("-O", POSITIONAL)],
    [["--", "postgres://other/db"], refused("postgres://other/db", POSITIONAL)],
    [["public"], refused("public", POSITIONAL)],
    [["-O", "mydb", "-x"], refused("mydb", POSITIONAL)],
    [["-"], refused("-", POSITIONAL)],
    [[""], refused("", POSITIONAL)],
    [["-O", "--schema", "public", "extra"], refused("extra", POSITIONAL)],
  ],

  "refuses options that write or read files": [
    [["-f", "out.sql"], refused("-f", WRITES_FILE)],
    [["-fout.sql"], refused("-f", WRITES_FILE)],
    [["-Oxf", "out.sql"], refused("-f", WRITES_FILE)],
    [["--file=out.sql"], refused("--file", WRITES_FILE)],
    [["--fil", "out.sql"], refused("--fil", "is ambiguous: it could be --file or --filter")],
    [["--file"], refused("--file", WRITES_FILE)],
    [["-f", "x", "-h", "y"], refused("-f", WRITES_FILE)],
    [["--filter=f.txt"], refused("--filter", "reads a file on the server")],
    [["--filt", "f.txt"], refused("--filt", "reads a file on the server")],
    [["-j", "4"], refused("-j", "requires directory format")],
    [["-j4"], refused("-j", "requires directory format")],
    [["--jobs=4"], refused("--jobs", "requires directory format")],
    [["--jo=2"], refused("--jo", "requires directory format")],
  ],

  "refuses options that choose the connection": [
    [["-h", "evil.example"], refused("-h", CONNECTION)],
    [["--host=evil.example"], refused("--host", CONNECTION)],
    [["--hos", "evil.example"], refused("--hos", CONNECTION)],
    [["-p", "5433"], refused("-p", CONNECTION)],
    [["--port=5433"], refused("--port", CONNECTION)],
    [["--po=5433"], refused("--po", CONNECTION)],
    [["-U", "postgres"], refused("-U", CONNECTION)],
    [["--username=postgres"], refused("--username", CONNECTION)],
    [["--user=postgres"], refused("--user", CONNECTION)],
    [["-d", "other"], refused("-d", CONNECTION)],
    [["-dother"], refused("-d", CONNECTION)],
    [["--dbname=other"], refused("--dbname", CONNECTION)],
    [["--db", "other"], refused("--db", CONNECTION)],
  ],

  "refuses password prompts, help and version": [
    [["-W"], refused("-W", "prompts for a password; the gateway has no terminal")],
    [["--password"], refused("--password", "prompts for a password; the gateway has no terminal")],
    [["--pass=secret"], refused("--pass", "prompts for a password; the gateway has no terminal")],
    [["-V"], refused("-V", NOT_A_DUMP)],
    [["--version"], refused("--version", NOT_A_DUMP)],
    [["--vers"], refused("--vers", NOT_A_DUMP)],
    [["-?"], refused("-?", NOT_A_DUMP)],
    [["-Ox?"], refused("-?", NOT_A_DUMP)],
    [["--help"], refused("--help", NOT_A_DUMP)],
    [["--he"], refused("--he", NOT_A_DUMP)],
  ],

  "accepts plain, custom and tar formats and refuses the rest": [
    [["-Fp"], accepted(valued("format", "plain"))],
    [["-F", "c"], accepted(valued("format", "custom"))],
    [["-Ft"], accepted(valued("format", "tar"))],
    [["--format=tar"], accepted(valued("format", "tar"))],
    [["--format=PLAIN"], accepted(valued("format", "plain"))],
    [["--form", "Custom"], accepted(valued("format", "custom"))],
    [["-Fd"], refused("-F", DIRECTORY)],
    [["--format=directory"], refused("--format", DIRECTORY)],
    [["--format", "dir"], refused("--format", DIRECTORY)],
    [["--form=D"], refused("--form", DIRECTORY)],
    [["-Fx"], refused("-F", 'format "x" is not one of plain, custom or tar')],
    [
      ["--format=append"],
      refused("--format", 'format "append" is not one of plain, custom or tar'),
    ],
    [["--format="], refused("--format", 'format "" is not one of plain, custom or tar')],
    [["-F"], refused("-F", NEEDS_VALUE)],
  ],

  "accepts only UTF8 as the encoding": [
    [["-E", "utf8"], accepted(valued("encoding", "UTF8"))],
    [["-EUTF8"], accepted(valued("encoding", "UTF8"))],
    [["--encoding=utf-8"], accepted(valued("encoding", "UTF8"))],
    [["--enc", "Unicode"], accepted(valued("encoding", "UTF8"))],
    [
      ["-E", "LATIN1"],
      refused("-E", "chooses an encoding other than UTF8, which the gateway always dumps in"),
    ],
    [
      ["--encoding=SQL_ASCII"],
      refused(
        "--encoding",
        "chooses an encoding other than UTF8, which the gateway always dumps in",
      ),
    ],
  ],

  "refuses values containing a NUL byte": [
    [["--schema=pub\0lic"], refused("--schema", NUL)],
    [["--schema", "pub\0lic"], refused("--schema", NUL)],
    [["-n", "a\0"], refused("-n", NUL)],
    [["-Ona\0b"], refused("-n", NUL)],
    [["--format=p\0"], refused("--format", NUL)],
    [["--file=a\0b"], refused("--file", WRITES_FILE)],
  ],
};

for (const [behaviour, cases] of Object.entries(PARSE_CASES)) {
  describe(`parsePgDumpOptions ${behaviour}`, () => {
    for (const [opts, expected] of cases) {
      test(JSON.stringify(opts), () => {
        assert.deepEqual(parsePgDumpOptions(opts), expected);
      });
    }
  });
}

const ARGS_CASES: readonly (readonly [opts: readonly string[], args: readonly string[]])[] = [
  [[], []],
  [["-O"], ["--no-owner"]],
  [
    ["-Ox", "--schema-only", "--schema", "public"],
    ["--no-owner", "--no-privileges", "--schema-only", "--schema=public"],
  ],
  [
    ["-Oxnpublic", "--schema-o"],
    ["--no-owner", "--no-privileges", "--schema=public", "--schema-only"],
  ],
  [
    ["-t", "--weird", "--sec", "data"],
    ["--table=--weird", "--section=data"],
  ],
  [["-n", "-x"], ["--schema=-x"]],
  [["--schema="], ["--schema="]],
  [
    ["--no-acl", "--large-objects", "-Z", "0"],
    ["--no-privileges", "--blobs", "--compress=0"],
  ],
  [
    ["-Fc", "-E", "utf-8"],
    ["--format=custom", "--encoding=UTF8"],
  ],
  [
    ["--attr", "--rows=50", "--"],
    ["--column-inserts", "--rows-per-insert=50"],
  ],
];

describe("toPgDumpArgs rebuilds canonical long options", () => {
  for (const [opts, args] of ARGS_CASES) {
    test(JSON.stringify(opts), () => {
      const parsed = parsePgDumpOptions(opts);
      assert.ok(parsed.ok);
      assert.deepEqual(toPgDumpArgs(parsed.options), args);
    });
  }

  test("a value option built by hand", () => {
    assert.deepEqual(toPgDumpArgs([valued("table", "a b"), flag("if-exists")]), [
      "--table=a b",
      "--if-exists",
    ]);
  });
});

const PLAIN_CASES: readonly (readonly [options: readonly PgDumpOption[], plain: boolean])[] = [
  [[], true],
  [[flag("no-owner"), valued("schema", "public")], true],
  [[valued("format", "plain")], true],
  [[valued("format", "p")], true],
  [[valued("format", "PLAIN")], true],
  [[valued("format", "custom")], false],
  [[valued("format", "c")], false],
  [[valued("format", "tar")], false],
  [[valued("format", "directory")], false],
  [[valued("format", "custom"), valued("format", "plain")], true],
  [[valued("format", "plain"), valued("format", "tar")], false],
  [[valued("compress", "0")], true],
  [[valued("compress", "00")], true],
  [[valued("compress", "none")], true],
  [[valued("compress", "none:level=0")], true],
  [[valued("compress", "9")], false],
  [[valued("compress", "gzip")], false],
  [[valued("compress", "gzip:9")], false],
  [[valued("compress", "lz4:3")], false],
  [[valued("compress", "zstd")], false],
  [[valued("compress", "5"), valued("compress", "0")], true],
  [[valued("compress", "0"), valued("compress", "5")], false],
  [[valued("format", "plain"), valued("compress", "5")], false],
  [[valued("format", "tar"), valued("compress", "0")], false],
];

describe("isPlainFormat tells plain uncompressed SQL from archives", () => {
  for (const [options, plain] of PLAIN_CASES) {
    test(JSON.stringify(options), () => {
      assert.equal(isPlainFormat(options), plain);
    });
  }
});
