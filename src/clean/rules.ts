/**
 * The lines `clean_output` drops, in one table. The cleaner consults it only for lines
 * that begin at a statement boundary, outside any literal, identifier, comment or COPY
 * data, so none of these rules can touch data.
 */

export interface DropRule {
  /** What the rule removes, in the words of a dump's reader. */
  name: string;
  /** Every line the rule can drop starts with this text. */
  prefix: string;
  /**
   * Whether the prefix alone decides (the rest of the line is dropped unseen), or the whole
   * line must be read and passed to `matches`.
   */
  prefixDecides: boolean;
  matches: (line: string) => boolean;
}

const exactly = (statement: string): DropRule => ({
  name: `front matter: ${statement}`,
  prefix: statement,
  prefixDecides: false,
  matches: (line) => line === statement,
});

// A trigger name or function name Hasura gives event triggers, quoted or not.
const NOTIFY_NAME = '(?:"notify_hasura_(?:[^"]|"")*"|notify_hasura_[A-Za-z0-9_$]*)';
const EVENT_TRIGGER = new RegExp(
  `^CREATE TRIGGER ${NOTIFY_NAME} AFTER [A-Z]+(?: OR [A-Z]+)* ON .+` +
    " FOR EACH ROW EXECUTE (?:FUNCTION|PROCEDURE)" +
    String.raw` (?:hdb_catalog|"hdb_catalog"|hdb_views|"hdb_views")\.${NOTIFY_NAME}\(\);$`,
  // dotAll: a quoted table name may hold a carriage return, which `.` would not match.
  "s",
);

/**
 * Hasura's list, plus what newer pg_dump versions add: `SET transaction_timeout = 0;`
 * (pg_dump 17) and the `\restrict`/`\unrestrict` psql meta-commands (August 2025 releases),
 * which are not SQL and break migrations built from the output.
 * `SET check_function_bodies = false;` is kept on purpose, as Hasura does: function bodies
 * that refer to objects created later would not load without it.
 */
export const DROP_RULES: readonly DropRule[] = [
  { name: "comment line", prefix: "--", prefixDecides: true, matches: () => true },
  {
    name: "psql \\restrict",
    prefix: "\\restrict ",
    prefixDecides: true,
    matches: () => true,
  },
  {
    name: "psql \\unrestrict",
    prefix: "\\unrestrict ",
    prefixDecides: true,
    matches: () => true,
  },
  exactly("SET statement_timeout = 0;"),
  exactly("SET lock_timeout = 0;"),
  exactly("SET idle_in_transaction_session_timeout = 0;"),
  exactly("SET transaction_timeout = 0;"),
  exactly("SET client_encoding = 'UTF8';"),
  exactly("SET standard_conforming_strings = on;"),
  exactly("SELECT pg_catalog.set_config('search_path', '', false);"),
  exactly("SET xmloption = content;"),
  exactly("SET client_min_messages = warning;"),
  exactly("SET row_security = off;"),
  exactly("SET default_tablespace = '';"),
  exactly("SET default_with_oids = false;"),
  exactly("SET default_table_access_method = heap;"),
  exactly("CREATE SCHEMA public;"),
  exactly("COMMENT ON SCHEMA public IS 'standard public schema';"),
  {
    name: "Hasura event trigger",
    prefix: "CREATE TRIGGER ",
    prefixDecides: false,
    matches: (line) => EVENT_TRIGGER.test(line),
  },
];

/** Blank lines go too; they are not in the table because they have no prefix. */
export const isBlank = (line: string): boolean => /^[ \t\r\f\v]*$/.test(line);
