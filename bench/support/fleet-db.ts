/**
 * Helpers of the fleet benchmark (bench/fleet-bench.ts): a read-only view of
 * the gateway's task and task_history tables (its SQLite file or its
 * PostgreSQL schema), the job counters of getJobById, and the pid of a local
 * Redis server.
 */
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';

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

/** Read-only queries of the figures, against whichever database the gateway processes share. */
export interface FleetDb {
  /** The job's tasks by status, from the task table. */
  taskCounts(jobId: string): Promise<Record<string, number>>;
  /** The job's task status and result code per device id. */
  taskStatuses(jobId: string): Promise<Map<string, { status: string; code: number | null }>>;
  /** task_history rows (all tasks) and how many there are per event. */
  historyRows(): Promise<{ total: number; byEvent: [string, number][] }>;
  /**
   * When tasks moved into one of `statuses` (history rows whose status changed,
   * not notes), from `since` (epoch ms) on: count, first, last and percentiles.
   */
  transitionTimes(statuses: readonly string[], since?: number, percentiles?: readonly number[]): Promise<TransitionTimes>;
  /** The job's first `limit` tasks not in an end state, with their whole history (a run that did not end). */
  openTasks(jobId: string, limit: number): Promise<OpenTask[]>;
  /** What each wake of the job's devices led to (see Wakes), from task_history. */
  wakes(jobId: string): Promise<Wakes>;
  close(): Promise<void>;
}

/**
 * The wakes of a job's devices: each notification delivered for a task before it was armed or ended
 * (its first and every retry), by the task's state then, and whether the task was armed or ended
 * before its next one (a retry tail: the share not followed by that is what each further wake has
 * to overcome). The last wake of a task still open is left out (its outcome is not known yet).
 */
export interface Wakes {
  byState: Record<string, { wakes: number; followedByEnd: number }>;
  /** Tasks by the notifications delivered before they were armed or ended (open tasks: so far). */
  tasksByWakes: Record<number, number>;
}

/** A task left open at the end of a run, and its history rows as `at from -> to event code detail`. */
export interface OpenTask {
  taskId: string;
  deviceId: string;
  status: string;
  updatedAt: number;
  releasedAt: number | undefined;
  history: string[];
}

/** One statement with numbered parameters (`$1`...), rows with numbers for bigint/count columns. */
type Query = (sql: string, args: unknown[]) => Promise<Record<string, unknown>[]>;

const num = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));

/** The queries, written once for both databases (SQLite takes `?`, PostgreSQL `$n`: `q` renumbers). */
class SqlFleetDb implements FleetDb {
  constructor(
    private readonly query: Query,
    private readonly closer: () => Promise<void>,
  ) {}

