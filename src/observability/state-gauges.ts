/**
 * Gauges read at scrape time: tasks and jobs by state (the database) and the
 * BullMQ queue's jobs by state (Redis). Each reading is cached for `ttlMs`,
 * and scrapes arriving while one is being read share it, so a scrape storm
 * (several Prometheus servers, a dashboard refreshing) costs the database one
 * grouped COUNT per table per `ttlMs` at most (the ended tasks' per
 * `endedTtlMs`). A failed reading keeps the last values (logged,
 * rate-limited): /metrics still answers.
 *
 * The figures are cluster-wide, so only one kind of process should export
 * them (the gateway registers them in processes serving the API: role `all`
 * or `api`); several API processes export the same figures, to be read with
 * max() rather than sum().
 */
import client from 'prom-client';
import type { Logger } from 'pino';

export interface StateSources {
  /** Tasks per open state (every known state is exported, 0 when absent). */
  openTasks(): Promise<Map<string, number>>;
  /** Tasks per ended state: a count that only grows, read every `endedTtlMs`. */
  endedTasks(): Promise<Map<string, number>>;
  jobs(): Promise<Map<string, number>>;
  /** Jobs per state of each BullMQ queue. */
  queues(): Promise<Map<string, Record<string, number>>>;
}

export interface StateGaugeOptions {
  openTaskStates: readonly string[];
  endedTaskStates: readonly string[];
  jobStates: readonly string[];
  ttlMs: number;
  /** How long the ended tasks' counts are kept (reading them costs a scan of every ended task's index entry). */
  endedTtlMs: number;
  logger: Logger;
}

/** A reading cached for ttlMs; callers arriving during a read share it. */
export class CachedReading<T> {
  private value: T | undefined;
  private readAt = Number.NEGATIVE_INFINITY;
  private pending: Promise<T | undefined> | undefined;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly ttlMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** The cached value, read again when older than ttlMs; the last good one when the read fails. */
  get(): Promise<T | undefined> {
    if (this.now() - this.readAt < this.ttlMs) return Promise.resolve(this.value);
    this.pending ??= this.read()
      .then(
        (v) => {
          this.value = v;
          this.readAt = this.now();
          return v;
        },
        (err: unknown) => {
          this.onError(err);
          return this.value;
        },
      )
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }
}

const ERROR_LOG_MS = 60_000;

export function registerStateGauges(registry: client.Registry, sources: StateSources, o: StateGaugeOptions): void {
  let loggedAt = Number.NEGATIVE_INFINITY;
  const onError = (what: string) => (err: unknown) => {
    const now = Date.now();
    if (now - loggedAt < ERROR_LOG_MS) return;
    loggedAt = now;
    o.logger.warn({ err: (err as Error)?.message ?? String(err), what }, 'metrics: could not read a gauge; exporting the last values');
  };
  const openTasks = new CachedReading(sources.openTasks, o.ttlMs, onError('open tasks by state'));
  const endedTasks = new CachedReading(sources.endedTasks, o.endedTtlMs, onError('ended tasks by state'));
  const jobs = new CachedReading(sources.jobs, o.ttlMs, onError('jobs by state'));
  const queues = new CachedReading(sources.queues, o.ttlMs, onError('queue depths'));

  new client.Gauge<'state'>({
    name: 'dmwsi_tasks',
    help: 'Tasks in the database by state (cluster-wide; read at scrape time, cached: open states briefly, ended ones longer)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const [open, ended] = await Promise.all([openTasks.get(), endedTasks.get()]);
      if (open) for (const state of o.openTaskStates) this.set({ state }, open.get(state) ?? 0);
      if (ended) for (const state of o.endedTaskStates) this.set({ state }, ended.get(state) ?? 0);
    },
  });
  new client.Gauge<'state'>({
    name: 'dmwsi_jobs',
    help: 'Bulk jobs in the database by state (cluster-wide; read at scrape time, cached briefly)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = await jobs.get();
      if (counts) for (const state of o.jobStates) this.set({ state }, counts.get(state) ?? 0);
    },
  });
  new client.Gauge<'queue' | 'state'>({
    name: 'dmwsi_queue_jobs',
    help: 'BullMQ jobs per queue and state (waiting, active, delayed, failed; cluster-wide, read at scrape time)',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      const counts = await queues.get();
      if (!counts) return;
      for (const [queue, byState] of counts) {
        for (const [state, n] of Object.entries(byState)) this.set({ queue, state }, n);
      }
    },
  });
}
