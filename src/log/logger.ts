/**
 * Structured logs: one JSON object per line with `type`, `timestamp`, `level` and
 * `detail`, the shape Hasura's logs have, so one log pipeline reads both.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVEL_ORDER: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  log: (type: string, level: LogLevel, detail: unknown) => void;
}

/**
 * A logger that writes JSON lines through `write`, dropping levels below `minimum`.
 *
 * @example
 * const logger = jsonLogger((line) => process.stdout.write(line));
 * logger.log("startup", "info", { message: "listening", port: 8080 });
 */
export const jsonLogger = (
  write: (line: string) => void,
  minimum: LogLevel = "info",
  types?: ReadonlySet<string>,
): Logger => ({
  log: (type, level, detail) => {
    if (LEVEL_ORDER[level] < LEVEL_ORDER[minimum]) return;
    // Start-up and shutdown lines are always written, as Hasura always writes `startup`.
    if (types !== undefined && type !== "startup" && !types.has(type)) return;
    const entry = { type, timestamp: new Date().toISOString(), level, detail };
    write(`${JSON.stringify(entry)}\n`);
  },
});

/** A logger that keeps entries in memory, for tests that read what was logged. */
export const memoryLogger = (): Logger & {
  entries: { type: string; level: LogLevel; detail: unknown }[];
} => {
  const entries: { type: string; level: LogLevel; detail: unknown }[] = [];
  return { entries, log: (type, level, detail) => entries.push({ type, level, detail }) };
};
