/**
 * The front-matter statements clean_output drops, written out here from Hasura's
 * documented list rather than read from src/clean/rules.ts, so tests catch a change to
 * the rules table.
 */

/** Hasura's own list. */
export const HASURA_FRONT_MATTER: readonly string[] = [
  "SET statement_timeout = 0;",
  "SET lock_timeout = 0;",
  "SET idle_in_transaction_session_timeout = 0;",
  "SET client_encoding = 'UTF8';",
  "SET standard_conforming_strings = on;",
  "SELECT pg_catalog.set_config('search_path', '', false);",
  "SET xmloption = content;",
  "SET client_min_messages = warning;",
  "SET row_security = off;",
  "SET default_tablespace = '';",
  "SET default_with_oids = false;",
  "SET default_table_access_method = heap;",
  "CREATE SCHEMA public;",
  "COMMENT ON SCHEMA public IS 'standard public schema';",
];

/** Hasura's list plus what pg_dump 17 added to the front matter. */
export const FRONT_MATTER: readonly string[] = [
  ...HASURA_FRONT_MATTER,
  "SET transaction_timeout = 0;",
];
