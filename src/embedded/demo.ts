/**
 * The sample schema of the embedded demo database: the `author` table Hasura's docs use.
 */

import postgres from "postgres";

/**
 * Creates the demo schema and a few rows in the database at `url`.
 *
 * @example
 * await seedDemoSchema(cluster.url);
 */
export const seedDemoSchema = async (url: string): Promise<void> => {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`CREATE TABLE IF NOT EXISTS public.author (id serial, name text NOT NULL)`;
    await sql`INSERT INTO public.author (name) VALUES ('Ada'), ('Grace'), ('Edsger')`;
  } finally {
    await sql.end();
  }
};
