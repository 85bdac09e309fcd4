/**
 * Runs DeploymentBroker.retryStalled (and BulkOperations.resumeCancels)
 * every few seconds in each worker process, one process at a time (a lock in
 * Redis): cheap queries, and the only thing that notices work whose every
 * trigger was lost (see retryStalled).
 */
import type { Logger } from 'pino';

export interface SweepLock {
  lock(key: string, ms: number): Promise<boolean>;
}

export interface StallSweeperOptions {
  retryStalled: (retryMs: number) => Promise<number>;
  /** Queues again the cancel pass of cancelled jobs that still have waiting tasks (BulkOperations.resumeCancels). */
  resumeCancels?: () => Promise<number>;
  /** Has the tick of filter jobs whose task writer died finish writing them (BulkOperations.resumeExpansions). */
  resumeExpansions?: () => Promise<number>;
  lock: SweepLock;
  logger: Logger;
  /** A task waits this long without progress before it is retried (TASK_RETRY_SECONDS). */
  retryMs: number;
}

/** A quarter of the retry interval between sweeps, within 1 to 30 s. */
export function sweepIntervalMs(retryMs: number): number {
  return Math.min(30_000, Math.max(1_000, Math.floor(retryMs / 4)));
}

/** Starts sweeping; the returned function stops it (and waits for a sweep in progress). */
export function startStallSweeper(o: StallSweeperOptions): () => Promise<void> {
  const every = sweepIntervalMs(o.retryMs);
  let running: Promise<void> | undefined;
  const sweep = async () => {
    // Held for the interval, not released: sweeps of several processes then run one interval apart.
    if (!(await o.lock.lock('stall-sweep', every))) return;
    const retried = await o.retryStalled(o.retryMs);
    if (retried > 0) o.logger.info({ retried }, 'woke devices of tasks that had stopped moving');
    const cancels = (await o.resumeCancels?.()) ?? 0;
    if (cancels > 0) o.logger.info({ jobs: cancels }, 'queued again the cancel of cancelled jobs with waiting tasks');
    const expansions = (await o.resumeExpansions?.()) ?? 0;
    if (expansions > 0) o.logger.info({ jobs: expansions }, 'queued the tick of filter jobs whose tasks were left half written');
  };
  const timer = setInterval(() => {
    if (running) return;
    running = sweep()
      .catch((err: unknown) => o.logger.warn({ err }, 'stalled-task sweep failed; trying again at the next one'))
      .finally(() => {
        running = undefined;
      });
  }, every);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
