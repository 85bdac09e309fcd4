/**
 * IBulkOperationsManagerServices as a use case: creates jobs over many
 * devices (createDeployments, doBulkOperation), controls them (pause,
 * restart, cancel) and answers what they are doing. Expansion writes tasks in
 * batches, one transaction each; the SOAP call returns once the job and all
 * its tasks are durable. The dispatcher (dispatcher.ts) releases them.
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { checkOptionsFitOperation, validateDeploymentOptions, waveEnd } from '../../domain/deployment-options.js';
import type { Content } from '../../domain/content.js';
import { DmwsiError, invalidArgument, notFound } from '../../domain/errors.js';
import { laterScheduleTime, validateOperation, validatePolicy } from '../../domain/operation-validation.js';
import type { Page } from '../../domain/registry.js';
import { validatePage } from '../../domain/registry-validation.js';
import {
  type DeploymentOptions,
  type Job,
  type JobHistoryEntry,
  type JobStatus,
  type OperationDefinition,
  type OperationName,
  type Task,
  type TaskStatus,
  isTaskStatus,
  NO_TASKS_COUNTED,
} from '../../domain/tasks.js';
import { downloadsPackage } from '../broker/download-slots.js';
import { packageAppliesTo, packageKindFits } from '../broker/package-applicability.js';
import { sseCorrelator } from '../broker/plan.js';
import type { CallContext, Clock, DeviceTarget, Transactor } from '../ports.js';
import { idForCall, writeFirst } from '../retried-call.js';
import { resolveTargets } from './targets.js';
import { resolveFilter, type TargetExpander } from './filter-expansion.js';
import { describeTargetFilter, validateTargetFilter } from '../../domain/target-filter.js';

export interface BulkJobs {
  dispatch(jobId: string, delayMs: number): Promise<void>;
  cancelJob(jobId: string): Promise<void>;
  jobDeadline(jobId: string, at: Date): Promise<void>;
}

export interface BulkCache {
  rememberFirst(key: string, value: string, ttlSeconds: number): Promise<string>;
  set(key: string, value: string): Promise<void>;
}

export interface BulkDeps {
  /** The broker's handling of one task (removes an armed schedule before cancelling). */
  cancelTask: (ctx: CallContext, taskId: string) => Promise<void>;
  expireTask: (taskId: string) => Promise<void>;
  tx: Transactor;
  jobs: BulkJobs;
  cache: BulkCache;
  clock: Clock;
  logger: Logger;
  taskDeadlineMs: number;
  /** Writes the tasks of jobs that target a filter (shared with the dispatcher). */
  expander: TargetExpander;
  /** How long createDeployments by filter writes tasks before it answers and leaves the rest to the job's tick. */
  expansionCallMs?: number;
}

export interface OperationRequestInput {
  operation: OperationDefinition;
  phoneNumber?: string;
  deviceId?: string;
  bOptin: boolean;
  acceptDevicePolicy: number;
  testCycle: boolean;
}

const BATCH = 1000;
const TERMINAL_JOB: ReadonlySet<JobStatus> = new Set(['CANCELLED', 'COMPLETED', 'COMPLETED_WITH_ERRORS']);
const OPEN: ReadonlySet<TaskStatus> = new Set(['QUEUED', 'NOTIFYING', 'IN_SESSION', 'SCHEDULED']);

interface PlannedTask {
  device: DeviceTarget;
  operation: OperationDefinition;
  bOptin: boolean;
  policy: 10 | 20 | 30;
}

/**
 * waveIntervalSeconds: wave k's schedules (k from 1) run at atTime + (k − 1) × interval. With
 * the dispatcher arming a wave only once the previous one has reported, an error threshold
 * tripped by wave k pauses the job before wave k + 1 is armed at all.
 */
