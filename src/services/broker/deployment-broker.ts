/**
 * IDeploymentBrokerServices as a use case: turns doOperation into a task,
 * drives it through the device's DM sessions (queue the request, wake the
 * device, interpret statuses, results and Generic Alerts), and records every
 * state change as a history row in the same transaction as the change.
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { phoneNumberProblem } from '../../domain/device-id.js';
import { DmwsiError, invalidArgument, notFound } from '../../domain/errors.js';
import {
  parseScheduleTime,
  type ScheduleTime,
  validateOperation,
  validatePolicy,
} from '../../domain/operation-validation.js';
import {
  isMoOperation,
  type OperationDefinition,
  type Task,
  type TaskHistoryEntry,
  type TaskStatus,
  TERMINAL_TASK_STATES,
} from '../../domain/tasks.js';
import type { CommandOutcome, DeviceAlert } from '../../dm/server/ports.js';
import { correlationId, withCorrelation } from '../../observability/correlation.js';
import type { ServerCommandRequest } from '../../dm/session/server-commands.js';
import type { CallContext, Clock, Stores, TaskChange, DeviceMoRoots, TaskInContext, Transactor } from '../ports.js';
import { idForCall, writeFirst } from '../retried-call.js';
import type { FinalAlertInterpreter, LongOperationKind } from './final-alerts.js';
import { interpretRun, interpretScheduleReport, SSE_ALERT, SSE_EXECFAILED_ALERT, scheduleReportMismatch } from './interpret.js';
import {
  attemptOf,
  deleteScheduleRequest,
  discoverRequest,
  parseRequestId,
  probeRequest,
  runRequest,
  sseCorrelator,
  sseNodeUri,
  taskIdFromCorrelator,
  taskIdFromExecCorrelator,
  type PlanContext,
} from './plan.js';
import { LongOperations } from './long-operations.js';
import { MoOperations, type PackageLinks } from './mo-operations.js';
import { readRunFacts, type RunFacts, runFactsOf, runSubjectOf } from './run-facts.js';
import { moveTask } from './task-moves.js';
import { NotifyBatches, notificationFailure, notificationNote, notifyOptions } from './notify-batch.js';
import type { BrokerCache, DeviceCommandPort, GuardedRequest, NotifyFailure, TaskJobs } from './ports.js';
import { underTaskId } from './task-correlation.js';

export interface BrokerDeps {
  tx: Transactor;
  devices: DeviceCommandPort;
  jobs: TaskJobs;
  cache: BrokerCache;
  clock: Clock;
  logger: Logger;
  /** How long a task may wait for its device before it is EXPIRED. */
  taskDeadlineMs: number;
  /** How long after AtTime a SCHEDULED task waits for the device's report. */
  reportGraceMs: number;
  /** How long a task may wait without progress before its device is woken again (TASK_RETRY_SECONDS). */
  taskRetryMs: number;
  /** How long an IN_PROGRESS task waits for its long operation's final alert (LONG_OPERATION_SECONDS). */
  longOperationMs: number;
  /** Final-alert readings per kind of long operation replacing the defaults (FINAL_ALERT_INTERPRETERS). */
  finalAlerts?: Partial<Record<LongOperationKind, FinalAlertInterpreter>>;
  /** The PkgURL of a task's package (FIRMWARE_UPDATE, SOFTWARE_INSTALL). */
  packages: PackageLinks;
}

export interface DoOperationInput {
  operation: OperationDefinition;
  phoneNumber: string;
  bOptin: boolean;
  acceptDevicePolicy: number;
  testCycle: boolean;
}

const OPEN_BEFORE_SESSION: readonly TaskStatus[] = ['QUEUED', 'NOTIFYING'];
const OPEN_FOR_RESULT: readonly TaskStatus[] = ['QUEUED', 'NOTIFYING', 'IN_SESSION'];
/** One notification per device at a time: tasks queued together share one session. */
const NOTIFY_GATE_SECONDS = 10;
const MAX_PROBES = 3;
/** Deletes of an ended task's MO sent after the first one's answer was lost. */
const MAX_CLEANUPS = 5;
/** When a shared notification's session may not take this task's request, look again after this. */
const FOLLOW_UP_MS = 5000;
/** The last history events of a SCHEDULED task whose cancel the device has not answered yet. */
const CANCEL_PENDING = new Set(['cancel-requested', 'cancel-resent', 'cancel-retried']);
/** History rows about a notification's delivery, written when its send finishes. */
const NOTIFICATION_NOTES = new Set(['notification-delivered', 'notification-failed']);

export class DeploymentBroker {
  private readonly longOps: LongOperations;
  private readonly mo: MoOperations;
  private readonly batches: NotifyBatches;

  constructor(private readonly d: BrokerDeps) {
    this.longOps = new LongOperations(d);
    this.mo = new MoOperations({ ...d, sendAndWake: (id, request, reportedBy) => this.sendAndWake(id, request, reportedBy) });
    this.batches = new NotifyBatches({
      ...d,
      notifyOne: (taskId, found) => this.notifyTask(taskId, found, false),
      runRequestOf: (found) => this.runRequestOf(found),
      claimNotification: (task) => this.claimNotification(task),
    });
  }

