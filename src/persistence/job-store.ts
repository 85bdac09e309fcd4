/**
 * Jobs, their history, and the task queries bulk rollouts need: batched
 * task creation, release marks for the dispatcher, and per-wave statistics.
 * A job's per-state counters move in the same transaction as each task's
 * state (task-store.ts), so they always equal the per-state task counts.
 */
import { type DataSource, type EntityManager, In, IsNull, LessThanOrEqual, MoreThan } from 'typeorm';
import type { Page } from '../domain/registry.js';
import type {
  DeploymentOptions,
  Job,
  JobHistoryEntry,
  JobStatus,
  OperationDefinition,
  Task,
  TaskStatus,
} from '../domain/tasks.js';
import { NO_TASKS_COUNTED } from '../domain/tasks.js';
import type { JobStore, WaveStats } from '../services/ports.js';
import { JobEntity, JobHistoryEntity, type JobRow, TaskEntity, type TaskRow } from './entities.js';
import {
  countsInDeltas,
  counterColumns,
  DELTAS_JOIN,
  finishAfterCommit,
  finishIfAllEnded,
  foldCounters,
  type JobFinisher,
} from './job-counters.js';
import { epoch, execute, queryRows, type Statement, sql } from './raw-sql.js';
import { toTask } from './task-mapping.js';

const SETTLED: TaskStatus[] = ['SCHEDULED', 'COMPLETED', 'FAILED', 'MISSED', 'CANCELLED', 'EXPIRED'];
const BAD: TaskStatus[] = ['FAILED', 'MISSED', 'EXPIRED'];

interface StoredOptions extends Omit<DeploymentOptions, 'startAt' | 'deadline'> {
  startAt?: number;
  deadline?: number;
}

const JOB_COLUMNS =
  '"j"."job_id" AS "jobId", "j"."status" AS "status", "j"."operation_name" AS "operationName", "j"."operation" AS "operation", ' +
  '"j"."options" AS "options", "j"."created_by" AS "createdBy", "j"."created_at" AS "createdAt", "j"."updated_at" AS "updatedAt", ' +
  '"j"."total" AS "total", "j"."history_seq" AS "historySeq", "j"."started_at" AS "startedAt"';

/** Jobs with their counters (job-counters.ts: on PostgreSQL the job row plus its delta rows, in one statement). */
function jobsFrom(deltas: boolean): string {
  return `SELECT ${JOB_COLUMNS}, ${counterColumns(deltas)} FROM "job" "j"${deltas ? ` ${DELTAS_JOIN}` : ''}`;
}

/** One statement per dialect, built once. */
function perDialect(build: (deltas: boolean) => string): (em: EntityManager) => Statement {
  const sqlite = sql(build(false));
  const postgres = sql(build(true));
  return (em) => (countsInDeltas(em) ? postgres : sqlite);
}

/** Read for every task a rollout notifies (is the job still running?): plain SQL, prepared once (raw-sql.ts). */
const SELECT_JOB = perDialect((d) => `${jobsFrom(d)} WHERE "j"."job_id" = ?`);
const LIST_JOBS = perDialect((d) => `${jobsFrom(d)} ORDER BY "j"."created_at" DESC, "j"."job_id" ASC LIMIT ? OFFSET ?`);
const LIST_JOBS_BY_STATUS = perDialect(
  (d) => `${jobsFrom(d)} WHERE "j"."status" = ? ORDER BY "j"."created_at" DESC, "j"."job_id" ASC LIMIT ? OFFSET ?`,
);
const LIST_JOBS_BY_DATE = perDialect(
  (d) => `${jobsFrom(d)} WHERE "j"."created_at" >= ? AND "j"."created_at" <= ? ORDER BY "j"."created_at" DESC, "j"."job_id" ASC LIMIT ? OFFSET ?`,
);
const CANCELLED_WITH_WAITING = perDialect((d) => {
  const count = (c: string) => (d ? `"j"."${c}" + COALESCE("d"."${c}", 0)` : `"j"."${c}"`);
  return (
    `SELECT "j"."job_id" AS "jobId" FROM "job" "j"${d ? ` ${DELTAS_JOIN}` : ''} ` +
    `WHERE "j"."status" = 'CANCELLED' AND (${count('queued')} > 0 OR ${count('notifying')} > 0) ORDER BY "j"."job_id" LIMIT ?`
  );
});

