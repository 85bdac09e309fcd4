/**
 * The crash test's database, and a way to take it away from the gateway.
 *
 * PostgreSQL (TEST_DATABASE_URL, or 127.0.0.1:5432 when it answers) in a
 * schema of its own, reached by the gateway processes through a TCP proxy in
 * the test process: an outage cuts every connection through it and refuses
 * new ones until it ends. Without PostgreSQL (or with CHAOS_DATABASE=sqlite):
 * one SQLite file shared by the gateway processes, and an outage holds
 * `BEGIN EXCLUSIVE` on it from the test, so that no process can write.
 *
 * The test reads the outcome directly (not through the proxy), to compare
 * tasks, job counters and history without depending on the gateway.
 */
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { dropSchema, newSchemaName, postgresUrl } from '../../support/postgres.js';

export interface TaskRowView {
  taskId: string;
  deviceId: string;
  status: string;
  historySeq: number;
}

export interface JobCounterRow {
  status: string;
  total: number;
  counters: Record<string, number>;
}

export interface HistoryProblem {
  taskId: string;
  rows: number;
  minSeq: number;
  maxSeq: number;
  historySeq: number | null;
}

/** The job table's counter column of each task state. */
export const COUNTER_COLUMNS: Record<string, string> = {
  QUEUED: 'queued',
  NOTIFYING: 'notifying',
  IN_SESSION: 'in_session',
  SCHEDULED: 'scheduled',
  IN_PROGRESS: 'in_progress',
  COMPLETED: 'completed',
  FAILED: 'failed',
  MISSED: 'missed',
  CANCELLED: 'cancelled',
  EXPIRED: 'expired',
};

export interface ChaosDatabase {
  kind: 'postgres' | 'sqlite';
  /** DATABASE_URL (and DATABASE_SCHEMA) for the gateway processes. */
  env: Record<string, string>;
  /** The database is unavailable to the gateway for `ms`; resolves when it is back. */
  outage(ms: number): Promise<void>;
  tasks(jobId: string): Promise<TaskRowView[]>;
  job(jobId: string): Promise<JobCounterRow | undefined>;
  /** Tasks whose history is not exactly seq 1..n with n = task.history_seq. */
  historyProblems(): Promise<HistoryProblem[]>;
  /** The webhook event id of every change of a task's state (`task-<taskId>-<seq>`). */
  taskStatusEvents(): Promise<string[]>;
  close(success: boolean): Promise<void>;
}

const HISTORY_PROBLEMS = `
  SELECT t.task_id AS "taskId", count(h.seq) AS "rows", min(h.seq) AS "minSeq", max(h.seq) AS "maxSeq",
         t.history_seq AS "historySeq"
  FROM task t LEFT JOIN task_history h ON h.task_id = t.task_id
  GROUP BY t.task_id, t.history_seq
  HAVING count(h.seq) <> t.history_seq OR min(h.seq) <> 1 OR max(h.seq) <> t.history_seq
     OR count(DISTINCT h.seq) <> count(h.seq)`;

const ORPHAN_HISTORY = `
  SELECT h.task_id AS "taskId", count(*) AS "rows", min(h.seq) AS "minSeq", max(h.seq) AS "maxSeq", NULL AS "historySeq"
  FROM task_history h LEFT JOIN task t ON t.task_id = h.task_id
  WHERE t.task_id IS NULL GROUP BY h.task_id`;

const TASK_STATUS_EVENTS = `SELECT 'task-' || task_id || '-' || seq AS "id" FROM task_history WHERE from_status <> to_status`;

const JOB_COLUMNS = ['status', 'total', ...Object.values(COUNTER_COLUMNS)];
/** PostgreSQL keeps part of a job's counters in job_counter_delta rows (src/persistence/job-counters.ts): row plus deltas, one statement. */
const PG_JOB = `SELECT j.status, j.total, ${Object.values(COUNTER_COLUMNS)
  .map((c) => `j.${c} + COALESCE((SELECT SUM(d.${c}) FROM job_counter_delta d WHERE d.job_id = j.job_id), 0) AS ${c}`)
  .join(', ')} FROM job j WHERE j.job_id = $1`;

function jobRow(r: Record<string, unknown> | undefined): JobCounterRow | undefined {
  if (!r) return undefined;
  const counters: Record<string, number> = {};
  for (const [state, column] of Object.entries(COUNTER_COLUMNS)) counters[state] = Number(r[column]);
  return { status: String(r.status), total: Number(r.total), counters };
}

const numbers = (r: Record<string, unknown>): HistoryProblem => ({
  taskId: String(r.taskId),
  rows: Number(r.rows),
  minSeq: Number(r.minSeq),
  maxSeq: Number(r.maxSeq),
  historySeq: r.historySeq === null ? null : Number(r.historySeq),
});

