/**
 * Tasks and task history. A state change is a conditional update of the task
 * (its current state must allow the move) plus one history row with the next
 * sequence number, in the caller's transaction; a job's per-state counters
 * move in the same transaction. On PostgreSQL the task row is locked first;
 * on SQLite units of work already run one at a time.
 */
import { type EntityManager, In } from 'typeorm';
import { canTransition, type Task, type TaskHistoryEntry, type TaskStatus } from '../domain/tasks.js';
import type { TaskChange, TaskStore, TransitionResult } from '../services/ports.js';
import { JobEntity, TaskEntity, TaskHistoryEntity, type TaskHistoryRow, type TaskRow } from './entities.js';
import { finishJobIfDone } from './job-store.js';
import { toTask } from './task-mapping.js';

const TERMINAL = new Set<TaskStatus>(['COMPLETED', 'FAILED', 'MISSED', 'CANCELLED', 'EXPIRED']);

/** The job counter of each task state: [entity property, column]. */
const COUNTER: Record<TaskStatus, [string, string]> = {
  QUEUED: ['queued', 'queued'],
  NOTIFYING: ['notifying', 'notifying'],
  IN_SESSION: ['inSession', 'in_session'],
  SCHEDULED: ['scheduled', 'scheduled'],
  COMPLETED: ['completed', 'completed'],
  FAILED: ['failed', 'failed'],
  MISSED: ['missed', 'missed'],
  CANCELLED: ['cancelled', 'cancelled'],
  EXPIRED: ['expired', 'expired'],
};

function toEntry(r: TaskHistoryRow): TaskHistoryEntry {
  return {
    taskId: r.taskId,
    seq: r.seq,
    at: new Date(r.at),
    ...(r.fromStatus ? { fromStatus: r.fromStatus as TaskStatus } : {}),
    toStatus: r.toStatus as TaskStatus,
    event: r.event,
    ...(r.code !== null ? { code: r.code } : {}),
    ...(r.detail !== null ? { detail: r.detail } : {}),
  };
}

export class TypeormTaskStore implements TaskStore {
  constructor(private readonly em: EntityManager) {}

  private get tasks() {
    return this.em.getRepository(TaskEntity);
  }

  async insert(task: Task, event: string, detail?: string): Promise<void> {
    const at = task.createdAt.getTime();
    await this.tasks.insert({
      taskId: task.taskId,
      jobId: task.jobId ?? null,
      deviceId: task.deviceId,
      phoneNumber: task.phoneNumber ?? null,
      operationName: task.operation.name,
      operation: JSON.stringify(task.operation),
      status: task.status,
      resultCode: task.resultCode ?? null,
      dmStatus: task.dmStatus ?? null,
      correlator: task.correlator ?? null,
      results: task.results.length ? JSON.stringify(task.results) : null,
      bOptin: task.bOptin,
      acceptDevicePolicy: task.acceptDevicePolicy,
      testCycle: task.testCycle,
      deadline: task.deadline ? task.deadline.getTime() : null,
      historySeq: 1,
      jobSeq: task.jobSeq ?? null,
      releasedAt: null,
      createdBy: task.createdBy,
      createdAt: at,
      updatedAt: at,
    });
    await this.em.getRepository(TaskHistoryEntity).insert({
      taskId: task.taskId,
      seq: 1,
      at,
      fromStatus: null,
      toStatus: task.status,
      event,
      code: null,
      detail: detail ?? null,
    });
    if (task.jobId) await this.bumpJob(task.jobId, undefined, task.status, at);
  }

  async get(taskId: string): Promise<Task | undefined> {
    const r = await this.tasks.findOneBy({ taskId });
    return r ? toTask(r) : undefined;
  }

  private async lockedRow(taskId: string): Promise<TaskRow | null> {
    const qb = this.tasks.createQueryBuilder('t').where('t.task_id = :taskId', { taskId });
    if (this.em.connection.options.type === 'postgres') qb.setLock('pessimistic_write');
    return qb.getOne();
  }

  async transition(taskId: string, to: TaskStatus, change: TaskChange, at: number): Promise<TransitionResult> {
    const row = await this.lockedRow(taskId);
    if (!row) return { moved: false, task: undefined };
    const from = row.status as TaskStatus;
    if ((change.from && !change.from.includes(from)) || !canTransition(from, to)) {
      return { moved: false, task: toTask(row) };
    }
    const seq = row.historySeq + 1;
    const set: Partial<TaskRow> = { status: to, historySeq: seq, updatedAt: at };
    if (change.resultCode !== undefined) set.resultCode = change.resultCode;
    if (change.dmStatus !== undefined) set.dmStatus = change.dmStatus;
    if (change.results !== undefined) set.results = JSON.stringify(change.results);
    if (change.correlator !== undefined) set.correlator = change.correlator;
    await this.tasks.update({ taskId }, set);
    await this.history_(taskId, seq, at, from, to, change);
    if (row.jobId && from !== to) await this.bumpJob(row.jobId, from, to, at);
    return { moved: true, task: toTask({ ...row, ...set } as TaskRow) };
  }

  async note(taskId: string, change: TaskChange, at: number): Promise<void> {
    const row = await this.lockedRow(taskId);
    if (!row) return;
    const seq = row.historySeq + 1;
    await this.tasks.update({ taskId }, { historySeq: seq, updatedAt: at });
    const status = row.status as TaskStatus;
    await this.history_(taskId, seq, at, status, status, change);
  }

  private async history_(taskId: string, seq: number, at: number, from: TaskStatus, to: TaskStatus, c: TaskChange) {
    await this.em.getRepository(TaskHistoryEntity).insert({
      taskId,
      seq,
      at,
      fromStatus: from,
      toStatus: to,
      event: c.event,
      code: c.code ?? c.resultCode ?? c.dmStatus ?? null,
      detail: c.detail ?? null,
    });
  }

  private async bumpJob(jobId: string, from: TaskStatus | undefined, to: TaskStatus, at: number): Promise<void> {
    const qb = this.em.getRepository(JobEntity).createQueryBuilder().update().where('job_id = :jobId', { jobId });
    // set() takes entity property names; the raw expressions name columns.
    const set: Record<string, unknown> = { updatedAt: at };
    const [toProp, toCol] = COUNTER[to];
    set[toProp] = () => `${toCol} + 1`;
    if (from) {
      const [fromProp, fromCol] = COUNTER[from];
      set[fromProp] = () => `${fromCol} - 1`;
    }
    await qb.set(set as never).execute();
    if (TERMINAL.has(to)) await finishJobIfDone(this.em, jobId, at);
  }

  async history(taskId: string): Promise<TaskHistoryEntry[]> {
    const rows = await this.em.getRepository(TaskHistoryEntity).find({ where: { taskId }, order: { seq: 'ASC' } });
    return rows.map(toEntry);
  }

  async openForDevice(deviceId: string, operationName: string): Promise<Task[]> {
    const rows = await this.tasks.find({
      where: { deviceId, operationName, status: In(['QUEUED', 'NOTIFYING', 'IN_SESSION', 'SCHEDULED']) },
      order: { createdAt: 'ASC' },
    });
    return rows.map(toTask);
  }

  async notifiable(limit: number): Promise<string[]> {
    const rows = await this.tasks
      .createQueryBuilder('t')
      .select('t.task_id', 'id')
      .where("t.status = 'QUEUED'")
      .andWhere('(t.job_id IS NULL OR t.released_at IS NOT NULL)')
      .orderBy('t.created_at', 'ASC')
      .limit(limit)
      .getRawMany<{ id: string }>();
    return rows.map((r) => r.id);
  }
}