function spaceSchedules(planned: PlannedTask[], options: DeploymentOptions, intervalSeconds: number): void {
  const first = planned[0]?.operation;
  for (let wave = 1, from = 0; first?.atTime && from < planned.length; wave++) {
    const end = waveEnd(wave, planned.length, options);
    // One operation object per wave: the task rows of a wave share its serialised form.
    const operation = wave > 1 ? { ...first, atTime: laterScheduleTime(first.atTime, (wave - 1) * intervalSeconds) } : first;
    for (let i = from; i < end; i++) planned[i]!.operation = operation;
    from = end;
  }
}

function newJob(
  jobId: string,
  operationName: string,
  operation: OperationDefinition | undefined,
  options: DeploymentOptions,
  by: { caller: string; correlationId?: string },
  now: number,
  total: number,
): Job {
  return {
    jobId,
    status: 'CREATED',
    operationName,
    ...(operation ? { operation } : {}),
    options,
    createdBy: by.caller,
    createdAt: new Date(now),
    updatedAt: new Date(now),
    total,
    ...(by.correlationId ? { correlationId: by.correlationId } : {}),
    ...NO_TASKS_COUNTED,
  };
}

export class BulkOperations {
  constructor(private readonly d: BulkDeps) {}

  async createDeployments(
    ctx: CallContext,
    operation: OperationDefinition,
    targets: string[],
    options: DeploymentOptions,
  ): Promise<string> {
    const now = this.d.clock.now();
    const validated = validateOperation(operation, { now: new Date(now), testCycle: false });
    validateDeploymentOptions(options, new Date(now));
    checkOptionsFitOperation(options, validated.operation.name, downloadsPackage(validated.operation.name));
    const content = await this.packageOf(validated.operation);
    if (options.targetFilter) {
      if (targets.length > 0) throw invalidArgument('targets', 'give targets or options.targetFilter, not both');
      const filtered = { ...options, targetFilter: validateTargetFilter(options.targetFilter) };
      return this.createFilteredJob(ctx, validated.operation, filtered, content);
    }
    const resolved = await resolveTargets(this.d.tx.stores, targets);
    const caps = new Map((await this.d.tx.stores.capabilities.all()).map((c) => [c.oid, c]));
    const planned: PlannedTask[] = [];
    const notApplicable = new Map<string, string[]>();
    for (const device of resolved.devices) {
      const cap = caps.get(device.capabilityOid);
      if (validated.operation.name === 'SCHEDULED_EXEC' && !cap?.sseRoot) {
        resolved.rejected.push({ target: device.deviceId, reason: 'its model has no SingleShotExec MO root' });
        continue;
      }
      if (content && !(cap && packageAppliesTo(content, cap).ok)) {
        const ids = notApplicable.get(device.capabilityOid) ?? [];
        ids.push(device.deviceId);
        notApplicable.set(device.capabilityOid, ids);
        continue;
      }
      planned.push({ device, operation: validated.operation, bOptin: false, policy: 30 });
    }
    if (options.waveIntervalSeconds !== undefined) spaceSchedules(planned, options, options.waveIntervalSeconds);
    return this.createJob(ctx, operation.name, validated.operation, options, planned, {
      rejected: resolved.rejected,
      duplicates: resolved.duplicates,
      notes: [...notApplicable].map(([oid, ids]) => ({
        event: 'package-not-applicable',
        detail: `package ${content?.contentId} does not apply to ${ids.length} device(s) of capability ${oid}; no task, nothing sent: ${ids.slice(0, 50).join(', ')}${ids.length > 50 ? ', …' : ''}`,
      })),
    });
  }

