/**
 * Background work for tasks on BullMQ. One queue, typed payloads per job
 * name, exactly one processor per name, deterministic job ids (BullMQ ignores
 * an add whose id exists, so a retried call or a restart never doubles work).
 */
import { type ConnectionOptions, type Job, Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { correlationId, withCorrelation } from '../observability/correlation.js';
import type { NotifyFailure, TaskJobs } from '../services/broker/ports.js';
import { bullPrefix } from './redis-keys.js';

export const TASK_QUEUE = 'tasks';

export interface TaskJobPayloads {
  /** `retry`: a later try of a notification made before (its first try was in a 'notify-batch' job). */
  notify: { taskId: string; retry?: boolean };
  'notify-batch': { taskIds: string[]; releasedAt: number };
  expire: { taskId: string };
  bootstrap: { taskId: string };
  wake: { taskId: string; why: string; round: number };
  dispatch: { jobId: string };
  'cancel-job': { jobId: string };
  'job-deadline': { jobId: string };
}
export type TaskJobName = keyof TaskJobPayloads;
/** Every payload may carry the correlation id of the work that queued it: the worker runs the job under it. */
interface Correlated {
  cid?: string;
}
type AnyTaskJob = { [N in TaskJobName]: Job<TaskJobPayloads[N] & Correlated, void, N> }[TaskJobName];

/** The payload, with the correlation id of the work queuing it (if any). */
function correlated<T extends object>(data: T): T & Correlated {
  const cid = correlationId();
  return cid === undefined ? data : { ...data, cid };
}

export interface TaskProcessors {
  notify(taskId: string, retry: boolean): Promise<void>;
  /** The first notification of a release's tasks; returns those whose try failed, to be tried again on their own. */
  notifyBatch(taskIds: string[]): Promise<NotifyFailure[]>;
  expire(taskId: string): Promise<void>;
  bootstrap(taskId: string): Promise<void>;
  wake(taskId: string, why: string, round: number): Promise<void>;
  dispatch(jobId: string): Promise<void>;
  cancelJob(jobId: string): Promise<void>;
  jobDeadline(jobId: string): Promise<void>;
}

export class BullTaskJobs implements TaskJobs {
  readonly queue: Queue;

  /** `queuePrefix`: QUEUE_PREFIX; the queue's keys are `{queuePrefix}:tasks:*` (one cluster slot). */
  constructor(connection: ConnectionOptions, queuePrefix: string, logger?: Logger) {
    this.queue = new Queue(TASK_QUEUE, { connection, prefix: bullPrefix(queuePrefix) });
    // The queue re-emits its connection's errors; without a listener BullMQ prints each one.
    // The connection itself reports an outage (connectRedis), so these are only worth debug.
    this.queue.on('error', (err) => logger?.debug({ err: err.message }, 'task queue connection error'));
  }

  async notify(taskId: string, attempt: number, delayMs = 0): Promise<void> {
    await this.queue.add('notify', correlated({ taskId } satisfies TaskJobPayloads['notify']), {
      jobId: `notify-${taskId}-${attempt}`,
      delay: delayMs,
      attempts: 6,
      backoff: { type: 'exponential', delay: 15_000 },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 24 * 3600 },
    });
  }

  async expire(taskId: string, at: Date): Promise<void> {
    const id = `expire-${taskId}-${at.getTime()}`;
    await this.queue.add('expire', correlated({ taskId } satisfies TaskJobPayloads['expire']), {
      jobId: id,
      delay: Math.max(0, at.getTime() - Date.now()),
      attempts: 5,
      backoff: { type: 'exponential', delay: 5000 },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 24 * 3600 },
    });
  }

  async bootstrap(taskId: string): Promise<void> {
    await this.queue.add('bootstrap', correlated({ taskId } satisfies TaskJobPayloads['bootstrap']), {
      jobId: `bootstrap-${taskId}`,
      attempts: 5,
      backoff: { type: 'exponential', delay: 15_000 },
      removeOnComplete: { age: 3600, count: 10_000 },
      // Queued again by the stalled-task sweep (a notify job): a failed one kept would swallow that.
      removeOnFail: true,
    });
  }

  async wake(taskId: string, why: string, round: number, delayMs = 0): Promise<void> {
    await this.queue.add('wake', correlated({ taskId, why, round } satisfies TaskJobPayloads['wake']), {
      jobId: `wake-${taskId}-${why}-${round}`,
      delay: delayMs,
      attempts: 6,
      backoff: { type: 'exponential', delay: 15_000 },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 24 * 3600 },
    });
  }

  /** One tick per job and time slot: ids repeat within a slot, so ticks never pile up. */
  async dispatch(jobId: string, delayMs: number): Promise<void> {
    const slot = Math.floor((Date.now() + delayMs) / 100);
    await this.queue.add('dispatch', correlated({ jobId } satisfies TaskJobPayloads['dispatch']), {
      jobId: `dispatch-${jobId}-${slot}`,
      delay: delayMs,
      attempts: 5,
      backoff: { type: 'fixed', delay: 1000 },
      removeOnComplete: true,
      removeOnFail: { age: 3600 },
    });
  }

  /**
   * The first notification of the tasks the dispatcher released at
   * `releasedAt`: one job for the whole release, whose processor notifies
   * each task and gives a task whose try failed a notify job of its own
   * (`notifyRetryOf`), with the backoff and the attempts left that a notify
   * job per task would have had. A job per task cost Redis ~35 commands a
   * task (its add, its move to active and to completed, their events and
   * the trimming of the completed set: half of a cold arming session's
   * Redis commands); a release of n tasks now costs that once. Crash safety
   * is BullMQ's as before: a batch whose worker dies stalls and runs again,
   * and every task's notify is safe to run again (the processor decides by
   * the task's state). The release time and the first task are in the id:
   * adding the same release again adds nothing, while a task released again
   * (its job was paused after its first release, which handed it back) is
   * in a batch of another id.
   */
  async notifyMany(taskIds: string[], releasedAt: number): Promise<void> {
    if (taskIds.length === 0) return;
    await this.queue.add('notify-batch', correlated({ taskIds, releasedAt } satisfies TaskJobPayloads['notify-batch']), {
      jobId: `notify-batch-${taskIds[0]}-r${releasedAt}`,
      attempts: 6,
      backoff: { type: 'exponential', delay: 15_000 },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 24 * 3600 },
    });
  }

  /**
   * The id is the job's, so a cancel queued again while one waits adds
   * nothing. Removed when done, failed included: a failed one left in the
   * queue would keep the id, and the cancel could never be queued again
   * (BulkOperations.resumeCancels).
   */
  async cancelJob(jobId: string): Promise<void> {
    await this.queue.add('cancel-job', correlated({ jobId } satisfies TaskJobPayloads['cancel-job']), {
      jobId: `cancel-job-${jobId}`,
      attempts: 10,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: true,
      removeOnFail: true,
    });
  }

  /** Removed when done or failed, as cancelJob: the same deadline can then be queued again. */
  async jobDeadline(jobId: string, at: Date): Promise<void> {
    await this.queue.add('job-deadline', correlated({ jobId } satisfies TaskJobPayloads['job-deadline']), {
      jobId: `job-deadline-${jobId}-${at.getTime()}`,
      delay: Math.max(0, at.getTime() - Date.now()),
      attempts: 10,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: true,
      removeOnFail: true,
    });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/**
 * A released task's notify job after its try in a 'notify-batch' failed: as
 * the batch's notify job per task had it (6 attempts, exponential backoff
 * from 15 s), the batch's try counting as the first. Its id is the one the
 * job per task had, so the same release never gets two.
 */
function notifyRetryOf(taskId: string, releasedAt: number) {
  return {
    name: 'notify' as const,
    data: correlated({ taskId, retry: true } satisfies TaskJobPayloads['notify']),
    opts: {
      jobId: `notify-${taskId}-r${releasedAt}`,
      delay: 15_000,
      attempts: 5,
      backoff: { type: 'exponential', delay: 30_000 },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 24 * 3600 },
    },
  };
}

