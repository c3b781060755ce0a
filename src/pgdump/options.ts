/**
 * Reads the `opts` of a pg_dump request the way pg_dump's getopt_long reads its argv, keeps
 * only the options that shape the dump, and rebuilds them as canonical arguments, so the child
 * process never receives a string exactly as the admin wrote it.
 */

/** An accepted option: its canonical long name without dashes, and its value if it takes one. */
export interface PgDumpOption {
  name: string;
  value?: string;
}

/** The accepted options in order, or the first refused argument as written and why. */
export type ParseResult =
  | { ok: true; options: PgDumpOption[] }
  | { ok: false; option: string; reason: string };

type Refusal = Extract<ParseResult, { ok: false }>;

interface OptionSpec {
  /** Its letter in pg_dump's optstring, if it has one. */
  readonly short?: string;
  /** Other long names pg_dump accepts for the same option. */
  readonly aliases?: readonly string[];
  readonly takesValue?: true;
  /** Why the gateway refuses the option; absent when the option only shapes the dump. */
  readonly refusal?: string;
}

const CHOOSES_CONNECTION = "chooses the server, database or user; the source decides that";
const NOT_A_DUMP = "is not a dump; it prints pg_dump's help or version";
const UNKNOWN = "unknown option";
const POSITIONAL = "is not an option; pg_dump would take it as the database to dump";

/**
 * pg_dump 11 to 18's options, keyed by the name the child is given. Where pg_dump 16 renamed
 * one (--blobs became --large-objects), the old name is canonical because every version still
 * accepts it. Names from one release only (--with-data is 18's) fail in other pg_dumps, which
 * say so; and as abbreviations resolve against this whole table, a prefix that one pg_dump
 * would accept may be refused here as ambiguous.
 */
const OPTIONS: Readonly<Record<string, OptionSpec>> = {
  "data-only": { short: "a" },
  blobs: { short: "b", aliases: ["large-objects"] },
  "no-blobs": { short: "B", aliases: ["no-large-objects"] },
  clean: { short: "c" },
  create: { short: "C" },
  dbname: { short: "d", takesValue: true, refusal: CHOOSES_CONNECTION },
  extension: { short: "e", takesValue: true },
  encoding: { short: "E", takesValue: true },
  file: { short: "f", takesValue: true, refusal: "writes a file on the server" },
  format: { short: "F", takesValue: true },
  host: { short: "h", takesValue: true, refusal: CHOOSES_CONNECTION },
  jobs: { short: "j", takesValue: true, refusal: "requires directory format" },
  schema: { short: "n", takesValue: true },
  "exclude-schema": { short: "N", takesValue: true },
  "no-owner": { short: "O" },
  port: { short: "p", takesValue: true, refusal: CHOOSES_CONNECTION },
  "no-reconnect": { short: "R" },
  "schema-only": { short: "s" },
  superuser: { short: "S", takesValue: true },
  table: { short: "t", takesValue: true },
  "exclude-table": { short: "T", takesValue: true },
  username: { short: "U", takesValue: true, refusal: CHOOSES_CONNECTION },
  verbose: { short: "v" },
  // Harmless: the child has no terminal, so never prompting is what happens anyway.
  "no-password": { short: "w" },
  password: { short: "W", refusal: "prompts for a password; the gateway has no terminal" },
  "no-privileges": { short: "x", aliases: ["no-acl"] },
  compress: { short: "Z", takesValue: true },
  // pg_dump answers -? and -V only as the first argument, but they are never a dump anywhere.
  help: { short: "?", refusal: NOT_A_DUMP },
  version: { short: "V", refusal: NOT_A_DUMP },
  "binary-upgrade": {},
  "column-inserts": { aliases: ["attribute-inserts"] },
  "disable-dollar-quoting": {},
  "disable-triggers": {},
  "enable-row-security": {},
  "exclude-extension": { takesValue: true },
  "exclude-table-and-children": { takesValue: true },
  "exclude-table-data": { takesValue: true },
  "exclude-table-data-and-children": { takesValue: true },
  "extra-float-digits": { takesValue: true },
  filter: { takesValue: true, refusal: "reads a file on the server" },
  "if-exists": {},
  "include-foreign-data": { takesValue: true },
  inserts: {},
  "load-via-partition-root": {},
  "lock-wait-timeout": { takesValue: true },
  "no-comments": {},
  "no-data": {},
  "no-policies": {},
  "no-publications": {},
  "no-schema": {},
  "no-security-labels": {},
  "no-statistics": {},
  "no-subscriptions": {},
  "no-sync": {},
  "no-table-access-method": {},
  "no-tablespaces": {},
  "no-toast-compression": {},
  "no-unlogged-table-data": {},
  "on-conflict-do-nothing": {},
  "quote-all-identifiers": {},
  "restrict-key": { takesValue: true },
  role: { takesValue: true },
  "rows-per-insert": { takesValue: true },
  section: { takesValue: true },
  "sequence-data": {},
  "serializable-deferrable": {},
  snapshot: { takesValue: true },
  statistics: {},
  "statistics-only": {},
  "strict-names": {},
  // Like --no-sync it only concerns an output file, and the dump goes to stdout.
  "sync-method": { takesValue: true },
  "table-and-children": { takesValue: true },
  "use-set-session-authorization": {},
  "with-data": {},
  "with-schema": {},
  "with-statistics": {},
};