/** A job row as read by raw SQL: PostgreSQL gives bigint columns as strings. */
function fromRaw(r: JobRow): Job {
  return toJob({ ...r, createdAt: epoch(r.createdAt), updatedAt: epoch(r.updatedAt), startedAt: epoch(r.startedAt) });
}

function toJob(r: JobRow): Job {
  const o = JSON.parse(r.options) as StoredOptions;
  const { startAt, deadline, ...rest } = o;
  return {
    jobId: r.jobId,
    status: r.status as JobStatus,
    operationName: r.operationName,
    ...(r.operation !== 'null' ? { operation: JSON.parse(r.operation) as OperationDefinition } : {}),
    options: {
      ...rest,
      ...(startAt !== undefined ? { startAt: new Date(startAt) } : {}),
      ...(deadline !== undefined ? { deadline: new Date(deadline) } : {}),
    },
    createdBy: r.createdBy,
    createdAt: new Date(r.createdAt),
    updatedAt: new Date(r.updatedAt),
    ...(r.startedAt !== null ? { startedAt: new Date(r.startedAt) } : {}),
    ...(r.correlationId ? { correlationId: r.correlationId } : {}),
    total: r.total,
    queued: r.queued,
    notifying: r.notifying,
    inSession: r.inSession,
    scheduled: r.scheduled,
    inProgress: r.inProgress,
    completed: r.completed,
    failed: r.failed,
    missed: r.missed,
    cancelled: r.cancelled,
    expired: r.expired,
  };
}

async function appendHistory(
  em: EntityManager,
  jobId: string,
  seq: number,
  at: number,
  from: string | null,
  to: string,
  event: string,
  detail?: string,
  by?: string,
): Promise<void> {
  await em.getRepository(JobHistoryEntity).insert({ jobId, seq, at, fromStatus: from, toStatus: to, event, by: by ?? null, detail: detail ?? null });
}

/** Rows per multi-row INSERT: well under both databases' parameter limits (SQLite 32,766; PostgreSQL 65,535). */
const INSERT_ROWS = 200;

interface RowInsert {
  /** The statement up to VALUES. */
  head: string;
  /** One row's VALUES tuple; `?` per parameter. */
  row: string;
  params: number;
  /** Statements by row count (full batches, and the one remainder size). */
  statements: Map<number, Statement>;
}

const TASK_ROW: RowInsert = {
  head:
    'INSERT INTO "task" ("task_id", "job_id", "device_id", "phone_number", "operation_name", "operation", "status", ' +
    '"result_code", "dm_status", "correlator", "results", "b_optin", "accept_device_policy", "test_cycle", "deadline", ' +
    '"history_seq", "job_seq", "released_at", "content_id", "created_by", "created_at", "updated_at", "correlation_id") VALUES ',
  row: "(?, ?, ?, ?, ?, ?, 'QUEUED', NULL, NULL, ?, NULL, ?, ?, FALSE, ?, 1, ?, NULL, ?, ?, ?, ?, ?)",
  params: 16,
  statements: new Map(),
};
const TASK_HISTORY_ROW: RowInsert = {
  head: 'INSERT INTO "task_history" ("task_id", "seq", "at", "from_status", "to_status", "event", "code", "detail") VALUES ',
  row: "(?, 1, ?, NULL, 'QUEUED', 'created', NULL, ?)",
  params: 3,
  statements: new Map(),
};
const ADD_QUEUED = sql('UPDATE "job" SET "queued" = "queued" + ?, "updated_at" = ? WHERE "job_id" = ?');
const ADD_TASKS = sql('UPDATE "job" SET "total" = "total" + ?, "queued" = "queued" + ?, "updated_at" = ? WHERE "job_id" = ?');

