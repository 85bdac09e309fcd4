/**
 * The first notification of a release's tasks (a 'notify-batch' job) in a
 * few statements for the whole batch instead of four per task.
 *
 * Why: one task notified alone costs the worker four statements (the task
 * in context, its move to NOTIFYING, its device's read, the note of the
 * notification); on PostgreSQL with split roles each is a round trip and a
 * share of a CPU-bound server. A batch of n tasks on the common path (QUEUED,
 * its job running) now costs four: one read of the tasks, one move of them
 * all, one read of their devices, one note of each outcome.
 *
 * What it keeps from the task-by-task path (DeploymentBroker.notifyTask):
 * the order (a task's request is queued before it leaves QUEUED, its device
 * is woken after), the move's `from: ['QUEUED']` guard per task, the
 * notification gate and its follow-up per task, per-task correlation ids and
 * log lines. Every task off the common path takes the task-by-task path as it
 * is. A failure of one task's own step (its request, its gate, its send)
 * fails that task alone: it gets a notify job of its own, as before. A failed
 * batch store call fails the batch, which BullMQ runs again whole; every step
 * is safe to run again (the tasks are read again, the move is guarded by the
 * state, requests are queued under their ids).
 */
import type { Logger } from 'pino';
import type { UiMode } from '../../dm/notification/package0.js';
import type { NotificationNotDelivered, NotificationOutcome } from '../../dm/server/ports.js';
import type { Task } from '../../domain/tasks.js';
import type { Clock, TaskChange, TaskInContext, TaskNote, Transactor } from '../ports.js';
import type { DeviceCommandPort, GuardedRequest, NotifyFailure } from './ports.js';
import { underTaskId } from './task-correlation.js';

/** How many tasks of one batch have a step (a request queued, a device woken) under way at once. */
const BATCH_LANES = 16;
/** Notification notes written in one statement at most, and how long the first of them waits for others. */
const NOTE_GROUP = 64;
const NOTE_GROUP_MS = 20;

export interface NotifyBatchDeps {
  tx: Transactor;
  devices: DeviceCommandPort;
  clock: Clock;
  logger: Logger;
  /** The task-by-task notification of a task off the common path (not a retry). Throws to have it tried again. */
  notifyOne(taskId: string, found: TaskInContext | undefined): Promise<void>;
  /** The request a QUEUED task's device is sent. */
  runRequestOf(found: TaskInContext): Promise<GuardedRequest>;
  /** The notification gate (one per device at a time); false: the task shares another's, and was handled so. */
  claimNotification(task: Task): Promise<boolean>;
}

export class NotifyBatches {
  constructor(private readonly d: NotifyBatchDeps) {}

  /** Notifies the batch's tasks; returns those whose try failed and should be tried again on their own. */
  async notify(batch: readonly string[]): Promise<NotifyFailure[]> {
    // A task named twice would be noted twice in one noteMany, which refuses that (and would fail the batch for good).
    const taskIds = [...new Set(batch)];
    const found = await this.d.tx.stores.tasks.getInContextMany(taskIds);
    const failures: NotifyFailure[] = [];
    const common: TaskInContext[] = [];
    const others: string[] = [];
    for (const id of taskIds) {
      const f = found.get(id);
      if (f && onCommonPath(f)) common.push(f);
      else others.push(id);
    }
    await inLanes(others, (id) =>
      this.each(found.get(id)?.task, id, failures, () => this.d.notifyOne(id, found.get(id))),
    );
    if (common.length > 0) await this.notifyQueued(common, failures);
    return failures;
  }

