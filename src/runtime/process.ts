/**
 * The one thing the app needs from a runtime: starting a process whose output arrives as
 * web streams. Bun, Deno and Node each implement it in their adapter file.
 */

export interface ExitStatus {
  /** The exit code, or null when a signal ended the process. */
  code: number | null;
  signal: string | null;
}

export interface SpawnOptions {
  /** The child's whole environment; nothing is inherited from the gateway. */
  env: Record<string, string>;
}

export interface ChildProcess {
  pid: number | undefined;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  /** Settles once the process has exited and been reaped. */
  exited: Promise<ExitStatus>;
  kill: (signal?: "SIGTERM" | "SIGKILL") => void;
}

/**
 * Starts a process; rejects when it cannot be started at all (missing executable, no
 * permission), so callers can tell that apart from a process that started and failed.
 */
export type SpawnProcess = (
  command: string,
  args: readonly string[],
  options: SpawnOptions,
) => Promise<ChildProcess>;

export interface Runtime {
  name: "bun" | "deno" | "node";
  spawn: SpawnProcess;
}