/** Every long name pg_dump accepts, in table order, with the canonical name it stands for. */
const LONG_NAMES: readonly (readonly [string, string])[] = Object.entries(OPTIONS).flatMap(
  ([name, spec]) => [name, ...(spec.aliases ?? [])].map((long) => [long, name] as const),
);

const SHORT_NAMES: ReadonlyMap<string, string> = new Map(
  Object.entries(OPTIONS).flatMap(([name, spec]) =>
    spec.short === undefined ? [] : [[spec.short, name] as const],
  ),
);

/**
 * Parses the `opts` of a request as pg_dump would and checks each option against the
 * allow-list; the first argument refused ends the parse.
 *
 * @example
 * parsePgDumpOptions(["-Ox", "--schema", "public", "--schema-o"]);
 * // { ok: true, options: [{ name: "no-owner" }, { name: "no-privileges" },
 * //   { name: "schema", value: "public" }, { name: "schema-only" }] }
 * parsePgDumpOptions(["-f", "/etc/passwd"]);
 * // { ok: false, option: "-f", reason: "writes a file on the server" }
 */
export const parsePgDumpOptions = (opts: readonly string[]): ParseResult => {
  const cursor: Cursor = { args: opts, next: 0 };
  const options: PgDumpOption[] = [];

  for (let arg = take(cursor); arg !== undefined; arg = take(cursor)) {
    if (arg === "--") {
      const positional = take(cursor);
      return positional === undefined ? { ok: true, options } : refuse(positional, POSITIONAL);
    }

    const isPositional = arg === "-" || !arg.startsWith("-");
    const refusal = isPositional
      ? refuse(arg, POSITIONAL)
      : arg.startsWith("--")
        ? readLong(arg, cursor, options)
        : readShorts(arg, cursor, options);
    if (refusal !== undefined) return refusal;
  }

  return { ok: true, options };
};

/**
 * Rebuilds arguments for the child from parsed options, always as `--name=value`, so a value
 * that starts with `-` can never be read as an option.
 *
 * @example
 * toPgDumpArgs([{ name: "schema", value: "public" }, { name: "no-owner" }]);
 * // ["--schema=public", "--no-owner"]
 */
export const toPgDumpArgs = (options: readonly PgDumpOption[]): string[] =>
  options.map(({ name, value }) => (value === undefined ? `--${name}` : `--${name}=${value}`));

/**
 * Whether the options leave pg_dump writing plain, uncompressed SQL text. pg_dump honours the
 * last --format and the last --compress it is given, so only those count.
 *
 * @example
 * isPlainFormat([{ name: "format", value: "custom" }]); // false
 * isPlainFormat([{ name: "compress", value: "0" }]); // true
 */
export const isPlainFormat = (options: readonly PgDumpOption[]): boolean => {
  const format = options.findLast((option) => option.name === "format")?.value;
  const compress = options.findLast((option) => option.name === "compress")?.value;

  const isPlainText = format === undefined || PLAIN_FORMATS.has(format.toLowerCase());
  const isUncompressed = compress === undefined || isNoCompression(compress);
  return isPlainText && isUncompressed;
};

interface Cursor {
  readonly args: readonly string[];
  next: number;
}

const take = (cursor: Cursor): string | undefined => {
  const arg = cursor.args[cursor.next];
  if (arg !== undefined) cursor.next += 1;
  return arg;
};

const refuse = (option: string, reason: string): Refusal => ({ ok: false, option, reason });

/** Reads `--name`, `--name=value` or `--name value`, where name may be a unique prefix. */
const readLong = (arg: string, cursor: Cursor, into: PgDumpOption[]): Refusal | undefined => {
  const equals = arg.indexOf("=");
  const typed = equals < 0 ? arg.slice(2) : arg.slice(2, equals);
  const inline = equals < 0 ? undefined : arg.slice(equals + 1);
  // "--=x" names nothing; showing just "--" would look like the end-of-options marker.
  const written = typed === "" ? arg : `--${typed}`;

  const match = resolveLong(typed);
  if ("reason" in match) return refuse(written, match.reason);

  const takesValue = OPTIONS[match.name]?.takesValue === true;
  const value = takesValue && inline === undefined ? take(cursor) : inline;
  return accept(written, match.name, value, into);
};

