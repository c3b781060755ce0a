/**
 * Hasura's rules for deciding whether a request acts as the `admin` role. The pg_dump API
 * is admin-only, so this is the whole of authorization here.
 */

import type { Config } from "../config/env.ts";
import {
  adminSecretRequired,
  type HasuraError,
  invalidAdminSecret,
  notAdmin,
} from "../http/errors.ts";

type HeaderLookup = (name: string) => string | undefined;

const ADMIN_ROLE = "admin";

const encoder = new TextEncoder();

const sha256 = async (value: string): Promise<Uint8Array> =>
  new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(value)));

/**
 * Compares two secrets without leaking, through timing, how much of them matched: both
 * sides are hashed first so the loop always runs over 32 bytes, whatever their lengths.
 */
export const secretsMatch = async (given: string, expected: string): Promise<boolean> => {
  const [a, b] = await Promise.all([sha256(given), sha256(expected)]);
  let difference = 0;
  for (let index = 0; index < a.length; index++) {
    difference |= (a[index] ?? 0) ^ (b[index] ?? 0);
  }
  return difference === 0;
};

const matchesAny = async (given: string, secrets: readonly string[]): Promise<boolean> => {
  // Every configured secret is compared, so the time does not tell which one matched.
  const results = await Promise.all(secrets.map((secret) => secretsMatch(given, secret)));
  return results.includes(true);
};

/**
 * Decides the role of a request; returns the error to answer with when it is not admin.
 *
 * @example
 * const denied = await checkAdmin((name) => c.req.header(name), config);
 * if (denied) return denied.toResponse();
 */
export const checkAdmin = async (
  header: HeaderLookup,
  config: Pick<Config, "adminSecrets" | "unauthorizedRole">,
): Promise<HasuraError | undefined> => {
  const requestedRole = header("x-hasura-role");

  if (config.adminSecrets.length === 0) {
    return (requestedRole ?? ADMIN_ROLE) === ADMIN_ROLE ? undefined : notAdmin();
  }

  const given = header("x-hasura-admin-secret") ?? header("x-hasura-access-key");
  if (given !== undefined) {
    if (!(await matchesAny(given, config.adminSecrets))) return invalidAdminSecret();
    return (requestedRole ?? ADMIN_ROLE) === ADMIN_ROLE ? undefined : notAdmin();
  }

  // Without the secret header, JWT or a webhook could grant a role in Hasura, but never the
  // admin role for an endpoint like this one unless the token says so; the gateway does
  // not verify tokens, so only the unauthorized role can apply here.
  if (config.unauthorizedRole !== undefined) {
    return config.unauthorizedRole === ADMIN_ROLE ? undefined : notAdmin();
  }
  return adminSecretRequired();
};