  /**
   * A job over a filter: the job (CREATED, no tasks yet) and its cursor are
   * committed first, then its tasks are written chunk by chunk inside the
   * database (filter-expansion.ts); the call answers once all are written,
   * as for a list. A retry of the call (same MessageID) goes on from the
   * cursor, as does the job's dispatch tick if this process dies.
   */
  private async createFilteredJob(
    ctx: CallContext,
    operation: OperationDefinition,
    options: DeploymentOptions & { targetFilter: NonNullable<DeploymentOptions['targetFilter']> },
    content: Content | undefined,
  ): Promise<string> {
    const jobId = await idForCall(this.d.cache, ctx, crypto.randomUUID());
    const existing = await this.d.tx.stores.jobs.get(jobId);
    if (existing && existing.status !== 'CREATED' && !(await this.d.expander.pending(jobId))) return jobId;
    const now = this.d.clock.now();
    const deadline = options.deadline ?? new Date(now + this.d.taskDeadlineMs);
    if (!existing) {
      const resolved = await resolveFilter(this.d.tx.stores, options.targetFilter, operation, content);
      const job = newJob(jobId, operation.name, operation, options, ctx, now, 0);
      await writeFirst(
        ctx,
        () =>
          this.d.tx.run(async (s) => {
            await s.jobs.insert(job, 'created', `tasks from the filter (${describeTargetFilter(options.targetFilter)})`);
            await s.expansions.insert({ jobId, filter: resolved.filter, deadline: deadline.getTime() }, now);
            for (const n of resolved.notes) await s.jobs.note(jobId, n.event, n.detail, now);
            await s.audit.record({ ...ctx, target: `job ${jobId} (filter ${describeTargetFilter(options.targetFilter)})`, outcome: 'ok' }, now);
          }),
        () => this.d.tx.stores.jobs.get(jobId),
      );
    }
    // Within the call's budget the call answers with every task written; past it, the job's dispatch
    // tick (queued now) writes the rest before it releases anything.
    const written = await this.d.expander.finish(jobId, this.d.expansionCallMs ?? Number.POSITIVE_INFINITY);
    const startAt = options.startAt?.getTime() ?? now;
    await this.d.jobs.jobDeadline(jobId, deadline);
    await this.d.jobs.dispatch(jobId, written ? Math.max(0, startAt - now) : 0);
    return jobId;
  }

  /**
   * Filter jobs whose writer died mid-way (cursor still for `staleMs`) get a
   * dispatch tick, which finishes writing their tasks first: run by the
   * stalled-work sweep. Returns how many it queued.
   */
  async resumeExpansions(staleMs: number, limit = 1000): Promise<number> {
    const ids = await this.d.tx.stores.expansions.stale(this.d.clock.now() - staleMs, limit);
    for (const id of ids) await this.d.jobs.dispatch(id, 0);
    return ids.length;
  }

  /** The package a delivering operation names: it must exist, be READY and be of the operation's kind. */
  private async packageOf(operation: OperationDefinition): Promise<Content | undefined> {
    if (!operation.contentId) return undefined;
    const content = await this.d.tx.stores.contents.get(operation.contentId);
    if (!content) throw notFound('content', operation.contentId);
    if (content.state !== 'READY') throw new DmwsiError('InvalidState', `content ${content.contentId} is ${content.state}: upload its package first`);
    const kind = packageKindFits(content, operation.name as OperationName);
    if (!kind.ok) throw invalidArgument('operation.contentId', kind.why);
    return content;
  }

