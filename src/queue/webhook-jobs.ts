/**
 * The webhook delivery queue (BullMQ, queue `webhooks`): one job per
 * delivery, its id the delivery's (adding it again while it is queued adds
 * nothing), retried with exponential backoff up to WEBHOOK_ATTEMPTS. The
 * outcome of every attempt is recorded in the database by the processor, so
 * finished jobs are removed at once.
 *
 * A worker killed mid-POST leaves its job active with a lock that is no
 * longer renewed: once the lock lapses, another worker's stalled-job check
 * puts it back to waiting and it is POSTed again, with the same event id.
 * maxStalledCount is high, so no number of kills fails a delivery for that
 * reason alone.
 */
import { type ConnectionOptions, type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { RetryDelivery } from '../services/webhooks/delivery.js';
import type { DeliveryKey, WebhookDeliveryQueue } from '../services/webhooks/ports.js';
import { bullPrefix } from './redis-keys.js';

export const WEBHOOK_QUEUE = 'webhooks';

export interface WebhookJobOptions {
  /** Tries per delivery, the first included (WEBHOOK_ATTEMPTS). */
  attempts: number;
  /** Backoff before the first retry, doubling after each (WEBHOOK_RETRY_MS). */
  retryMs: number;
}

/** BullMQ custom ids may not contain ':'; webhook and event ids never do (UUIDs, `task-<id>-<seq>`). */
export function deliveryJobId(key: DeliveryKey): string {
  return `whd-${key.webhookId}-${key.eventId}`;
}

export class BullWebhookDeliveries implements WebhookDeliveryQueue {
  readonly queue: Queue<DeliveryKey>;

  constructor(
    connection: ConnectionOptions,
    prefix: string,
    private readonly opts: WebhookJobOptions,
    logger?: Logger,
  ) {
    this.queue = new Queue<DeliveryKey>(WEBHOOK_QUEUE, { connection, prefix: bullPrefix(prefix) });
    this.queue.on('error', (err) => logger?.debug({ err: err.message }, 'webhook queue connection error'));
  }

  async enqueue(keys: readonly DeliveryKey[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      await this.queue.addBulk(
        keys.slice(i, i + 1000).map((k) => ({
          name: 'deliver',
          data: { webhookId: k.webhookId, eventId: k.eventId },
          opts: {
            jobId: deliveryJobId(k),
            attempts: this.opts.attempts,
            backoff: { type: 'exponential', delay: this.opts.retryMs },
            // The database holds the outcome; a kept job would only block the id from being queued again by the sweep.
            removeOnComplete: true,
            removeOnFail: true,
          },
        })),
      );
    }
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

export interface WebhookWorkerOptions {
  concurrency: number;
  /** The longest one POST may take: the job's lock outlives it. */
  timeoutMs: number;
}

export function startWebhookWorker(
  connection: ConnectionOptions,
  prefix: string,
  attempt: (key: DeliveryKey, last: boolean) => Promise<unknown>,
  logger: Logger,
  opts: WebhookWorkerOptions,
): Worker {
  const worker = new Worker<DeliveryKey>(
    WEBHOOK_QUEUE,
    async (job: Job<DeliveryKey>) => {
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      try {
        await attempt({ webhookId: job.data.webhookId, eventId: job.data.eventId }, last);
      } catch (err) {
        // A retryable failure goes back to BullMQ's backoff; anything else (a database error) too,
        // unless it is the last attempt, where the delivery stays PENDING for the sweep.
        if (err instanceof RetryDelivery || !last) throw err;
        throw new UnrecoverableError((err as Error).message);
      }
    },
    {
      connection,
      prefix: bullPrefix(prefix),
      concurrency: opts.concurrency,
      // Renewed every half of it while the POST runs; lapses soon after a killed worker's last renewal.
      lockDuration: opts.timeoutMs + 5_000,
      stalledInterval: 5_000,
      maxStalledCount: 1_000,
    },
  );
  worker.on('failed', (job, err) => {
    if (!(err instanceof RetryDelivery)) logger.warn({ id: job?.id, attempts: job?.attemptsMade, err: err.message }, 'webhook job failed');
  });
  worker.on('error', (err) => logger.error({ err }, 'webhook worker error'));
  return worker;
}
