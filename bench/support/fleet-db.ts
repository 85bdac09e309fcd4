/**
 * Helpers of the fleet benchmark (bench/fleet-bench.ts): a read-only view of
 * the gateway's SQLite task and task_history tables (WAL: reading never
 * blocks the gateway's writes), the job counters of getJobById, and the pid
 * of a local Redis server.
 */
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';

export const TERMINAL_STATUSES = ['COMPLETED', 'FAILED', 'MISSED', 'CANCELLED', 'EXPIRED'] as const;

/** getJobById's counters (JobData). */
export interface JobCounters {
  status: string;
  total: number;
  queued: number;
  notifying: number;
  inSession: number;
  scheduled: number;
  inProgress: number;
  completed: number;
  failed: number;
  missed: number;
  cancelled: number;
  expired: number;
}

const COUNTER_NAMES = ['total', 'queued', 'notifying', 'inSession', 'scheduled', 'inProgress', 'completed', 'failed', 'missed', 'cancelled', 'expired'] as const;

/** Reads JobData out of a getJobById answer (elements are unprefixed). */
export function parseJobData(xml: string): JobCounters {
  const text = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
  const status = text('status');
  if (status === undefined) throw new Error(`no JobData in the answer: ${xml.slice(0, 300)}`);
  const out = { status } as JobCounters;
  for (const n of COUNTER_NAMES) out[n] = Number(text(n) ?? Number.NaN);
  return out;
}

/** Tasks past arming: SCHEDULED, or ended (a task that failed to arm will not be SCHEDULED). */
export const armedOrEnded = (c: JobCounters) => c.scheduled + ended(c);
export const ended = (c: JobCounters) => c.completed + c.failed + c.missed + c.cancelled + c.expired;

/** Percentiles (0..1) of the times of one kind of task transition, in epoch ms. */
export interface TransitionTimes {
  count: number;
  first: number | undefined;
  last: number | undefined;
  /** Time at each asked percentile, in the order asked. */
  at: (number | undefined)[];
}

export class FleetDb {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file, { readonly: true, fileMustExist: true });
    this.db.pragma('busy_timeout = 5000');
  }

  /** The job's tasks by status, from the task table. */
  taskCounts(jobId: string): Record<string, number> {
    const out: Record<string, number> = {};
    const rows = this.db.prepare('SELECT status, count(*) AS n FROM task WHERE job_id = ? GROUP BY status').all(jobId) as {
      status: string;
      n: number;
    }[];
    for (const r of rows) out[r.status] = r.n;
    return out;
  }

  /** The job's task status and result code per device id. */
  taskStatuses(jobId: string): Map<string, { status: string; code: number | null }> {
    const rows = this.db.prepare('SELECT device_id AS id, status, result_code AS code FROM task WHERE job_id = ?').all(jobId) as {
      id: string;
      status: string;
      code: number | null;
    }[];
    return new Map(rows.map((r) => [r.id, { status: r.status, code: r.code }]));
  }

  /** task_history rows (all tasks) and how many there are per event. */
  historyRows(): { total: number; byEvent: [string, number][] } {
    const rows = this.db.prepare('SELECT event, count(*) AS n FROM task_history GROUP BY event ORDER BY n DESC').all() as {
      event: string;
      n: number;
    }[];
    return { total: rows.reduce((a, r) => a + r.n, 0), byEvent: rows.map((r) => [r.event, r.n]) };
  }

  /**
   * When tasks moved into one of `statuses` (history rows whose status changed,
   * not notes), from `since` (epoch ms) on: count, first, last and percentiles.
   */
  transitionTimes(statuses: readonly string[], since = 0, percentiles: readonly number[] = []): TransitionTimes {
    const inList = statuses.map(() => '?').join(',');
    const where = `to_status IN (${inList}) AND (from_status IS NULL OR from_status <> to_status) AND at >= ?`;
    const args = [...statuses, since];
    const agg = this.db.prepare(`SELECT count(*) AS n, min(at) AS first, max(at) AS last FROM task_history WHERE ${where}`).get(...args) as {
      n: number;
      first: number | null;
      last: number | null;
    };
    const nth = this.db.prepare(`SELECT at FROM task_history WHERE ${where} ORDER BY at LIMIT 1 OFFSET ?`);
    const at = percentiles.map((p) => {
      if (agg.n === 0) return undefined;
      const row = nth.get(...args, Math.min(agg.n - 1, Math.floor(p * agg.n))) as { at: number } | undefined;
      return row?.at;
    });
    return { count: agg.n, first: agg.first ?? undefined, last: agg.last ?? undefined, at };
  }

  close(): void {
    this.db.close();
  }
}

/** The pid of a Redis server on this machine (INFO server), for its RSS and CPU. */
export async function localRedisPid(redisUrl: string): Promise<number | undefined> {
  const host = new URL(redisUrl).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) return undefined;
  const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    const m = /process_id:(\d+)/.exec(await r.info('server'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  } finally {
    r.disconnect();
  }
}

/** Resident set size of a process now (VmRSS from /proc, Linux). */
export async function currentRssOf(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const { readFile } = await import('node:fs/promises');
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS every `everyMs` and remembers the highest and when (performance.now()). */
export class RssWatch {
  peak = 0;
  peakAt = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(pid: number | undefined, everyMs = 250) {
    this.timer = setInterval(() => {
      void currentRssOf(pid).then((rss) => {
        if (rss !== undefined && rss > this.peak) {
          this.peak = rss;
          this.peakAt = performance.now();
        }
      });
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** From the gateway's /metrics: DM messages answered so far, and its heap (prom-client's default metrics). */
export interface GatewayMetricsSample {
  dmMessages: number;
  heapUsed: number | undefined;
  heapTotal: number | undefined;
  external: number | undefined;
}

export async function gatewayMetrics(gatewayBase: string, timeoutMs = 5000): Promise<GatewayMetricsSample | undefined> {
  const r = await fetch(`${gatewayBase}/metrics`, { signal: AbortSignal.timeout(timeoutMs) }).catch(() => undefined);
  if (!r?.ok) return undefined;
  const text = await r.text();
  let dmMessages = 0;
  for (const m of text.matchAll(/^dmwsi_dm_message_duration_seconds_count\{status="\d+"\} (\d+)/gm)) dmMessages += Number(m[1]);
  const gauge = (name: string) => {
    const m = new RegExp(`^${name} (\\S+)`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  return {
    dmMessages,
    heapUsed: gauge('dmwsi_nodejs_heap_size_used_bytes'),
    heapTotal: gauge('dmwsi_nodejs_heap_size_total_bytes'),
    external: gauge('dmwsi_nodejs_external_memory_bytes'),
  };
}
