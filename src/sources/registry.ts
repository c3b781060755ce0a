/**
 * Where the gateway finds a source's connection by its name. Hasura gives the connection
 * of `HASURA_GRAPHQL_DATABASE_URL` the name `default`.
 */

export interface Source {
  name: string;
  connectionString: string;
}

export interface SourceRegistry {
  find: (name: string) => Promise<Source | undefined>;
  /** Every source; a registry without it is taken to hold `default` only. */
  list?: () => Promise<Source[]>;
}

/**
 * A registry of fixed sources, such as the `default` one from the environment.
 *
 * @example
 * const sources = staticSources({ default: process.env.HASURA_GRAPHQL_DATABASE_URL });
 */
export const staticSources = (
  connections: Readonly<Record<string, string | undefined>>,
): SourceRegistry => ({
  find: async (name) => {
    if (!Object.hasOwn(connections, name)) return undefined;
    const connectionString = connections[name];
    return connectionString === undefined ? undefined : { name, connectionString };
  },
  list: async () =>
    Object.entries(connections).flatMap(([name, connectionString]) =>
      connectionString === undefined ? [] : [{ name, connectionString }],
    ),
});
