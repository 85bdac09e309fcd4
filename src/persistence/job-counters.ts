/**
 * A job's per-state task counters on PostgreSQL: the job row's columns plus
 * the job's rows in job_counter_delta (migration JobCounterDeltas).
 *
 * Why: every task move used to update its job's counters in the move's
 * transaction, so on PostgreSQL every move of a rollout, in every process,
 * queued for that one row lock and held it until its Node process got round
 * to sending COMMIT (in the fleet bench with split roles, most waiting
 * backends waited there). A move now inserts one delta row (+1 to its new
 * state, -1 to its old one), which locks nothing shared.
 *
 * Exactness: the counters are always read as job row + delta rows in one
 * statement (one snapshot), and `fold` moves the deltas into the job row in
 * one statement too (it deletes the rows it adds up, and adds what it
 * deleted), so a reader sees either before or after a fold, never half. Two
 * folds never add a row twice: the second waits on the first's row locks and
 * then skips the rows it deleted.
 *
 * A job's end: with no shared row, two moves that end a job's last two tasks
 * concurrently may each see the other's as not yet done. So on PostgreSQL a
 * unit of work that ended a job's task looks again once it has committed
 * (`finishAfterCommit`): the later of the two sees both. The fold loop looks
 * too, which covers a process that died between its COMMIT and that look
 * (its delta row is still there to fold). A move on its own that saw more
 * tasks of its job open than the server has connections does not look: the
 * moves it could not see are fewer, so one of them commits after it and
 * looks (see MAY_END_JOB in task-store.ts). If one did not (a unit of work
 * holding many of the job's moves committed while that move's statement
 * ran, and looked before it committed), the fold finishes the job.
 *
 * SQLite runs one writer at a time (transactor.ts): its moves update the job
 * row as before, in the move's transaction, and the delta table stays empty.
 */
import type { DataSource, EntityManager } from 'typeorm';
import type { JobStatus, TaskStatus } from '../domain/tasks.js';
import { execute, queryRows, type Statement, sql } from './raw-sql.js';