async function insertRows(em: EntityManager, shape: RowInsert, params: (string | number | null)[]): Promise<void> {
  const rows = params.length / shape.params;
  for (let first = 0; first < rows; first += INSERT_ROWS) {
    const count = Math.min(INSERT_ROWS, rows - first);
    let statement = shape.statements.get(count);
    if (!statement) {
      statement = sql(shape.head + Array.from({ length: count }, () => shape.row).join(', '));
      shape.statements.set(count, statement);
    }
    await execute(em, statement, params.slice(first * shape.params, (first + count) * shape.params));
  }
}

/** A done job's last move (the job row locked, see job-counters.ts): COMPLETED, or COMPLETED_WITH_ERRORS. */
const finishJob: JobFinisher = async (em, jobId, from, to, p, at) => {
  const seq = p.historySeq + 1;
  await em.getRepository(JobEntity).update({ jobId, status: from }, { status: to, historySeq: seq, updatedAt: at });
  await appendHistory(em, jobId, seq, at, from, to, 'all-tasks-ended', `${p.completed} of ${p.total} completed`);
};

/** A running (or paused) job whose every task has ended is COMPLETED, or COMPLETED_WITH_ERRORS (in the caller's transaction). */
export function finishJobIfDone(em: EntityManager, jobId: string, at: number): Promise<void> {
  return finishIfAllEnded(em, jobId, at, finishJob);
}

/** PostgreSQL: the finishing look after a unit of work that ended tasks of these jobs has committed (job-counters.ts). */
export function finishJobsAfterCommit(ds: DataSource, jobs: ReadonlyMap<string, number>): Promise<void> {
  return finishAfterCommit(ds, jobs, finishJob);
}

/** PostgreSQL: folds job counter deltas into their job rows, finishing jobs that are done (job-counters.ts). */
export function foldJobCounters(ds: DataSource, now: number): Promise<number> {
  return foldCounters(ds, finishJob, now, FOLD_BATCH);
}

/** Jobs folded per statement batch. */
export const FOLD_BATCH = 100;

export class TypeormJobStore implements JobStore {
  constructor(private readonly em: EntityManager) {}

  private get jobs() {
    return this.em.getRepository(JobEntity);
  }

  private get tasks() {
    return this.em.getRepository(TaskEntity);
  }

  async insert(job: Job, event: string, detail?: string): Promise<void> {
    const at = job.createdAt.getTime();
    const { startAt, deadline, ...rest } = job.options;
    const options: StoredOptions = {
      ...rest,
      ...(startAt ? { startAt: startAt.getTime() } : {}),
      ...(deadline ? { deadline: deadline.getTime() } : {}),
    };
    await this.jobs.insert({
      jobId: job.jobId,
      status: job.status,
      operationName: job.operationName,
      operation: JSON.stringify(job.operation ?? null),
      options: JSON.stringify(options),
      createdBy: job.createdBy,
      createdAt: at,
      updatedAt: at,
      total: job.total,
      ...NO_TASKS_COUNTED,
      historySeq: 1,
      startedAt: null,
      correlationId: job.correlationId ?? null,
    });
    await appendHistory(this.em, job.jobId, 1, at, null, job.status, event, detail, job.createdBy);
  }

  async get(jobId: string): Promise<Job | undefined> {
    const [r] = await queryRows<JobRow>(this.em, SELECT_JOB(this.em), [jobId]);
    return r ? fromRaw(r) : undefined;
  }

  async list(status: JobStatus | undefined, page: Page): Promise<Job[]> {
    const rows = status
      ? await queryRows<JobRow>(this.em, LIST_JOBS_BY_STATUS(this.em), [status, page.limit, page.offset])
      : await queryRows<JobRow>(this.em, LIST_JOBS(this.em), [page.limit, page.offset]);
    return rows.map(fromRaw);
  }

  async cancelledWithWaitingTasks(limit: number): Promise<string[]> {
    const rows = await queryRows<{ jobId: string }>(this.em, CANCELLED_WITH_WAITING(this.em), [limit]);
    return rows.map((r) => r.jobId);
  }

  async listByDate(from: Date, to: Date, page: Page): Promise<Job[]> {
    const rows = await queryRows<JobRow>(this.em, LIST_JOBS_BY_DATE(this.em), [from.getTime(), to.getTime(), page.limit, page.offset]);
    return rows.map(fromRaw);
  }