/** `want`: 'postgres' insists on PostgreSQL; otherwise CHAOS_DATABASE, else PostgreSQL when one answers, else SQLite. */
export async function openChaosDatabase(dir: string, log: (line: string) => void, want?: 'postgres'): Promise<ChaosDatabase> {
  const forced = want ?? process.env.CHAOS_DATABASE;
  const url = forced === 'sqlite' ? undefined : await postgresUrl();
  if (forced === 'postgres' && !url) throw new Error('CHAOS_DATABASE=postgres, but no PostgreSQL answers');
  if (url) return openPostgres(url, log);
  log('no PostgreSQL answers (or CHAOS_DATABASE=sqlite): one SQLite file shared by the gateway processes');
  return openSqlite(path.join(dir, 'dmwsi.sqlite'));
}

async function openPostgres(upstreamUrl: string, log: (line: string) => void): Promise<ChaosDatabase> {
  const upstream = new URL(upstreamUrl);
  const proxy = await OutageProxy.start(upstream.hostname, Number(upstream.port || 5432));
  const viaProxy = new URL(upstreamUrl);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const schema = newSchemaName();
  log(`PostgreSQL ${upstream.host}, schema ${schema}, through a proxy on 127.0.0.1:${proxy.port}`);
  const pool = new pg.Pool({ connectionString: upstreamUrl, max: 2, options: `-c search_path="${schema}"` });
  const rows = async (text: string, params: unknown[] = []) => (await pool.query(text, params)).rows as Record<string, unknown>[];
  return {
    kind: 'postgres',
    env: { DATABASE_URL: viaProxy.toString(), DATABASE_SCHEMA: schema },
    outage: (ms) => proxy.outage(ms),
    tasks: async (jobId) =>
      (
        await rows('SELECT task_id AS "taskId", device_id AS "deviceId", status, history_seq AS "historySeq" FROM task WHERE job_id = $1', [
          jobId,
        ])
      ).map((r) => ({ taskId: String(r.taskId), deviceId: String(r.deviceId), status: String(r.status), historySeq: Number(r.historySeq) })),
    job: async (jobId) => jobRow((await rows(PG_JOB, [jobId]))[0]),
    historyProblems: async () => [...(await rows(HISTORY_PROBLEMS)), ...(await rows(ORPHAN_HISTORY))].map(numbers),
    taskStatusEvents: async () => (await rows(TASK_STATUS_EVENTS)).map((r) => String(r.id)),
    close: async (success) => {
      await pool.end();
      await proxy.close();
      // Kept after a failure, to be looked at; the seed replays the run.
      if (success) await dropSchema(upstreamUrl, schema);
      else log(`schema ${schema} kept for inspection`);
    },
  };
}

function openSqlite(file: string): ChaosDatabase {
  let reader: Database.Database | undefined;
  const db = () => {
    // Opened on first use: the gateway creates the file.
    reader ??= new Database(file, { readonly: true, fileMustExist: true });
    reader.pragma('busy_timeout = 10000');
    return reader;
  };
  return {
    kind: 'sqlite',
    env: { DATABASE_URL: `sqlite:${file}` },
    outage: async (ms) => {
      const locker = new Database(file, { fileMustExist: true });
      try {
        locker.pragma('busy_timeout = 30000');
        locker.exec('BEGIN EXCLUSIVE');
        await new Promise((r) => setTimeout(r, ms));
        locker.exec('COMMIT');
      } finally {
        locker.close();
      }
    },
    tasks: async (jobId) =>
      (
        db()
          .prepare('SELECT task_id AS taskId, device_id AS deviceId, status, history_seq AS historySeq FROM task WHERE job_id = ?')
          .all(jobId) as TaskRowView[]
      ).map((r) => ({ ...r })),
    job: async (jobId) => jobRow(db().prepare(`SELECT ${JOB_COLUMNS.join(', ')} FROM job WHERE job_id = ?`).get(jobId) as Record<string, unknown>),
    historyProblems: async () =>
      [...db().prepare(HISTORY_PROBLEMS).all(), ...db().prepare(ORPHAN_HISTORY).all()].map((r) => numbers(r as Record<string, unknown>)),
    taskStatusEvents: async () => (db().prepare(TASK_STATUS_EVENTS).all() as { id: string }[]).map((r) => r.id),
    close: async () => {
      reader?.close();
    },
  };
}

/**
 * A TCP proxy whose outage cuts every connection and refuses new ones (a
 * database server that went away), then lets connections through again.
 */
class OutageProxy {
  private readonly open = new Set<net.Socket>();
  private down = false;

  private constructor(
    private readonly server: net.Server,
    private readonly host: string,
    private readonly upstreamPort: number,
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  static async start(host: string, upstreamPort: number): Promise<OutageProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new OutageProxy(server, host, upstreamPort);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  private accept(client: net.Socket): void {
    if (this.down) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: this.host, port: this.upstreamPort });
    for (const s of [client, upstream]) {
      this.open.add(s);
      s.once('close', () => this.open.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  }

  async outage(ms: number): Promise<void> {
    this.down = true;
    for (const s of this.open) s.destroy();
    await new Promise((r) => setTimeout(r, ms));
    this.down = false;
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
