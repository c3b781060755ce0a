/**
 * Keeps count of the dumps in flight: it enforces the concurrency limit and the time limit,
 * and lets shutdown wait for running dumps, then stop the ones that are left.
 */

import type { RunningDump, StopReason } from "./run.ts";

/**
 * The registry of running dumps, one per gateway.
 *
 * @example
 * if (!tracker.reserve()) throw tooManyDumps();
 * tracker.track(await startDump(plan, environment));
 */
export class DumpTracker {
  #reserved = 0;
  #running = new Set<RunningDump>();
  #closed = false;
  #idle: (() => void)[] = [];

  constructor(
    private readonly limit: number,
    private readonly timeoutMs: number,
  ) {}

  /** Dumps reserved or running. */
  get active(): number {
    return this.#reserved;
  }

  /** Takes a slot for a dump about to start; false when the limit is reached or closing. */
  reserve = (): boolean => {
    if (this.#closed || this.#reserved >= this.limit) return false;
    this.#reserved++;
    return true;
  };

  /** Gives back a slot whose dump never started. */
  release = (): void => {
    this.#reserved--;
    if (this.#reserved === 0) for (const wake of this.#idle.splice(0)) wake();
  };

  /** Watches a started dump until it ends, stopping it when it runs past the time limit. */
  track = (dump: RunningDump): void => {
    this.#running.add(dump);
    const timer =
      this.timeoutMs > 0 ? setTimeout(() => dump.stop("timed-out"), this.timeoutMs) : undefined;
    void dump.result.finally(() => {
      clearTimeout(timer);
      this.#running.delete(dump);
      this.release();
    });
  };

  /** Refuses new dumps from now on. */
  close = (): void => {
    this.#closed = true;
  };

  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves true once no dump is active, or false when `ms` pass first. */
  drain = (ms: number): Promise<boolean> => {
    if (this.#reserved === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  };

  /** Stops every running dump and waits until each has been reaped. */
  stopAll = async (reason: StopReason): Promise<void> => {
    const running = [...this.#running];
    for (const dump of running) dump.stop(reason);
    await Promise.all(running.map((dump) => dump.result));
  };
}