  // --- SOAP use cases -------------------------------------------------------

  async doOperation(ctx: CallContext, input: DoOperationInput): Promise<string> {
    const now = this.d.clock.now();
    const { operation, schedule } = validateOperation(input.operation, { now: new Date(now), testCycle: input.testCycle });
    const policy = validatePolicy(input.acceptDevicePolicy);
    const phoneProblem = phoneNumberProblem(input.phoneNumber);
    if (phoneProblem) throw invalidArgument('phoneNumber', phoneProblem);
    const stores = this.d.tx.stores;
    const device = await stores.devices.getViewByPhone(input.phoneNumber);
    if (!device) throw notFound('device with phone number', input.phoneNumber);
    const capability = await stores.capabilities.get(device.capabilityOid);
    if (!capability) throw new DmwsiError('InvalidState', `device ${device.deviceId} has no device capability`);
    if (operation.name === 'SCHEDULED_EXEC' && !capability.sseRoot) {
      throw new DmwsiError('InvalidState', `model ${capability.make} ${capability.model} has no SingleShotExec MO root`);
    }
    await this.mo.checkNew(operation, capability);
    if (capability.dmVersion === '2.0' && input.bOptin) {
      // DM 2.0 has no user-interaction alert to ask the user with (seed 001's command set).
      throw invalidArgument('bOptin', `model ${capability.make} ${capability.model} speaks DM 2.0, which has no user-interaction alert: use bOptin false`);
    }

    const proposed = crypto.randomUUID();
    const taskId = await idForCall(this.d.cache, ctx, proposed);
    // A new id has no task yet; a retry's may, unless its first call failed.
    if (taskId !== proposed && (await stores.tasks.get(taskId))) return taskId;

    const task: Task = {
      taskId,
      deviceId: device.deviceId,
      phoneNumber: device.phoneNumber,
      operation,
      status: 'QUEUED',
      ...(operation.name === 'SCHEDULED_EXEC' ? { correlator: sseCorrelator(taskId) } : {}),
      ...(operation.contentId !== undefined ? { contentId: operation.contentId } : {}),
      results: [],
      bOptin: input.bOptin,
      acceptDevicePolicy: policy,
      testCycle: input.testCycle,
      deadline: new Date(now + this.d.taskDeadlineMs),
      ...(ctx.correlationId ? { correlationId: ctx.correlationId } : {}),
      createdBy: ctx.caller,
      createdAt: new Date(now),
      updatedAt: new Date(now),
    };
    // Planned before the transaction: planning reads the stores (MO roots, the package).
    const testPlan = input.testCycle ? withoutFacts(await this.planFor(task, { sseRoot: capability.sseRoot }, schedule)) : undefined;
    const wrote = await writeFirst(
      ctx,
      () =>
        this.d.tx.run(async (s) => {
          await s.tasks.insert(task, 'created', `${operation.name} for ${device.deviceId}`);
          if (testPlan) {
            await s.tasks.transition(taskId, 'COMPLETED', { event: 'test-cycle', detail: JSON.stringify(testPlan, elideLongData) }, now);
          }
          await s.audit.record({ ...ctx, target: `${device.deviceId} task ${taskId}`, outcome: 'ok' }, now);
        }),
      () => stores.tasks.get(taskId),
    );
    if (!wrote) return taskId;
    if (!input.testCycle) {
      // Two adds, not one addBulk: an ioredis pipeline on BullMQ's connection costs more to build
      // (it copies every script command) than the second socket write it saves (measured).
      await this.d.jobs.notify(taskId, 0);
      await this.d.jobs.expire(taskId, task.deadline!);
    }
    return taskId;
  }

  async getTask(taskId: string): Promise<Task> {
    const task = await this.d.tx.stores.tasks.get(taskId);
    if (!task) throw notFound('task', taskId);
    return task;
  }

  async getTaskHistory(taskId: string): Promise<TaskHistoryEntry[]> {
    await this.getTask(taskId);
    return this.d.tx.stores.tasks.history(taskId);
  }

  /**
   * Before the device takes the request: withdrawn, CANCELLED at once. A
   * SingleShotExec that may be on the device: its MO is deleted, and the task
   * is CANCELLED when the device confirms (a removed MO never runs).
   */
  async cancelTask(ctx: CallContext, taskId: string): Promise<void> {
    const task = await this.getTask(taskId);
    const now = this.d.clock.now();
    if (TERMINAL_TASK_STATES.has(task.status)) {
      throw new DmwsiError('InvalidState', `task ${taskId} is already ${task.status}`);
    }
    if (task.status === 'IN_PROGRESS') {
      // DM cannot stop what the device is running (a firmware being written): calling it CANCELLED would hide how it ends.
      throw new DmwsiError('InvalidState', `task ${taskId} is IN_PROGRESS on the device: its final alert or the long-operation deadline ends it`);
    }
    const sseRoot = await this.sseRootOf(task);
    const armed = task.operation.name === 'SCHEDULED_EXEC' && task.status !== 'QUEUED' && task.status !== 'NOTIFYING';
    if (!armed) {
      await this.d.devices.withdraw(task.deviceId, [runRequestId(taskId)]);
      await this.d.tx.run(async (s) => {
        await this.move(s, taskId, 'CANCELLED', { event: 'cancelled', detail: `by ${ctx.caller}` }, now);
        await s.audit.record({ ...ctx, target: `task ${taskId}`, outcome: 'ok' }, now);
      });
      return;
    }
    await this.d.tx.run(async (s) => {
      await s.tasks.note(taskId, { event: 'cancel-requested', detail: `by ${ctx.caller}: deleting the schedule` }, now);
      await s.audit.record({ ...ctx, target: `task ${taskId}`, outcome: 'ok' }, now);
    });
    await this.sendAndWake(task.deviceId, deleteScheduleRequest(taskId, sseRoot!, 'cancel'));
    await this.checkCancelLater(taskId, now, this.d.taskRetryMs);
  }