  async transition(
    jobId: string,
    to: JobStatus,
    change: { event: string; from?: readonly JobStatus[]; detail?: string; startedAt?: number; by?: string },
    at: number,
  ): Promise<{ moved: boolean; job: Job | undefined }> {
    const qb = this.jobs.createQueryBuilder('j').where('j.job_id = :jobId', { jobId });
    if (this.em.connection.options.type === 'postgres') qb.setLock('pessimistic_write');
    const row = await qb.getOne();
    if (!row) return { moved: false, job: undefined };
    if (change.from && !change.from.includes(row.status as JobStatus)) {
      return { moved: false, job: countsInDeltas(this.em) ? await this.get(jobId) : toJob(row) };
    }
    const seq = row.historySeq + 1;
    const set: Partial<JobRow> = { status: to, historySeq: seq, updatedAt: at };
    if (change.startedAt !== undefined) set.startedAt = change.startedAt;
    await this.jobs.update({ jobId }, set);
    await appendHistory(this.em, jobId, seq, at, row.status, to, change.event, change.detail, change.by);
    // A job that starts with nothing to do (a filter matching no device) is done at once.
    if (to === 'RUNNING') await finishJobIfDone(this.em, jobId, at);
    // PostgreSQL: the row's counters lack the delta rows; read with them (the row is locked, so no fold runs meanwhile).
    const job = countsInDeltas(this.em) ? await this.get(jobId) : toJob({ ...row, ...set } as JobRow);
    return { moved: true, job };
  }

  async note(jobId: string, event: string, detail: string, at: number): Promise<void> {
    const row = await this.jobs.findOneBy({ jobId });
    if (!row) return;
    const seq = row.historySeq + 1;
    await this.jobs.update({ jobId }, { historySeq: seq });
    await appendHistory(this.em, jobId, seq, at, row.status, row.status, event, detail);
  }

  async history(jobId: string, page?: Page): Promise<JobHistoryEntry[]> {
    const rows = await this.em.getRepository(JobHistoryEntity).find({
      where: { jobId },
      order: { seq: 'ASC' },
      ...(page ? { skip: page.offset, take: page.limit } : {}),
    });
    return rows.map((r) => ({
      jobId: r.jobId,
      seq: r.seq,
      at: new Date(r.at),
      ...(r.fromStatus ? { fromStatus: r.fromStatus as JobStatus } : {}),
      toStatus: r.toStatus as JobStatus,
      event: r.event,
      ...(r.by !== null ? { by: r.by } : {}),
      ...(r.detail !== null ? { detail: r.detail } : {}),
    }));
  }

  /** Inserts a batch of a job's tasks (QUEUED) with their first history rows, and counts them. */
  /**
   * A batch of a job's tasks (1,000 from createDeployments), their first
   * history rows and the job's queued counter. Multi-row prepared statements
   * of INSERT_ROWS rows each: through TypeORM's InsertQueryBuilder, building
   * and escaping the 20,000-parameter statements took most of a 100,000-task
   * createDeployments (its parameter lookups grow with the statement).
   */
  async insertTasks(jobId: string, tasks: Task[], at: number): Promise<void> {
    if (tasks.length === 0) return;
    let lastOperation: OperationDefinition | undefined;
    let operationJson = '';
    const taskParams: (string | number | null)[] = [];
    const historyParams: (string | number | null)[] = [];
    const detail = `job ${jobId}`;
    for (const t of tasks) {
      // The tasks of a createDeployments job share one operation object: one stringify.
      if (t.operation !== lastOperation) {
        lastOperation = t.operation;
        operationJson = JSON.stringify(t.operation);
      }
      taskParams.push(
        t.taskId,
        jobId,
        t.deviceId,
        t.phoneNumber ?? null,
        t.operation.name,
        operationJson,
        t.correlator ?? null,
        t.bOptin ? 1 : 0,
        t.acceptDevicePolicy,
        t.deadline ? t.deadline.getTime() : null,
        t.jobSeq ?? null,
        // The package the task delivers (deleteContent and /dl check it): from the operation when not set.
        t.contentId ?? t.operation.contentId ?? null,
        t.createdBy,
        at,
        at,
        t.correlationId ?? null,
      );
      historyParams.push(t.taskId, at, detail);
    }
    await insertRows(this.em, TASK_ROW, taskParams);
    await insertRows(this.em, TASK_HISTORY_ROW, historyParams);
    await execute(this.em, ADD_QUEUED, [tasks.length, at, jobId]);
  }