  /** All requests are checked first: one bad request refuses the whole call, and nothing is created. */
  async doBulkOperation(ctx: CallContext, requests: OperationRequestInput[]): Promise<string> {
    if (requests.length === 0) throw invalidArgument('requests', 'give at least one request');
    const now = new Date(this.d.clock.now());
    const stores = this.d.tx.stores;
    const planned: PlannedTask[] = [];
    for (const [i, r] of requests.entries()) {
      const at = `requests[${i + 1}]`;
      try {
        if (r.testCycle) throw invalidArgument('testCycle', 'is not available in bulk; use doOperation');
        const v = validateOperation(r.operation, { now, testCycle: false });
        const policy = validatePolicy(r.acceptDevicePolicy);
        const device = r.deviceId
          ? await stores.devices.getView(r.deviceId)
          : r.phoneNumber
            ? await stores.devices.getViewByPhone(r.phoneNumber)
            : undefined;
        if (!r.deviceId && !r.phoneNumber) throw invalidArgument('phoneNumber', 'give a phoneNumber or a deviceId');
        if (!device) throw notFound('device', r.deviceId ?? r.phoneNumber ?? '');
        // One device per request: a package that does not apply to it is a bad request, as in doOperation.
        const content = await this.packageOf(v.operation);
        const cap = content ? await stores.capabilities.get(device.capabilityOid) : undefined;
        const applies = content && cap ? packageAppliesTo(content, cap) : { ok: true as const };
        if (!applies.ok) throw invalidArgument('operation.contentId', applies.why);
        planned.push({ device, operation: v.operation, bOptin: r.bOptin, policy });
      } catch (err) {
        if (err instanceof DmwsiError) throw new DmwsiError(err.code, `${at}: ${err.message}`, err.field ? `${at}.${err.field}` : at);
        throw err;
      }
    }
    const names = new Set(planned.map((p) => p.operation.name));
    const name = names.size === 1 ? [...names][0]! : 'MIXED';
    return this.createJob(ctx, name, undefined, {}, planned, { rejected: [], duplicates: 0, notes: [] });
  }

  private async createJob(
    ctx: CallContext,
    operationName: string,
    operation: OperationDefinition | undefined,
    options: DeploymentOptions,
    planned: PlannedTask[],
    report: { rejected: { target: string; reason: string }[]; duplicates: number; notes: { event: string; detail: string }[] },
  ): Promise<string> {
    const jobId = await idForCall(this.d.cache, ctx, crypto.randomUUID());
    // A retry of a call that ended before its job was fully written goes on writing it.
    const existing = await this.d.tx.stores.jobs.get(jobId);
    if (existing && existing.status !== 'CREATED') return jobId;
    const now = this.d.clock.now();
    const deadline = options.deadline ?? new Date(now + this.d.taskDeadlineMs);
    const job = newJob(jobId, operationName, operation, options, ctx, now, planned.length);
    // A simultaneous copy of this retried call may write the job and any batch first: then it is written.
    let resuming = existing !== undefined;
    if (!existing) {
      const wrote = await writeFirst(
        ctx,
        () =>
          this.d.tx.run(async (s) => {
            await s.jobs.insert(job, 'created', `${planned.length} task(s)`);
            if (report.rejected.length || report.duplicates) {
              const shown = report.rejected.slice(0, 50).map((r) => `${r.target}: ${r.reason}`).join('; ');
              await s.jobs.note(
                jobId,
                'targets-rejected',
                `${report.rejected.length} rejected, ${report.duplicates} duplicate(s)${shown ? ` — ${shown}` : ''}`,
                now,
              );
            }
            for (const n of report.notes) await s.jobs.note(jobId, n.event, n.detail, now);
            await s.audit.record({ ...ctx, target: `job ${jobId} (${planned.length} tasks)`, outcome: 'ok' }, now);
          }),
        () => this.d.tx.stores.jobs.get(jobId),
      );
      resuming = !wrote;
    }
    // Batches of tasks, one transaction each; task ids are derived from the job, so a retried call resumes.
    for (let i = 0; i < planned.length; i += BATCH) {
      const batch: Task[] = planned.slice(i, i + BATCH).map((p, j) => {
        const seq = i + j + 1;
        const taskId = `${jobId}-${seq}`;
        return {
          taskId,
          jobId,
          jobSeq: seq,
          deviceId: p.device.deviceId,
          phoneNumber: p.device.phoneNumber,
          operation: p.operation,
          status: 'QUEUED',
          ...(p.operation.name === 'SCHEDULED_EXEC' ? { correlator: sseCorrelator(taskId) } : {}),
          ...(p.operation.contentId ? { contentId: p.operation.contentId } : {}),
          results: [],
          bOptin: p.bOptin,
          acceptDevicePolicy: p.policy,
          testCycle: false,
          deadline,
          ...(ctx.correlationId ? { correlationId: ctx.correlationId } : {}),
          createdBy: ctx.caller,
          createdAt: new Date(now),
          updatedAt: new Date(now),
        };
      });
      const last = () => this.d.tx.stores.tasks.get(batch[batch.length - 1]!.taskId);
      if (resuming && (await last())) continue;
      await writeFirst(ctx, () => this.d.tx.run((s) => s.jobs.insertTasks(jobId, batch, now)), last);
    }
    const startAt = options.startAt?.getTime() ?? now;
    await this.d.jobs.jobDeadline(jobId, deadline);
    await this.d.jobs.dispatch(jobId, Math.max(0, startAt - now));
    return jobId;
  }