  /**
   * A look at an unanswered cancel after `delayMs` (a notify job; see
   * retryCancel). The stalled-task sweep does not cover SCHEDULED tasks: it
   * would scan every armed task of a rollout waiting for its AtTime.
   */
  private checkCancelLater(taskId: string, now: number, delayMs: number): Promise<void> {
    return this.d.jobs.notify(taskId, now + delayMs, delayMs);
  }

  /**
   * A SCHEDULED task whose cancel the device has not answered: its session
   * may have died after the device deleted the MO, and then nothing else
   * brings the device back (no report will come). Wake it: its next session
   * reports the delete as lost, and the delete is sent again. Then look again
   * after as long as the cancel has waited so far.
   */
  private async retryCancel(task: Task): Promise<void> {
    const history = await this.d.tx.stores.tasks.history(task.taskId);
    // A notification's note may land after the cancel's rows (a batch notes its sends as they finish):
    // it says nothing of the cancel.
    const last = history.findLast((h) => !NOTIFICATION_NOTES.has(h.event));
    if (!last || !CANCEL_PENDING.has(last.event)) return;
    let requestedAt = last.at.getTime();
    for (const h of history) if (h.event === 'cancel-requested') requestedAt = h.at.getTime();
    const outcome = await this.d.devices.notify(task.deviceId, { uiMode: 'background', resync: true });
    await this.note(task.taskId, {
      event: 'cancel-retried',
      detail: outcome.delivered ? `${outcome.channel}: the device woken again` : `${outcome.channel}: ${outcome.reason}`,
    });
    const now = this.d.clock.now();
    await this.checkCancelLater(task.taskId, now, Math.max(this.d.taskRetryMs, now - requestedAt));
  }

  // --- background jobs ------------------------------------------------------

  /** Queues the task's request and wakes the device. Throws to have the job retried. */
  async processNotify(taskId: string, retry: boolean): Promise<void> {
    // One read: the task, its job's status and its MO roots (each a round trip of its own on PostgreSQL).
    const found = await this.d.tx.stores.tasks.getInContext(taskId);
    return underTaskId(found?.task, () => this.notifyTask(taskId, found, retry));
  }

  /**
   * The first notification of a release's tasks (a 'notify-batch' job), in
   * a few statements for the whole batch (NotifyBatches). Returns the tasks
   * whose try failed and should be tried again by a notify job of their own.
   */
  processNotifyBatch(taskIds: readonly string[]): Promise<NotifyFailure[]> {
    return this.batches.notify(taskIds);
  }

  private async notifyTask(taskId: string, found: TaskInContext | undefined, retry: boolean): Promise<void> {
    const task = found?.task;
    // IN_PROGRESS: the device has the work and reports its end itself; waking it again would add nothing.
    if (!task || TERMINAL_TASK_STATES.has(task.status) || task.status === 'IN_PROGRESS') return;
    if (task.status === 'SCHEDULED') {
      await this.retryCancel(task);
      return;
    }
    if (task.operation.name === 'BOOTSTRAP') {
      await this.d.jobs.bootstrap(taskId);
      return;
    }
    if (task.jobId && task.status === 'QUEUED') {
      if (found!.jobStatus !== undefined && found!.jobStatus !== 'RUNNING') {
        // Paused (or cancelled) after the dispatcher released it: hand it back.
        await this.d.tx.run((s) => s.jobs.unrelease(taskId));
        return;
      }
    }
    // Queued once, by the move out of QUEUED (which follows it). A task past QUEUED is only woken:
    // its request may since have gone out, been answered, or been lost with a dropped session,
    // and queuing it again would send it again (a second arming).
    if (task.status === 'QUEUED') {
      await this.d.devices.submit(task.deviceId, await this.runRequestOf(found!));
      const now = this.d.clock.now();
      // One store call: atomic by itself (Transactor.stores), and on PostgreSQL one statement without BEGIN and COMMIT.
      await this.d.tx.stores.tasks.transition(taskId, 'NOTIFYING', { event: 'notifying', from: ['QUEUED'] }, now);
    }
    if (!retry && !(await this.claimNotification(task))) return;
    // Notified before and still not in a session: the device may hold another server nonce than ours
    // (see DeviceNotifier.notify); over SMS no answer would say so.
    const outcome = await this.d.devices.notify(task.deviceId, notifyOptions(task));
    this.d.logger.debug({ taskId, deviceId: task.deviceId, channel: outcome.channel, delivered: outcome.delivered }, 'device notified');
    await this.note(taskId, notificationNote(outcome));
    // Retryable: BullMQ tries again with backoff. Otherwise the request stays
    // queued for the device's own next session, until the deadline.
    if (!outcome.delivered && outcome.retryable) throw new Error(notificationFailure(task, outcome));
  }