/** Reads a bundle such as `-Ox` or `-Oxnpublic`; a letter taking a value ends the bundle. */
const readShorts = (arg: string, cursor: Cursor, into: PgDumpOption[]): Refusal | undefined => {
  let at = 1;
  while (at < arg.length) {
    const letter = String.fromCodePoint(arg.codePointAt(at) ?? 0);
    at += letter.length;
    const written = `-${letter}`;

    const name = SHORT_NAMES.get(letter);
    if (name === undefined) return refuse(written, UNKNOWN);

    if (OPTIONS[name]?.takesValue === true) {
      const attached = arg.slice(at);
      return accept(written, name, attached === "" ? take(cursor) : attached, into);
    }

    const refusal = accept(written, name, undefined, into);
    if (refusal !== undefined) return refusal;
  }
  return undefined;
};

/**
 * Finds the option a typed long name means, as glibc does: an exact name wins, otherwise a
 * prefix must fit one option (aliases of one option count once).
 */
const resolveLong = (typed: string): { name: string } | { reason: string } => {
  const exact = LONG_NAMES.find(([long]) => long === typed);
  if (exact !== undefined) return { name: exact[1] };

  const candidates = new Map<string, string>();
  for (const [long, name] of LONG_NAMES) {
    const fits = typed !== "" && long.startsWith(typed) && !candidates.has(name);
    if (fits) candidates.set(name, `--${long}`);
  }

  const [first, ...others] = candidates.keys();
  if (first === undefined) return { reason: UNKNOWN };
  if (others.length === 0) return { name: first };
  return { reason: `is ambiguous: it could be ${listOf([...candidates.values()])}` };
};

const listOf = (items: readonly string[]): string =>
  items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;

/** Checks a recognised option with its value (undefined when none came) and records it. */
const accept = (
  written: string,
  name: string,
  value: string | undefined,
  into: PgDumpOption[],
): Refusal | undefined => {
  const spec = OPTIONS[name] ?? {};
  if (spec.refusal !== undefined) return refuse(written, spec.refusal);

  if (spec.takesValue !== true) {
    if (value !== undefined) return refuse(written, "takes no value");
    into.push({ name });
    return undefined;
  }

  if (value === undefined) return refuse(written, "requires a value");
  const checked = checkValue(name, value);
  if ("reason" in checked) return refuse(written, checked.reason);
  into.push({ name, value: checked.value });
  return undefined;
};

const checkValue = (name: string, value: string): { value: string } | { reason: string } => {
  // A C program reads its arguments up to the first NUL, so pg_dump would see another value.
  if (value.includes("\0")) return { reason: "has a value containing a NUL byte" };
  if (name === "format") return checkFormat(value);
  if (name === "encoding") return checkEncoding(value);
  return { value };
};

const FORMATS: Readonly<Record<string, string>> = {
  p: "plain",
  plain: "plain",
  c: "custom",
  custom: "custom",
  t: "tar",
  tar: "tar",
};

const PLAIN_FORMATS: ReadonlySet<string> = new Set(["p", "plain"]);

/** pg_dump reads format names case-insensitively; the directory format writes files. */
const checkFormat = (value: string): { value: string } | { reason: string } => {
  const format = FORMATS[value.toLowerCase()];
  if (format !== undefined) return { value: format };

  const isDirectory = value !== "" && "directory".startsWith(value.toLowerCase());
  if (isDirectory) return { reason: "directory format writes files on the server" };
  return { reason: `format "${value}" is not one of plain, custom or tar` };
};

/**
 * The gateway sends --encoding=utf8 before the admin's options and pg_dump keeps the last one,
 * so another encoding would quietly win over UTF-8; it is refused instead. PostgreSQL matches
 * encoding names ignoring case and punctuation, and knows UNICODE as another name for UTF8.
 */
const checkEncoding = (value: string): { value: string } | { reason: string } => {
  const bare = value.toLowerCase().replace(/[^a-z0-9]/g, "");
  if (bare === "utf8" || bare === "unicode") return { value: "UTF8" };
  return { reason: "chooses an encoding other than UTF8, which the gateway always dumps in" };
};

/** pg_dump reads a bare 0, or the algorithm "none" with or without detail, as uncompressed. */
const isNoCompression = (value: string): boolean =>
  /^0+$/.test(value) || value.split(":")[0] === "none";