  async pauseJob(ctx: CallContext, jobId: string): Promise<void> {
    const job = await this.job(jobId);
    if (job.status === 'PAUSED') return;
    if (TERMINAL_JOB.has(job.status)) throw new DmwsiError('InvalidState', `job ${jobId} is ${job.status}`);
    const now = this.d.clock.now();
    await this.d.tx.run(async (s) => {
      await s.jobs.transition(jobId, 'PAUSED', { event: 'paused', from: ['CREATED', 'RUNNING'], detail: `by ${ctx.caller}`, by: ctx.caller }, now);
      await s.audit.record({ ...ctx, target: `job ${jobId}`, outcome: 'ok' }, now);
    });
  }

  async restartJob(ctx: CallContext, jobId: string): Promise<void> {
    const job = await this.job(jobId);
    if (job.status === 'RUNNING' || job.status === 'CREATED') return;
    if (job.status !== 'PAUSED') throw new DmwsiError('InvalidState', `job ${jobId} is ${job.status}`);
    const now = this.d.clock.now();
    // A job paused before it started goes back to waiting for its startAt: RUNNING would skip the
    // dispatcher's start check and release it at once.
    const started = job.startedAt !== undefined;
    const to = started ? 'RUNNING' : 'CREATED';
    await this.d.tx.run(async (s) => {
      await s.jobs.transition(jobId, to, { event: 'restarted', from: ['PAUSED'], detail: `by ${ctx.caller}`, by: ctx.caller }, now);
      await s.audit.record({ ...ctx, target: `job ${jobId}`, outcome: 'ok' }, now);
    });
    // The waves released so far are accepted as they are: the error threshold is not applied to them again.
    await this.d.cache.set(`job-approved:${jobId}`, 'pending');
    const startAt = job.options.startAt?.getTime() ?? now;
    await this.d.jobs.dispatch(jobId, started ? 0 : Math.max(0, startAt - now));
  }

  async cancelJob(ctx: CallContext, jobId: string): Promise<void> {
    const job = await this.job(jobId);
    if (TERMINAL_JOB.has(job.status)) throw new DmwsiError('InvalidState', `job ${jobId} is already ${job.status}`);
    const now = this.d.clock.now();
    await this.d.tx.run(async (s) => {
      await s.jobs.transition(jobId, 'CANCELLED', { event: 'cancelled', detail: `by ${ctx.caller}`, by: ctx.caller }, now);
      await s.audit.record({ ...ctx, target: `job ${jobId}`, outcome: 'ok' }, now);
    });
    // The CANCELLED state, with tasks still waiting, is the durable record of the work left:
    // if this process dies before the cancel pass is queued (or the pass fails), resumeCancels
    // queues it again, at the next start or sweep.
    await this.d.jobs.cancelJob(jobId).catch((err: unknown) => {
      this.d.logger.warn({ err, jobId }, 'job cancelled; queuing its cancel pass failed, the next sweep queues it');
    });
  }