  /** The request a QUEUED task's device is sent (its run, or the discovery its MO operation needs first). */
  private async runRequestOf(found: TaskInContext): Promise<GuardedRequest> {
    const task = found.task;
    const sseRoot = task.operation.name === 'SCHEDULED_EXEC' ? found.roots?.capability.sseRoot : undefined;
    return {
      ...(await this.planFor(task, { sseRoot }, scheduleOf(task))),
      guard: { registeredDeviceId: task.deviceId, policy: task.acceptDevicePolicy },
    };
  }

  /**
   * The notification gate: one notification per device at a time. false when another task's
   * notification is on its way: that session should take this request too, so this task looks
   * again shortly in case the session had already taken its requests (or ended).
   */
  private async claimNotification(task: Task): Promise<boolean> {
    if (await this.d.cache.claimOnce(`notified:${task.deviceId}`, NOTIFY_GATE_SECONDS)) return true;
    const follow = await this.d.cache.claimOnce(`follow:${task.taskId}:${Math.floor(this.d.clock.now() / FOLLOW_UP_MS)}`, 60);
    if (follow) {
      await this.note(task.taskId, { event: 'notification-shared', detail: 'the device is being notified for another task' });
      await this.d.jobs.notify(task.taskId, this.d.clock.now(), FOLLOW_UP_MS);
    }
    return false;
  }

  async processExpire(taskId: string): Promise<void> {
    const task = await this.d.tx.stores.tasks.get(taskId);
    return underTaskId(task, () => this.expireTask(taskId, task));
  }

  private async expireTask(taskId: string, task: Task | undefined): Promise<void> {
    if (!task || TERMINAL_TASK_STATES.has(task.status)) return;
    const now = this.d.clock.now();
    if (task.status === 'IN_PROGRESS') {
      await this.longOps.expire(task, now);
      return;
    }
    if (task.status === 'SCHEDULED') {
      const due = (scheduleOf(task)?.at.getTime() ?? now) + this.d.reportGraceMs;
      if (due > now) {
        await this.d.jobs.expire(taskId, new Date(due));
        return;
      }
      // Its MO may still be armed: a deleted MO never runs. Queued and woken for before the move, so
      // that a retried job (the move done, the rest not) has nothing left to do.
      await this.d.devices.submit(task.deviceId, deleteScheduleRequest(taskId, (await this.sseRootOf(task))!, 'cleanup'));
      await this.d.jobs.wake(taskId, 'expired', 0);
      await this.d.tx.run((s) =>
        this.move(s, taskId, 'EXPIRED', { event: 'no-report', detail: 'the device never reported the schedule; deleting it' }, now),
      );
      return;
    }
    await this.d.devices.withdraw(task.deviceId, [runRequestId(taskId)]);
    await this.d.tx.run((s) =>
      this.move(s, taskId, 'EXPIRED', { event: 'deadline-passed', detail: 'the device did not come in time' }, now),
    );
  }

  /**
   * Wakes the device of an ended task for its MO's Delete, within the task's job's
   * notificationsPerSecond (shared with the rollout's own notifications). Out of budget, it looks
   * again a little later, under the next round's job id.
   */
  async processWake(taskId: string, why: string, round: number): Promise<void> {
    const task = await this.d.tx.stores.tasks.get(taskId);
    return underTaskId(task, () => this.wakeTask(taskId, task, why, round));
  }

  private async wakeTask(taskId: string, task: Task | undefined, why: string, round: number): Promise<void> {
    if (!task) return;
    if (!(await this.withinBudget(task))) {
      // Spread: wakes put off in the same second would otherwise all come back in the same next one.
      const delayMs = 1000 + Math.floor(Math.random() * 1000 * Math.min(round + 1, 10));
      await this.d.jobs.wake(taskId, why, round + 1, delayMs);
      return;
    }
    const outcome = await this.d.devices.notify(task.deviceId, { uiMode: 'background' });
    await this.note(taskId, {
      event: 'cleanup-wake',
      detail: outcome.delivered ? `${outcome.channel}: the device woken to delete the schedule` : `${outcome.channel}: ${outcome.reason}`,
    });
    // Retryable: BullMQ tries again with backoff. Otherwise the Delete waits for the device's own next session.
    if (!outcome.delivered && outcome.retryable) throw new Error(`notification to ${task.deviceId} failed: ${outcome.reason}`);
  }

  private async withinBudget(task: Task): Promise<boolean> {
    if (!task.jobId) return true;
    const perSecond = (await this.d.tx.stores.jobs.get(task.jobId))?.options.notificationsPerSecond;
    if (perSecond === undefined) return true;
    return (await this.d.cache.takeTokens(`rate:${task.jobId}`, 1, perSecond, this.d.clock.now())) > 0;
  }