/**
 * Notifies every task of a release (the processor does it in bulk); those
 * whose try failed get a notify job of their own, queued before the batch
 * completes (if that fails, the batch fails and is tried again whole).
 */
async function notifyBatch(
  batch: TaskJobPayloads['notify-batch'],
  notify: TaskProcessors['notifyBatch'],
  retries: Queue,
  logger: Logger,
): Promise<void> {
  const failed = await notify(batch.taskIds);
  for (const f of failed) logger.warn({ taskId: f.taskId, err: f.reason }, 'notification failed; retried by a notify job of its own');
  if (failed.length > 0) await retries.addBulk(failed.map((f) => notifyRetryOf(f.taskId, batch.releasedAt)));
}

export function startTaskWorker(
  connection: ConnectionOptions,
  queuePrefix: string,
  processors: TaskProcessors,
  logger: Logger,
  concurrency = 32,
): Worker {
  // Where the failed tasks of a notify batch get their own notify jobs.
  const retries = new Queue(TASK_QUEUE, { connection, prefix: bullPrefix(queuePrefix) });
  retries.on('error', (err) => logger.debug({ err: err.message }, 'task queue connection error'));
  const worker: Worker = new Worker(
    TASK_QUEUE,
    // Under the correlation id of the work that queued it (if any): its log lines and the work it queues carry it.
    (raw: Job) => withCorrelation((raw.data as Correlated).cid, async () => {
      const job = raw as AnyTaskJob;
      logger.debug({ job: job.name, id: job.id, attempt: job.attemptsMade }, 'task job');
      switch (job.name) {
        case 'notify':
          return processors.notify(job.data.taskId, job.attemptsMade > 0 || job.data.retry === true);
        case 'notify-batch':
          return notifyBatch(job.data, processors.notifyBatch, retries, logger);
        case 'expire':
          return processors.expire(job.data.taskId);
        case 'bootstrap':
          return processors.bootstrap(job.data.taskId);
        case 'wake':
          return processors.wake(job.data.taskId, job.data.why, job.data.round);
        case 'dispatch':
          return processors.dispatch(job.data.jobId);
        case 'cancel-job':
          return processors.cancelJob(job.data.jobId);
        case 'job-deadline':
          return processors.jobDeadline(job.data.jobId);
      }
    }),
    { connection, prefix: bullPrefix(queuePrefix), concurrency },
  );
  worker.on('failed', (job, err) => {
    const cid = (job?.data as Correlated | undefined)?.cid;
    logger.warn({ job: job?.name, id: job?.id, attempts: job?.attemptsMade, err: err.message, ...(cid ? { correlationId: cid } : {}) }, 'task job failed');
  });
  worker.on('error', (err) => logger.error({ err }, 'task worker error'));
  worker.on('closed', () => void retries.close().catch(() => undefined));
  return worker;
}