  /**
   * Background half of cancelJob, one pass in job order: tasks not yet with
   * their device end CANCELLED; armed schedules are deleted from the device
   * first and end CANCELLED when it confirms.
   */
  async processCancelJob(jobId: string): Promise<void> {
    const ctx = { caller: 'cancelJob', operation: 'cancelJob' };
    // Keyset pages (after the last job sequence number): an offset page deep in a 1,000,000-task job walks all before it.
    for (let after = 0; ; ) {
      const tasks = await this.d.tx.stores.jobs.tasksAfter(jobId, after, BATCH);
      if (tasks.length) after = tasks[tasks.length - 1]!.jobSeq ?? after;
      for (const t of tasks) {
        if (!OPEN.has(t.status)) continue;
        await this.d.cancelTask(ctx, t.taskId).catch((err: unknown) => {
          if (!(err instanceof DmwsiError && err.code === 'InvalidState')) throw err;
        });
      }
      if (tasks.length < BATCH) return;
    }
  }

  /** The job's deadline: tasks whose device never came are EXPIRED. */
  async processJobDeadline(jobId: string): Promise<void> {
    for (;;) {
      const ids = await this.d.tx.stores.jobs.openTaskIds(jobId, ['QUEUED', 'NOTIFYING', 'IN_SESSION'], BATCH);
      for (const id of ids) await this.d.expireTask(id);
      if (ids.length < BATCH) return;
    }
  }

  /**
   * CANCELLED jobs whose cancel pass never ran to the end (a process killed
   * between cancelJob's commit and queuing the pass, a pass that failed) get
   * it queued again: at start and on every stalled-task sweep. The queue job
   * id is the job's, so a pass already waiting is not doubled. Returns how
   * many jobs it queued.
   */
  async resumeCancels(limit = 1000): Promise<number> {
    const ids = await this.d.tx.stores.jobs.cancelledWithWaitingTasks(limit);
    for (const id of ids) await this.d.jobs.cancelJob(id);
    return ids.length;
  }

  /** After a restart: every job still being rolled out gets a dispatch tick (ticks are idempotent); unfinished cancels resume. */
  async resume(): Promise<number> {
    let resumed = await this.resumeCancels();
    for (const status of ['CREATED', 'RUNNING'] as const) {
      for (let offset = 0; ; offset += 1000) {
        const jobs = await this.d.tx.stores.jobs.list(status, { offset, limit: 1000 });
        for (const j of jobs) await this.d.jobs.dispatch(j.jobId, 0);
        resumed += jobs.length;
        if (jobs.length < 1000) break;
      }
    }
    return resumed;
  }

  async getJobById(jobId: string): Promise<Job> {
    return this.job(jobId);
  }

  getJobs(status: string | undefined, page: Page): Promise<Job[]> {
    if (status !== undefined && !['CREATED', 'RUNNING', 'PAUSED', 'CANCELLED', 'COMPLETED', 'COMPLETED_WITH_ERRORS'].includes(status)) {
      throw invalidArgument('status', 'is not a job state');
    }
    return this.d.tx.stores.jobs.list(status as JobStatus | undefined, validatePage(page));
  }

  getJobsByDate(from: Date, to: Date, page: Page): Promise<Job[]> {
    if (from > to) throw invalidArgument('from', 'is after to');
    return this.d.tx.stores.jobs.listByDate(from, to, validatePage(page));
  }

  async getTasks(jobId: string, status: string | undefined, page: Page): Promise<Task[]> {
    await this.job(jobId);
    if (status !== undefined && !isTaskStatus(status)) throw invalidArgument('status', 'is not a task state');
    return this.d.tx.stores.jobs.tasksOf(jobId, status as TaskStatus | undefined, validatePage(page));
  }

  /** The job's events in order: created, started, paused, restarted, cancelled, waves, thresholds, completion. */
  async getJobHistory(jobId: string, page: Page): Promise<JobHistoryEntry[]> {
    const valid = validatePage(page);
    await this.job(jobId);
    return this.d.tx.stores.jobs.history(jobId, valid);
  }

  private async job(jobId: string): Promise<Job> {
    const job = await this.d.tx.stores.jobs.get(jobId);
    if (!job) throw notFound('job', jobId);
    return job;
  }
}