  /**
   * Tasks waiting for their device that stopped moving (a notification
   * lost, a session dropped by a dying gateway process or device, a notify
   * job lost with a worker) get a new notify job, which wakes the device
   * again; its session finds the request still queued, or reports it lost.
   * The job id carries when the task last moved, so sweeps that overlap add
   * one job per stall. Returns how many tasks it retried.
   */
  async retryStalled(retryMs: number, maxRetryMs = Number.MAX_SAFE_INTEGER, limit = 1000): Promise<number> {
    const stalled = await this.d.tx.stores.tasks.stalled(this.d.clock.now(), retryMs, maxRetryMs, limit);
    for (const t of stalled) await this.d.jobs.notify(t.taskId, t.since);
    return stalled.length;
  }

  /** After a restart: tasks whose notify job may never have been added get one (job ids make this idempotent). */
  async reconcile(limit = 10_000): Promise<number> {
    const ids = await this.d.tx.stores.tasks.notifiable(limit);
    for (const id of ids) await this.d.jobs.notify(id, 0);
    return ids.length;
  }

  // --- what devices report ------------------------------------------------------

  /** A device's session ended: the next task for it notifies it again. */
  async onSessionEnded(deviceId: string): Promise<void> {
    await this.d.cache.release(`notified:${deviceId}`);
  }

  async onRequestsTaken(_deviceId: string, requestIds: string[], at: number): Promise<void> {
    for (const requestId of requestIds) {
      const parsed = parseRequestId(requestId);
      if (parsed?.purpose !== 'run') continue;
      await this.d.tx.stores.tasks.transition(parsed.taskId, 'IN_SESSION', { event: 'session-started', from: OPEN_BEFORE_SESSION }, at);
    }
  }

  async onOutcome(o: CommandOutcome): Promise<void> {
    const parsed = parseRequestId(o.requestId);
    if (!parsed) return;
    // A cleanup Delete the device answered is only a history row: the note needs no read of the task
    // (one of a task that does not exist writes nothing).
    if (parsed.purpose === 'cleanup' && o.outcome !== 'undelivered') return this.onCleanupAnswered(parsed.taskId, o);
    // A run the device answered (or the server refused) needs only what its request carried: no read
    // of the task. Not a lost one (what follows depends on the task's state now), nor a software
    // inventory (its reading needs the task), nor a request queued without them (before they were carried).
    const facts = parsed.purpose === 'run' && o.outcome !== 'undelivered' ? readRunFacts(o.facts) : undefined;
    if (facts !== undefined && facts.operation !== 'SOFTWARE_INVENTORY') return this.onRunAnswered(parsed.taskId, facts, o);
    const task = await this.d.tx.stores.tasks.get(parsed.taskId);
    if (!task) return;
    switch (parsed.purpose) {
      case 'run':
        return this.onRunOutcome(task, o);
      case 'probe':
        return this.onProbeOutcome(task, o);
      case 'cancel':
        return this.onCancelOutcome(task, o);
      case 'cleanup':
        return this.onCleanupOutcome(task, o);
      case 'discover':
        return this.mo.onDiscoverOutcome(task, o, async () => {
          const fresh = (await this.d.tx.stores.tasks.get(task.taskId)) ?? task;
          if (!OPEN_FOR_RESULT.includes(fresh.status)) return;
          const run = { ...(await this.planFor(fresh, {}, undefined)), guard: { registeredDeviceId: task.deviceId, policy: task.acceptDevicePolicy } };
          await this.sendAndWake(task.deviceId, run, o);
        });
      case 'fwv':
        return this.mo.onFwvOutcome(task, o);
      case 'inventory':
        return this.mo.onInventoryOutcome(task, o, false);
      case 'components':
        return this.mo.onComponentsOutcome(task, o);
      case 'unstage':
        return this.mo.onUnstageOutcome(task, o);
      case 'update':
        return this.mo.onUpdateOutcome(task, o);
    }
  }

  /**
   * The request that carries out the task: its commands, or for a
   * firmware/software task whose MO root is not known yet, the Gets that look
   * for it (its outcome queues the commands). The run request keeps its id.
   */
  private async planFor(task: Task, ctx: PlanContext, schedule: ScheduleTime | undefined, attempt = 0): Promise<ServerCommandRequest> {
    if (!isMoOperation(task.operation.name)) return runRequest(task, ctx, schedule, attempt);
    const planning = await this.mo.planning(task);
    if (!planning.ready) return discoverRequest(task.taskId, planning.discover, attempt);
    return runRequest(task, { ...ctx, ...planning.ctx }, schedule, attempt);
  }

  /** The Delete of an ended task's MO. One whose answer was lost is sent again: deleting twice is harmless. */
  private async onCleanupOutcome(task: Task, o: CommandOutcome): Promise<void> {
    if (o.outcome === 'undelivered') {
      const attempt = attemptOf(o.requestId) + 1;
      if (attempt > MAX_CLEANUPS) {
        await this.note(task.taskId, { event: 'cleanup-abandoned', detail: `${o.reason}: the device never answered the Delete` }, o.at);
        return;
      }
      await this.note(task.taskId, { event: 'cleanup-resent', detail: `${o.reason}: deleting the schedule again` }, o.at);
      await this.d.devices.submit(task.deviceId, deleteScheduleRequest(task.taskId, (await this.sseRootOf(task))!, 'cleanup', attempt));
      if (o.followUpInSession !== true) await this.d.jobs.wake(task.taskId, `cleanup-${attempt}`, 0);
      return;
    }
    await this.onCleanupAnswered(task.taskId, o);
  }