  async countAddedTasks(jobId: string, n: number, at: number): Promise<void> {
    if (n > 0) await execute(this.em, ADD_TASKS, [n, n, at, jobId]);
  }

  async tasksAfter(jobId: string, afterSeq: number, limit: number): Promise<Task[]> {
    const rows = await this.tasks.find({ where: { jobId, jobSeq: MoreThan(afterSeq) }, order: { jobSeq: 'ASC' }, take: limit });
    return rows.map((r: TaskRow) => toTask(r));
  }

  async tasksOf(jobId: string, status: TaskStatus | undefined, page: Page): Promise<Task[]> {
    const rows = await this.tasks.find({
      where: { jobId, ...(status ? { status } : {}) },
      order: { jobSeq: 'ASC' },
      skip: page.offset,
      take: page.limit,
    });
    return rows.map((r: TaskRow) => toTask(r));
  }

  async releasable(jobId: string, uptoSeq: number, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    const rows = await this.tasks.find({
      select: { taskId: true },
      where: { jobId, status: 'QUEUED', releasedAt: IsNull(), jobSeq: LessThanOrEqual(uptoSeq) },
      order: { jobSeq: 'ASC' },
      take: limit,
    });
    return rows.map((r) => r.taskId);
  }

  async markReleased(taskIds: string[], at: number): Promise<void> {
    if (taskIds.length) await this.tasks.update({ taskId: In(taskIds) }, { releasedAt: at });
  }

  async unrelease(taskId: string): Promise<void> {
    await this.tasks.update({ taskId, status: 'QUEUED' }, { releasedAt: null });
  }

  /** Released but not yet notified: they count against the concurrency cap. */
  async releasedQueued(jobId: string): Promise<number> {
    return this.tasks.count({ where: { jobId, status: 'QUEUED', releasedAt: LessThanOrEqual(Number.MAX_SAFE_INTEGER) } });
  }

  async highestReleased(jobId: string): Promise<number> {
    const r = await this.tasks
      .createQueryBuilder('t')
      .select('MAX(t.job_seq)', 'm')
      .where('t.job_id = :jobId AND t.released_at IS NOT NULL', { jobId })
      .getRawOne<{ m: number | string | null }>();
    return r?.m === null || r?.m === undefined ? 0 : Number(r.m);
  }

  async waveStats(jobId: string, fromSeq: number, toSeq: number): Promise<WaveStats> {
    const rows = await this.tasks
      .createQueryBuilder('t')
      .select('t.status', 'status')
      .addSelect('COUNT(*)', 'n')
      .where('t.job_id = :jobId AND t.job_seq >= :fromSeq AND t.job_seq <= :toSeq', { jobId, fromSeq, toSeq })
      .groupBy('t.status')
      .getRawMany<{ status: TaskStatus; n: number | string }>();
    let total = 0;
    let settled = 0;
    let bad = 0;
    let scheduled = 0;
    for (const r of rows) {
      const n = Number(r.n);
      total += n;
      if (SETTLED.includes(r.status)) settled += n;
      if (BAD.includes(r.status)) bad += n;
      if (r.status === 'SCHEDULED') scheduled += n;
    }
    return { total, settled, scheduled, bad };
  }

  /**
   * In no particular order: the deadline pass takes them all, page by page as they end. Ordered
   * by job sequence, each page of a 1,000,000-task job sorted every open task (or walked past
   * every ended one); unordered it is an index read of the page.
   */
  async openTaskIds(jobId: string, statuses: readonly TaskStatus[], limit: number): Promise<string[]> {
    const rows = await this.tasks.find({
      select: { taskId: true },
      where: { jobId, status: In([...statuses]) },
      take: limit,
    });
    return rows.map((r) => r.taskId);
  }
}