  /** QUEUED tasks of running jobs (or single tasks): queue, move, gate, wake, note. */
  private async notifyQueued(tasks: TaskInContext[], failures: NotifyFailure[]): Promise<void> {
    // Queued once, before the move out of QUEUED (see notifyTask): a task whose request could not
    // be queued stays QUEUED, and its own notify job tries again.
    const queued: Task[] = [];
    await inLanes(tasks, (f) =>
      this.each(f.task, f.task.taskId, failures, async () => {
        await this.d.devices.submit(f.task.deviceId, await this.d.runRequestOf(f));
        queued.push(f.task);
      }),
    );
    if (queued.length === 0) return;
    // One store call for the batch: atomic by itself; on PostgreSQL one statement. A task that left
    // QUEUED meanwhile (cancelled, say) is not moved, and is woken as notifyTask would wake it.
    await this.d.tx.stores.tasks.transitionMany(
      queued.map((t) => t.taskId),
      'NOTIFYING',
      { event: 'notifying', from: ['QUEUED'] },
      this.d.clock.now(),
    );
    // Read for every queued task, gated or not: one read either way.
    const notify = await this.d.devices.notifierFor([...new Set(queued.map((t) => t.deviceId))]);
    const notes = new NoteGroups((group) => this.d.tx.stores.tasks.noteMany(group, this.d.clock.now()));
    await inLanes(queued, (task) =>
      this.each(task, task.taskId, failures, async () => {
        if (!(await this.d.claimNotification(task))) return;
        const outcome = await notify(task.deviceId, notifyOptions(task));
        this.d.logger.debug({ taskId: task.taskId, deviceId: task.deviceId, channel: outcome.channel, delivered: outcome.delivered }, 'device notified');
        notes.add({ taskId: task.taskId, change: notificationNote(outcome) });
        // Noted below with the batch's notes; then tried again by a notify job of its own.
        if (!outcome.delivered && outcome.retryable) failures.push({ taskId: task.taskId, reason: notificationFailure(task, outcome) });
      }),
    );
    // If a group's store call failed the batch runs again: its tasks are NOTIFYING by then, and each
    // takes the task-by-task path.
    await notes.written();
  }

  /** One task's step, under its correlation id; a failure fails that task alone. */
  private async each(task: Task | undefined, taskId: string, failures: NotifyFailure[], step: () => Promise<void>): Promise<void> {
    try {
      await underTaskId(task, step);
    } catch (err) {
      failures.push({ taskId, reason: (err as Error).message });
    }
  }
}

/**
 * A batch's notification notes, written a group at a time as the sends finish
 * (NOTE_GROUP of them, or NOTE_GROUP_MS after the first of a group), not once
 * after the last send: a batch of 500 takes seconds to send, and a device that
 * opened its session at once had its `notification-delivered` written after
 * its session's own rows (254 of 2,000 tasks in a split rollout, 2.1 s after
 * `notifying` at the median, against 0.14 s one task at a time).
 */
class NoteGroups {
  private waiting: TaskNote[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly writes: Promise<void>[] = [];

  constructor(private readonly write: (notes: TaskNote[]) => Promise<void>) {}

  add(note: TaskNote): void {
    this.waiting.push(note);
    if (this.waiting.length >= NOTE_GROUP) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), NOTE_GROUP_MS);
  }

  /** Writes what waits; resolves once every group is written, rejects if any failed. */
  async written(): Promise<void> {
    this.flush();
    await Promise.all(this.writes);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiting.length === 0) return;
    const group = this.waiting;
    this.waiting = [];
    const write = this.write(group);
    // Awaited by written(); marked handled now, so a failure before then is not an unhandled rejection.
    write.catch(() => undefined);
    this.writes.push(write);
  }
}

/** A task the batch handles in bulk: what notifyTask would queue, move and wake. */
function onCommonPath(f: TaskInContext): boolean {
  const t = f.task;
  return t.status === 'QUEUED' && t.operation.name !== 'BOOTSTRAP' && (!t.jobId || f.jobStatus === undefined || f.jobStatus === 'RUNNING');
}

/**
 * How a task's device is woken. Notified before and still not in a session (past QUEUED): the
 * device may hold another server nonce than ours (see DeviceNotifier.notify), so resync.
 */
export function notifyOptions(task: Task): { uiMode: UiMode; resync: boolean } {
  return { uiMode: task.bOptin ? 'user-interaction' : 'background', resync: task.status !== 'QUEUED' };
}

/** The history row of a notification's outcome. */
export function notificationNote(outcome: NotificationOutcome): TaskChange {
  return outcome.delivered
    ? { event: 'notification-delivered', detail: `${outcome.channel}: ${outcome.detail}` }
    : { event: 'notification-failed', detail: `${outcome.channel}: ${outcome.reason} (after ${outcome.attempts} attempt(s))` };
}

/** Why a task's try failed in a way worth trying again (the error of its notify job). */
export function notificationFailure(task: Task, outcome: NotificationNotDelivered): string {
  return `notification to ${task.deviceId} failed: ${outcome.reason}`;
}

/** Runs `work` over the items, BATCH_LANES at a time; `work` handles its own failures. */
async function inLanes<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(BATCH_LANES, items.length) }, lane));
}