  private async onCleanupAnswered(taskId: string, o: CommandOutcome): Promise<void> {
    const status = o.results[0]?.status;
    await this.note(taskId, {
      event: 'schedule-removed',
      code: status,
      detail: o.outcome === 'rejected' ? `the Delete was refused: ${o.reason}` : status === 404 ? 'the MO was not on the device' : 'MO deleted from the device',
    }, o.at);
  }

  private async onRunOutcome(task: Task, o: CommandOutcome): Promise<void> {
    // Read only on the paths that send a Delete, a probe or the run again.
    const sseRoot = () => this.sseRootOf(task);
    if (o.outcome === 'undelivered') {
      const open = OPEN_FOR_RESULT.includes(task.status);
      // Re-sent requests get the next attempt number: the lost one is still queued until its
      // outcome is handled, and an enqueue under its id would be a no-op.
      const attempt = attemptOf(o.requestId) + 1;
      if (task.operation.name === 'SCHEDULED_EXEC') {
        if (task.status === 'SCHEDULED' || task.status === 'COMPLETED') return; // known to be armed: nothing is in doubt
        if (!open) {
          // Ended without being armed as far as we know (cancelled, expired), yet this arming may have
          // reached the device: delete the schedule so that it never runs.
          await this.note(task.taskId, { event: 'answer-lost', detail: `${o.reason}: deleting the schedule in case it was armed` }, o.at);
          await this.sendAndWake(task.deviceId, deleteScheduleRequest(task.taskId, (await sseRoot())!, 'cancel', attempt), o);
          return;
        }
        // It may or may not be armed: ask the device before arming again (at most once).
        await this.note(task.taskId, { event: 'answer-lost', detail: `${o.reason}: probing the device for the schedule` }, o.at);
        await this.sendAndWake(task.deviceId, probeRequest(task.taskId, (await sseRoot())!, attempt), o);
        return;
      }
      if (!open) return;
      if (task.operation.name === 'QUERY') {
        await this.note(task.taskId, { event: 'answer-lost', detail: `${o.reason}: the query is sent again` }, o.at);
        await this.sendAndWake(task.deviceId, runRequest(task, { sseRoot: await sseRoot() }, scheduleOf(task), attempt), o);
        return;
      }
      await this.d.tx.run((s) =>
        this.move(s, task.taskId, 'FAILED', { event: 'answer-lost', detail: `sent, no answer (${o.reason})` }, o.at),
      );
      return;
    }
    if (task.operation.name === 'SOFTWARE_INVENTORY' && !refusedByPolicy(o)) return this.mo.onInventoryOutcome(task, o, true);
    return this.onRunAnswered(task.taskId, runFactsOf(task), o);
  }

  /**
   * A run the device answered, or the server refused: decided from the task's run facts alone (as its
   * request carried them, or as read), so that the common path reads nothing before the move.
   */
  private async onRunAnswered(taskId: string, facts: RunFacts, o: CommandOutcome): Promise<void> {
    if (refusedByPolicy(o)) {
      await this.d.tx.run((s) =>
        this.move(s, taskId, 'FAILED', { event: 'device-policy-mismatch', detail: o.reason! }, o.at),
      );
      return;
    }
    const decision = interpretRun(runSubjectOf(taskId, facts), o);
    // Store calls of their own (the note of a move too late needs no transaction with it): see processNotify.
    const moved = await this.move(this.d.tx.stores, taskId, decision.to, { ...decision.change, from: OPEN_FOR_RESULT }, o.at);
    // No such task: nothing more to do (tasks are never deleted, so only an outcome not of ours names none).
    if (moved === undefined) return;
    if (decision.to === 'IN_PROGRESS' && moved.status === 'IN_PROGRESS') await this.longOps.started(taskId, o.at);
    if (facts.operation !== 'SCHEDULED_EXEC') return;
    const armed = decision.to === 'SCHEDULED';
    // The row the move returned names the device and the operation the Delete needs (read only for a Delete).
    if (armed && moved.status !== 'SCHEDULED') {
      // Cancelled (or expired) while the session armed it: remove it so it never runs.
      await this.sendAndWake(moved.deviceId, deleteScheduleRequest(taskId, (await this.sseRootOf(moved))!, 'cancel'), o);
    } else if (!armed) {
      await this.d.devices.submit(moved.deviceId, deleteScheduleRequest(taskId, (await this.sseRootOf(moved))!, 'cleanup'));
    }
  }

