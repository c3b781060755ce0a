/**
 * The reasons the option parser gives when it refuses an option, written out once for the
 * tests that check them (the parser's own table and the HTTP-level table).
 */

export const UNKNOWN = "unknown option";
export const POSITIONAL = "is not an option; pg_dump would take it as the database to dump";
export const CONNECTION = "chooses the server, database or user; the source decides that";
export const WRITES_FILE = "writes a file on the server";
export const NOT_A_DUMP = "is not a dump; it prints pg_dump's help or version";
export const DIRECTORY = "directory format writes files on the server";
export const PROMPTS = "prompts for a password; the gateway has no terminal";
export const NEEDS_VALUE = "requires a value";
export const NO_VALUE = "takes no value";
export const NUL = "has a value containing a NUL byte";