  async taskCounts(jobId: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const r of await this.query('SELECT status, count(*) AS n FROM task WHERE job_id = $1 GROUP BY status', [jobId])) {
      out[String(r.status)] = Number(r.n);
    }
    return out;
  }

  async taskStatuses(jobId: string): Promise<Map<string, { status: string; code: number | null }>> {
    const rows = await this.query('SELECT device_id AS id, status, result_code AS code FROM task WHERE job_id = $1', [jobId]);
    return new Map(rows.map((r) => [String(r.id), { status: String(r.status), code: r.code === null ? null : Number(r.code) }]));
  }

  async historyRows(): Promise<{ total: number; byEvent: [string, number][] }> {
    const rows = await this.query('SELECT event, count(*) AS n FROM task_history GROUP BY event ORDER BY n DESC', []);
    const byEvent = rows.map((r): [string, number] => [String(r.event), Number(r.n)]);
    return { total: byEvent.reduce((a, [, n]) => a + n, 0), byEvent };
  }

  async transitionTimes(statuses: readonly string[], since = 0, percentiles: readonly number[] = []): Promise<TransitionTimes> {
    const inList = statuses.map((_, i) => `$${i + 1}`).join(',');
    const sinceArg = `$${statuses.length + 1}`;
    const where = `to_status IN (${inList}) AND (from_status IS NULL OR from_status <> to_status) AND at >= ${sinceArg}`;
    const args = [...statuses, since];
    const [agg] = await this.query(`SELECT count(*) AS n, min(at) AS first, max(at) AS last FROM task_history WHERE ${where}`, args);
    const n = Number(agg?.n ?? 0);
    const at: (number | undefined)[] = [];
    for (const p of percentiles) {
      if (n === 0) {
        at.push(undefined);
        continue;
      }
      const offset = Math.min(n - 1, Math.floor(p * n));
      const [row] = await this.query(`SELECT at FROM task_history WHERE ${where} ORDER BY at LIMIT 1 OFFSET $${args.length + 1}`, [...args, offset]);
      at.push(num(row?.at));
    }
    return { count: n, first: num(agg?.first), last: num(agg?.last), at };
  }

  async openTasks(jobId: string, limit: number): Promise<OpenTask[]> {
    const ended = TERMINAL_STATUSES.map((_, i) => `$${i + 2}`).join(',');
    const rows = await this.query(
      `SELECT task_id, device_id, status, updated_at, released_at FROM task WHERE job_id = $1 AND status NOT IN (${ended}) ORDER BY updated_at LIMIT $${TERMINAL_STATUSES.length + 2}`,
      [jobId, ...TERMINAL_STATUSES, limit],
    );
    const out: OpenTask[] = [];
    for (const r of rows) {
      const history = await this.query('SELECT at, from_status, to_status, event, code, detail FROM task_history WHERE task_id = $1 ORDER BY seq', [r.task_id]);
      out.push({
        taskId: String(r.task_id),
        deviceId: String(r.device_id),
        status: String(r.status),
        updatedAt: Number(r.updated_at),
        releasedAt: num(r.released_at),
        history: history.map(
          (h) =>
            `${new Date(Number(h.at)).toISOString()} ${h.from_status ?? '-'} -> ${h.to_status} ${h.event}${h.code === null ? '' : ` ${h.code}`}${h.detail ? `: ${h.detail}` : ''}`,
        ),
      });
    }
    return out;
  }

  async wakes(jobId: string): Promise<Wakes> {
    const rows = await this.query(
      'SELECT h.task_id, h.at, h.from_status, h.to_status, h.event FROM task_history h JOIN task t ON t.task_id = h.task_id WHERE t.job_id = $1 ORDER BY h.task_id, h.seq',
      [jobId],
    );
    const out: Wakes = { byState: {}, tasksByWakes: {} };
    const settled = new Set(['SCHEDULED', 'IN_PROGRESS', ...TERMINAL_STATUSES]);
    const flush = (history: Record<string, unknown>[]) => {
      if (history.length === 0) return;
      const end = history.find((h) => settled.has(String(h.to_status)) && h.from_status !== h.to_status);
      const endAt = end === undefined ? Number.POSITIVE_INFINITY : Number(end.at);
      const wakes = history.filter((h) => h.event === 'notification-delivered' && Number(h.at) < endAt);
      out.tasksByWakes[wakes.length] = (out.tasksByWakes[wakes.length] ?? 0) + 1;
      wakes.forEach((w, i) => {
        if (end === undefined && i === wakes.length - 1) return;
        const next = i + 1 < wakes.length ? Number(wakes[i + 1]!.at) : Number.POSITIVE_INFINITY;
        const state = String(w.to_status);
        const s = out.byState[state] ?? { wakes: 0, followedByEnd: 0 };
        out.byState[state] = s;
        s.wakes++;
        if (endAt < next) s.followedByEnd++;
      });
    };
    let current: Record<string, unknown>[] = [];
    for (const r of rows) {
      if (current.length > 0 && current[0]!.task_id !== r.task_id) {
        flush(current);
        current = [];
      }
      current.push(r);
    }
    flush(current);
    return out;
  }

  close(): Promise<void> {
    return this.closer();
  }
}

/** The gateway's SQLite file, read-only (WAL: reading never blocks the gateway's writes). */
export function sqliteFleetDb(file: string): FleetDb {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  // better-sqlite3 binds `$1` only by name: make the numbered parameters positional.
  const query: Query = async (sql, args) => db.prepare(sql.replace(/\$\d+/g, '?')).all(...args) as Record<string, unknown>[];
  return new SqlFleetDb(query, async () => {
    db.close();
  });
}

/** The gateway's PostgreSQL schema, over one connection of the bench's own. */
export function postgresFleetDb(url: string, schema: string): FleetDb {
  const pool = new pg.Pool({ connectionString: url, max: 1, options: `-c search_path="${schema.replace(/"/g, '')}"` });
  const query: Query = async (sql, args) => (await pool.query(sql, args)).rows as Record<string, unknown>[];
  return new SqlFleetDb(query, () => pool.end());
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

/** Resident set size of a process now (VmRSS from /proc, Linux); read synchronously, as it is sampled 4 times a second. */
export async function currentRssOf(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
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