/** Each task state's counter column on the job row (and on job_counter_delta). */
export const COUNTER_COLUMN: Record<TaskStatus, string> = {
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

/** Column and the property name readers expect (JobRow). */
const COUNTERS: [string, string][] = [
  ['queued', 'queued'],
  ['notifying', 'notifying'],
  ['in_session', 'inSession'],
  ['scheduled', 'scheduled'],
  ['in_progress', 'inProgress'],
  ['completed', 'completed'],
  ['failed', 'failed'],
  ['missed', 'missed'],
  ['cancelled', 'cancelled'],
  ['expired', 'expired'],
];

/** Whether the counters of jobs in this database live partly in delta rows. */
export function countsInDeltas(em: EntityManager): boolean {
  return em.connection.options.type === 'postgres';
}

/**
 * The counters as select expressions over the job row `"j"` (SQLite), or
 * over `"j"` and its summed delta rows `"d"` (PostgreSQL, with DELTAS_JOIN).
 */
export function counterColumns(deltas: boolean): string {
  return COUNTERS.map(([col, prop]) =>
    deltas ? `CAST("j"."${col}" + COALESCE("d"."${col}", 0) AS integer) AS "${prop}"` : `"j"."${col}" AS "${prop}"`,
  ).join(', ');
}

/** PostgreSQL: each job row `"j"` joined with the sums of its delta rows as `"d"`. */
export const DELTAS_JOIN =
  `LEFT JOIN LATERAL (SELECT ${COUNTERS.map(([c]) => `SUM("x"."${c}") AS "${c}"`).join(', ')} ` +
  'FROM "job_counter_delta" "x" WHERE "x"."job_id" = "j"."job_id") "d" ON TRUE';

/** The delta row of a move (or of `n` new tasks in `to`), inserted from the `"moved"` CTE's job_id, or by value. */
export function deltaValues(from: TaskStatus | undefined, to: TaskStatus): { columns: string; values: string } {
  const cols = [`"${COUNTER_COLUMN[to]}"`];
  const vals = ['1'];
  if (from !== undefined && from !== to) {
    cols.push(`"${COUNTER_COLUMN[from]}"`);
    vals.push('-1');
  }
  return { columns: cols.join(', '), values: vals.join(', ') };
}

const ADD_DELTA = new Map<string, Statement>();
/** A delta row by value (a task inserted or moved outside the one-statement move). */
export async function addDelta(em: EntityManager, jobId: string, from: TaskStatus | undefined, to: TaskStatus): Promise<void> {
  const key = `${from ?? ''}>${to}`;
  let s = ADD_DELTA.get(key);
  if (!s) {
    const { columns, values } = deltaValues(from, to);
    s = sql(`INSERT INTO "job_counter_delta" ("job_id", ${columns}) VALUES (?, ${values})`);
    ADD_DELTA.set(key, s);
  }
  await execute(em, s, [jobId]);
}

/**
 * One statement: deletes the job's delta rows and adds what it deleted to
 * the job row. Rows committed after its snapshot stay for the next fold.
 */
const FOLD = sql(
  `WITH "gone" AS (DELETE FROM "job_counter_delta" WHERE "job_id" = ? RETURNING *), ` +
    `"s" AS (SELECT COUNT(*) AS "n", ${COUNTERS.map(([c]) => `COALESCE(SUM("${c}"), 0) AS "${c}"`).join(', ')} FROM "gone") ` +
    `UPDATE "job" SET ${COUNTERS.map(([c]) => `"${c}" = "job"."${c}" + "s"."${c}"`).join(', ')} ` +
    'FROM "s" WHERE "job"."job_id" = ? AND "s"."n" > 0',
);
const JOBS_WITH_DELTAS = sql('SELECT DISTINCT "job_id" AS "jobId" FROM "job_counter_delta" LIMIT ?');

export interface JobProgress {
  status: string;
  total: number;
  completed: number;
  failed: number;
  missed: number;
  cancelled: number;
  expired: number;
  historySeq: number;
}

const PROGRESS_COLUMNS = (deltas: boolean) =>
  '"j"."status" AS "status", "j"."total" AS "total", "j"."history_seq" AS "historySeq", ' +
  counterColumns(deltas)
    .split(', ')
    .filter((c) => /"(completed|failed|missed|cancelled|expired)"$/.test(c))
    .join(', ');
const PROGRESS_SQLITE = sql(`SELECT ${PROGRESS_COLUMNS(false)} FROM "job" "j" WHERE "j"."job_id" = ?`);
const PROGRESS_PG = sql(`SELECT ${PROGRESS_COLUMNS(true)} FROM "job" "j" ${DELTAS_JOIN} WHERE "j"."job_id" = ?`);
/** Taken before reading progress to finish a job: no fold or other finisher can commit in between. */
const LOCK_JOB = sql('SELECT "job_id" FROM "job" WHERE "job_id" = ? FOR UPDATE');

export async function jobProgress(em: EntityManager, jobId: string): Promise<JobProgress | undefined> {
  const [p] = await queryRows<JobProgress>(em, countsInDeltas(em) ? PROGRESS_PG : PROGRESS_SQLITE, [jobId]);
  return p;
}

/** A running (or paused) job whose every task has ended. */
export function allEnded(p: JobProgress): boolean {
  if (p.status !== 'RUNNING' && p.status !== 'PAUSED') return false;
  return p.completed + p.failed + p.missed + p.cancelled + p.expired >= p.total;
}

export type JobFinisher = (em: EntityManager, jobId: string, from: JobStatus, to: JobStatus, p: JobProgress, at: number) => Promise<void>;

/**
 * Finishes the job if every task has ended, inside the caller's transaction.
 * PostgreSQL: with the job row locked first, and the progress read after.
 */
export async function finishIfAllEnded(em: EntityManager, jobId: string, at: number, finish: JobFinisher): Promise<void> {
  if (countsInDeltas(em)) await execute(em, LOCK_JOB, [jobId]);
  const p = await jobProgress(em, jobId);
  if (!p || !allEnded(p)) return;
  await finish(em, jobId, p.status as JobStatus, p.completed === p.total ? 'COMPLETED' : 'COMPLETED_WITH_ERRORS', p, at);
}

/**
 * PostgreSQL, after the COMMIT of a unit of work that ended tasks of these
 * jobs: one read each, and a short transaction only for a job that is done.
 */
export async function finishAfterCommit(ds: DataSource, jobs: ReadonlyMap<string, number>, finish: JobFinisher): Promise<void> {
  for (const [jobId, at] of jobs) {
    const p = await jobProgress(ds.manager, jobId);
    if (p && allEnded(p)) await ds.transaction((em) => finishIfAllEnded(em, jobId, at, finish));
  }
}

/**
 * Folds the deltas of up to `limit` jobs into their job rows, and finishes
 * those whose tasks have all ended. Returns how many jobs it folded.
 */
export async function foldCounters(ds: DataSource, finish: JobFinisher, now: number, limit = 100): Promise<number> {
  if (!countsInDeltas(ds.manager)) return 0;
  const jobs = await queryRows<{ jobId: string }>(ds.manager, JOBS_WITH_DELTAS, [limit]);
  for (const { jobId } of jobs) {
    await execute(ds.manager, FOLD, [jobId, jobId]);
    await finishAfterCommit(ds, new Map([[jobId, now]]), finish);
  }
  return jobs.length;
}

/**
 * Where a task store reports, on PostgreSQL, each job whose task it moved to
 * an end state: a unit of work collects them and looks once it committed
 * (finishAfterCommit); a store outside any unit of work looks at once.
 */
export interface TaskEndings {
  /**
   * `mayEndJob` false: the move's statement saw more of the job's tasks open than there can be moves
   * it did not see (task-store.ts, MAY_END_JOB), so a move committed after it looks; a store outside
   * any unit of work then skips the look. A unit of work looks whatever it says (it may hold many moves).
   */
  ended(jobId: string, at: number, mayEndJob?: boolean): void | Promise<void>;
}

/** SQLite: the job is finished in the move's own transaction (task-store.ts). */
export const NO_ENDINGS: TaskEndings = { ended: () => undefined };
