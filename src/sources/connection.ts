/**
 * Turns a source's connection string into libpq environment variables, so pg_dump gets
 * the connection without anything secret on its command line (where `ps` shows it).
 */

/** Query-string parameters of a connection URI and the libpq variable each one sets. */
const PARAMETER_VARIABLES: Readonly<Record<string, string>> = {
  host: "PGHOST",
  hostaddr: "PGHOSTADDR",
  port: "PGPORT",
  dbname: "PGDATABASE",
  user: "PGUSER",
  password: "PGPASSWORD",
  passfile: "PGPASSFILE",
  options: "PGOPTIONS",
  application_name: "PGAPPNAME",
  sslmode: "PGSSLMODE",
  sslnegotiation: "PGSSLNEGOTIATION",
  sslcompression: "PGSSLCOMPRESSION",
  sslcert: "PGSSLCERT",
  sslkey: "PGSSLKEY",
  sslrootcert: "PGSSLROOTCERT",
  sslcrl: "PGSSLCRL",
  sslcrldir: "PGSSLCRLDIR",
  sslsni: "PGSSLSNI",
  sslpassword: "PGSSLPASSWORD",
  requirepeer: "PGREQUIREPEER",
  ssl_min_protocol_version: "PGSSLMINPROTOCOLVERSION",
  ssl_max_protocol_version: "PGSSLMAXPROTOCOLVERSION",
  gssencmode: "PGGSSENCMODE",
  krbsrvname: "PGKRBSRVNAME",
  gsslib: "PGGSSLIB",
  gssdelegation: "PGGSSDELEGATION",
  connect_timeout: "PGCONNECT_TIMEOUT",
  client_encoding: "PGCLIENTENCODING",
  target_session_attrs: "PGTARGETSESSIONATTRS",
  load_balance_hosts: "PGLOADBALANCEHOSTS",
  require_auth: "PGREQUIREAUTH",
  channel_binding: "PGCHANNELBINDING",
  service: "PGSERVICE",
};

export class ConnectionStringError extends Error {}

const decode = (value: string): string => {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new ConnectionStringError("connection string has a malformed percent-escape");
  }
};

/**
 * The libpq environment for a `postgres://` or `postgresql://` connection string.
 *
 * @example
 * toLibpqEnv("postgres://app:pw@db:5432/shop?sslmode=require");
 * // { PGHOST: "db", PGPORT: "5432", PGUSER: "app", PGPASSWORD: "pw",
 * //   PGDATABASE: "shop", PGSSLMODE: "require" }
 */
export const toLibpqEnv = (connectionString: string): Record<string, string> => {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new ConnectionStringError("connection string is not a valid URL");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ConnectionStringError("connection string must start with postgres://");
  }

  const env: Record<string, string> = {};
  // IPv6 literals come back in brackets, which libpq does not want in PGHOST.
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host !== "") env.PGHOST = decode(host);
  if (url.port !== "") env.PGPORT = url.port;
  if (url.username !== "") env.PGUSER = decode(url.username);
  if (url.password !== "") env.PGPASSWORD = decode(url.password);
  const database = url.pathname.replace(/^\//, "");
  if (database !== "") env.PGDATABASE = decode(database);

  for (const [name, value] of url.searchParams) {
    const variable = PARAMETER_VARIABLES[name];
    if (variable === undefined) {
      throw new ConnectionStringError(`connection string has an unknown parameter ${name}`);
    }
    env[variable] = value;
  }
  return env;
};

/**
 * Removes the given secrets from a text meant for a client or a log, and any password inside
 * a connection string quoted in it: the server's "database ... does not exist" echoes a
 * database name that is itself a connection string, password and all.
 */
export const redactSecrets = (text: string, secrets: readonly string[]): string =>
  secrets
    .reduce((result, secret) => result.split(secret).join("********"), text)
    .replace(URI_PASSWORD, "$1********@")
    .replace(KEYWORD_PASSWORD, "$1********");

/** libpq's URI form, `postgresql://user:password@`; the password ends at the first `@`. */
const URI_PASSWORD = /(postgres(?:ql)?:\/\/[^\s:/@]*:)[^\s/@]*@/gi;

/** libpq's keyword form, `password=value` or `password='quoted value'`. */
const KEYWORD_PASSWORD = /(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'"]+)/gi;

/** The connection string with its password replaced, for messages and logs. */
export const redactConnectionString = (connectionString: string): string =>
  redactSecrets(connectionString, []);
