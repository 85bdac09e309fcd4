/**
 * Background work for tasks on BullMQ. One queue, typed payloads per job
 * name, exactly one processor per name, deterministic job ids (BullMQ ignores
 * an add whose id exists, so a retried call or a restart never doubles work).
 */
import { type ConnectionOptions, type Job, Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { TaskJobs } from '../services/broker/ports.js';

export const TASK_QUEUE = 'tasks';

export interface TaskJobPayloads {
  notify: { taskId: string };
  expire: { taskId: string };
  bootstrap: { taskId: string };
}
export type TaskJobName = keyof TaskJobPayloads;
type AnyTaskJob = { [N in TaskJobName]: Job<TaskJobPayloads[N], void, N> }[TaskJobName];

export interface TaskProcessors {
  notify(taskId: string, retry: boolean): Promise<void>;
  expire(taskId: string): Promise<void>;
  bootstrap(taskId: string): Promise<void>;
}

export class BullTaskJobs implements TaskJobs {
  readonly queue: Queue;

  constructor(connection: ConnectionOptions, prefix: string) {
    this.queue = new Queue(TASK_QUEUE, { connection, prefix });
  }

  async notify(taskId: string, attempt: number): Promise<void> {
    await this.queue.add('notify', { taskId } satisfies TaskJobPayloads['notify'], {
      jobId: `notify-${taskId}-${attempt}`,
      attempts: 6,
      backoff: { type: 'exponential', delay: 15_000 },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 24 * 3600 },
    });
  }

  async expire(taskId: string, at: Date): Promise<void> {
    const id = `expire-${taskId}-${at.getTime()}`;
    await this.queue.add('expire', { taskId } satisfies TaskJobPayloads['expire'], {
      jobId: id,
      delay: Math.max(0, at.getTime() - Date.now()),
      attempts: 5,
      backoff: { type: 'exponential', delay: 5000 },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 24 * 3600 },
    });
  }

  async bootstrap(taskId: string): Promise<void> {
    await this.queue.add('bootstrap', { taskId } satisfies TaskJobPayloads['bootstrap'], {
      jobId: `bootstrap-${taskId}`,
      attempts: 5,
      backoff: { type: 'exponential', delay: 15_000 },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 24 * 3600 },
    });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

export function startTaskWorker(
  connection: ConnectionOptions,
  prefix: string,
  processors: TaskProcessors,
  logger: Logger,
  concurrency = 32,
): Worker {
  const worker: Worker = new Worker(
    TASK_QUEUE,
    async (raw: Job) => {
      const job = raw as AnyTaskJob;
      switch (job.name) {
        case 'notify':
          return processors.notify(job.data.taskId, job.attemptsMade > 0);
        case 'expire':
          return processors.expire(job.data.taskId);
        case 'bootstrap':
          return processors.bootstrap(job.data.taskId);
      }
    },
    { connection, prefix, concurrency },
  );
  worker.on('failed', (job, err) => {
    logger.warn({ job: job?.name, id: job?.id, attempts: job?.attemptsMade, err: err.message }, 'task job failed');
  });
  worker.on('error', (err) => logger.error({ err }, 'task worker error'));
  return worker;
}