  private async onProbeOutcome(task: Task, o: CommandOutcome): Promise<void> {
    const sseRoot = await this.sseRootOf(task);
    const status = o.results[0]?.status;
    if (o.outcome === 'completed' && status === 200) {
      await this.d.tx.run((s) =>
        this.move(s, task.taskId, 'SCHEDULED', { event: 'schedule-found', from: OPEN_FOR_RESULT, detail: 'already armed on the device' }, o.at),
      );
      return;
    }
    // Only a task still waiting for its arming may be armed now: one cancelled, expired or found
    // armed meanwhile must not be (a probe answered after the schedule ran and was removed says 404).
    const open = OPEN_FOR_RESULT.includes(task.status);
    const attempt = Math.max(1, attemptOf(o.requestId));
    if (o.outcome === 'completed' && status === 404) {
      if (!open) return;
      await this.note(task.taskId, { event: 'schedule-absent', detail: 'not on the device: arming' }, o.at);
      await this.sendAndWake(task.deviceId, runRequest(task, { sseRoot }, scheduleOf(task), attempt), o);
      return;
    }
    if (!open) return;
    if (o.outcome === 'undelivered') {
      // Lost with its session: nothing was learnt, so ask again (under a new id: the lost one stays
      // queued until this is handled). Only a probe the device answers otherwise can fail the task.
      await this.sendAndWake(task.deviceId, probeRequest(task.taskId, sseRoot!, attempt + 1), o);
      return;
    }
    if (attempt >= MAX_PROBES) {
      await this.d.tx.run((s) =>
        this.move(s, task.taskId, 'FAILED', { event: 'schedule-unknown', detail: 'could not learn whether the schedule is armed' }, o.at),
      );
      return;
    }
    await this.d.devices.submit(task.deviceId, probeRequest(task.taskId, sseRoot!, attempt + 1));
  }

  private async onCancelOutcome(task: Task, o: CommandOutcome): Promise<void> {
    const status = o.results[0]?.status;
    const removed = o.outcome === 'completed' && (status === 200 || status === 404);
    if (o.outcome === 'undelivered') {
      // Deleting twice is harmless (404 the second time), a schedule left armed is not.
      const sseRoot = await this.sseRootOf(task);
      await this.note(task.taskId, { event: 'cancel-resent', detail: `${o.reason}: deleting the schedule again` }, o.at);
      await this.sendAndWake(task.deviceId, deleteScheduleRequest(task.taskId, sseRoot!, 'cancel', attemptOf(o.requestId) + 1), o);
      if (task.status === 'SCHEDULED') await this.checkCancelLater(task.taskId, o.at, this.d.taskRetryMs);
      return;
    }
    if (!removed) {
      await this.note(task.taskId, { event: 'cancel-failed', code: status, detail: o.reason ?? `device answered ${status}` }, o.at);
      return;
    }
    await this.d.tx.run(async (s) => {
      const r = await s.tasks.transition(task.taskId, 'CANCELLED', {
        event: 'schedule-removed',
        code: status,
        detail: status === 404 ? 'the schedule was not on the device' : 'the device deleted the schedule',
        from: ['SCHEDULED', 'IN_SESSION', 'NOTIFYING', 'QUEUED'],
      }, o.at);
      if (!r.moved) await s.tasks.note(task.taskId, { event: 'schedule-removed', code: status, detail: `after the task was ${r.task?.status}` }, o.at);
    });
  }

  /** The SingleShotExec report. Returns true when it belonged to a task. */
  async onScheduleAlert(alert: DeviceAlert): Promise<boolean> {
    const taskId = alert.correlator ? taskIdFromCorrelator(alert.correlator) : undefined;
    if (!taskId) return false;
    // One read: the task and its device's MO roots (the report's check and the Delete need the schedule's).
    const found = await this.d.tx.stores.tasks.getInContext(taskId);
    const task = found?.task;
    if (!task || task.deviceId !== alert.deviceId) return false;
    return withCorrelation(task.correlationId ?? correlationId(), () => this.onTaskScheduleAlert(task, found?.roots, alert));
  }

  private async onTaskScheduleAlert(task: Task, roots: DeviceMoRoots | undefined, alert: DeviceAlert): Promise<boolean> {
    const taskId = task.taskId;
    this.d.logger.debug(
      { deviceId: alert.deviceId, taskId, correlator: alert.correlator, alertType: alert.alertType, status: task.status },
      'SingleShotExec report',
    );
    if (task.status === 'IN_PROGRESS' && alert.alertType !== SSE_ALERT && alert.alertType !== SSE_EXECFAILED_ALERT) {
      // The operation the schedule started reports its end under the schedule's correlator.
      return this.longOps.onFinalAlert(task, alert);
    }
    const sseRoot = task.operation.name === 'SCHEDULED_EXEC' ? roots?.capability.sseRoot : undefined;
    const mismatch = scheduleReportMismatch(alert, sseRoot === undefined ? undefined : sseNodeUri(sseRoot, taskId));
    if (mismatch) {
      // The device still gets 200 for its Alert (refused, it would resend it for ever); the alert is
      // recorded as unhandled and the task's history says why it changed nothing.
      this.d.logger.warn({ deviceId: alert.deviceId, taskId, alertType: alert.alertType, source: alert.source }, `report ignored: ${mismatch}`);
      await this.note(taskId, { event: 'report-ignored', detail: mismatch }, alert.at);
      return false;
    }
    const reported = interpretScheduleReport(alert);
    const kind = reported.to === 'COMPLETED' ? await this.longOps.kindOf(task, roots) : undefined;
    // Seed 000's editor's note: the report says the target ran, not that a FUMO/SCOMO operation it started ended.
    const decision = kind
      ? { to: 'IN_PROGRESS' as const, change: { ...reported.change, detail: `${reported.change.detail}; awaiting the ${kind.toUpperCase()} operation's own alert` } }
      : reported;
    // Store calls of their own (see processNotify): the note of a report too late changes nothing to undo with the move.
    const stores = this.d.tx.stores;
    const r = await stores.tasks.transition(taskId, decision.to, { ...decision.change, from: ['SCHEDULED', ...OPEN_FOR_RESULT] }, alert.at);
    if (!r.moved) {
      // The history tells the truth even when the task already ended (e.g. cancelled too late).
      await stores.tasks.note(taskId, { ...decision.change, event: `${decision.change.event}-after-${r.task?.status ?? 'end'}` }, alert.at);
    }
    const moved = r.moved;
    if (moved && decision.to === 'IN_PROGRESS') await this.longOps.started(taskId, alert.at);
    // The report's session takes the Delete; a session that ends without taking it leaves it to a wake.
    await this.d.devices.submit(task.deviceId, deleteScheduleRequest(taskId, sseRoot!, 'cleanup'));
    if (alert.followUpInSession !== true) await this.d.jobs.wake(taskId, 'reported', 0);
    return true;
  }

