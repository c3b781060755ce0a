/**
 * The request body of `POST /v1alpha1/pg_dump`, checked the way Hasura checks it: `opts`
 * is required, the rest has defaults, and unknown fields are ignored.
 */

import { z } from "zod";
import { HasuraError, parseFailed } from "../http/errors.ts";

/**
 * Longest single entry of `opts`. Linux refuses a process argument over 128 KiB, so a
 * longer one would fail at spawn; no real pg_dump option comes near this.
 */
export const MAX_OPT_LENGTH = 65536;

export interface PgDumpRequest {
  opts: string[];
  clean_output: boolean;
  source: string;
}

const typeName = (value: unknown): string => {
  if (value === null) return "Null";
  if (Array.isArray(value)) return "Array";
  switch (typeof value) {
    case "string":
      return "String";
    case "number":
      return "Number";
    case "boolean":
      return "Boolean";
    default:
      return "Object";
  }
};

/**
 * Validates a parsed JSON body; throws Hasura's `parse-failed` error naming the field.
 *
 * @example
 * const request = parsePgDumpRequest(await c.req.json(), { maxOpts: 1000 });
 */
export const parsePgDumpRequest = (body: unknown, limits: { maxOpts: number }): PgDumpRequest => {
  // Like Hasura's `.:?`, a null optional field means its default.
  const schema = z.object({
    opts: z.array(z.string().max(MAX_OPT_LENGTH)).max(limits.maxOpts),
    clean_output: z
      .boolean()
      .nullish()
      .transform((value) => value ?? false),
    source: z
      .string()
      .nullish()
      .transform((value) => value ?? "default"),
  });
  const result = schema.safeParse(body);
  if (result.success) return result.data;

  const issue = result.error.issues[0];
  if (issue === undefined) throw parseFailed("invalid request body");
  if (issue.path.length === 0) {
    throw parseFailed(`expected Object, but encountered ${typeName(body)}`);
  }
  const path = `$${issue.path.map(pathStep).join("")}`;
  const key = String(issue.path[0]);
  const value = lookup(body, issue.path);
  if (issue.code === "invalid_type" && value === undefined && issue.path.length === 1) {
    throw parseFailed(`key ${JSON.stringify(key)} not found`);
  }
  if (issue.code === "too_big") {
    const message =
      issue.path.length === 1
        ? `opts has more than ${limits.maxOpts} entries`
        : `an entry of opts is longer than ${MAX_OPT_LENGTH} characters`;
    throw new HasuraError(400, "parse-failed", message, { path });
  }
  const expected =
    issue.code === "invalid_type" ? capitalize(String(issue.expected)) : "a valid value";
  throw parseFailed(`expected ${expected}, but encountered ${typeName(value)}`, path);
};

/** One step of a JSON path as Hasura writes it: `.key` or `[index]`. */
const pathStep = (key: PropertyKey): string =>
  typeof key === "number" ? `[${key}]` : `.${String(key)}`;

const capitalize = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);

const lookup = (value: unknown, path: readonly PropertyKey[]): unknown =>
  path.reduce<unknown>(
    (current, key) =>
      current !== null && typeof current === "object"
        ? (current as Record<PropertyKey, unknown>)[key]
        : undefined,
    value,
  );