  // --- long operations (long-operations.ts) -----------------------------------------

  /** A final alert under an Exec's correlator (`exec-<taskId>`). Returns true when it ended its task. */
  async onExecAlert(alert: DeviceAlert): Promise<boolean> {
    const correlated = alert.correlator ? taskIdFromExecCorrelator(alert.correlator) : undefined;
    const downloading = correlated ? await this.d.tx.stores.tasks.get(correlated) : undefined;
    // downloadThenUpdate: the Download's success queues the Update instead of ending the task.
    if (downloading && (await this.mo.onFumoDownloaded(downloading, alert))) return true;
    const ended = await this.longOps.onExecAlert(alert);
    const taskId = ended && alert.correlator ? taskIdFromExecCorrelator(alert.correlator) : undefined;
    const task = taskId ? await this.d.tx.stores.tasks.get(taskId) : undefined;
    if (task && isMoOperation(task.operation.name)) await this.mo.afterFinalAlert(task, alert);
    return ended;
  }

  /** A FUMO/SCOMO final alert without a correlator (see LongOperations.onUncorrelatedFinalAlert). */
  async onUncorrelatedFinalAlert(alert: DeviceAlert): Promise<boolean> {
    if (await this.longOps.onUncorrelatedFinalAlert(alert)) return true;
    // A client that does not echo the Exec's correlator (notes §5): the device's oldest
    // IN_PROGRESS firmware/software task of that MO is the one its alert ends.
    const task = await this.mo.uncorrelatedTaskFor(alert);
    if (task && (await this.mo.onFumoDownloaded(task, alert))) return true;
    if (!task || !(await this.longOps.onFinalAlert(task, alert))) return false;
    await this.mo.afterFinalAlert(task, alert);
    return true;
  }

  // --- helpers --------------------------------------------------------------------

  /**
   * Queues a request for the device's next session and wakes the device for it (not waiting for its
   * turn), unless it answers what a session in progress reported: that session takes it.
   */
  private async sendAndWake(deviceId: string, request: GuardedRequest, reportedBy?: { followUpInSession?: boolean }): Promise<void> {
    await this.d.devices.submit(deviceId, request);
    if (reportedBy?.followUpInSession === true) return;
    await this.d.devices.notify(deviceId, { uiMode: 'background' });
  }

  private move(s: Stores, taskId: string, to: TaskStatus, change: TaskChange, at: number): Promise<Task | undefined> {
    return moveTask(s, taskId, to, change, at);
  }

  private note(taskId: string, change: TaskChange, at = this.d.clock.now()): Promise<void> {
    // One store call: atomic by itself (see processNotify).
    return this.d.tx.stores.tasks.note(taskId, change, at);
  }

  private async sseRootOf(task: Task): Promise<string | undefined> {
    if (task.operation.name !== 'SCHEDULED_EXEC') return undefined;
    // No secrets to open for the MO root; one read for device and capability.
    return (await this.d.tx.stores.capabilities.ofDevice(task.deviceId))?.sseRoot;
  }
}

/** A request the DM server refused for the device's policy (DeviceGuard): the task fails whatever it is. */
function refusedByPolicy(o: CommandOutcome): boolean {
  return o.outcome === 'rejected' && o.reason?.startsWith('policy') === true;
}

function runRequestId(taskId: string): string {
  return `task:${taskId}:run`;
}

function scheduleOf(task: Task): ScheduleTime | undefined {
  return task.operation.atTime ? parseScheduleTime(task.operation.atTime) : undefined;
}

/** A test cycle's plan is what the device would be sent: the facts for the outcome stay with the gateway. */
function withoutFacts(request: ServerCommandRequest): ServerCommandRequest {
  const { facts: _facts, ...sent } = request;
  return sent;
}

/** A test cycle's plan in its history: an inline package's bytes are named by their length, not copied. */
function elideLongData(key: string, value: unknown): unknown {
  return key === 'data' && typeof value === 'string' && value.length > 256 ? `(${value.length} characters)` : value;
}
