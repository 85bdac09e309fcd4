/**
 * Turns history rows into deliveries. Task and job history rows are written
 * in the transaction of the change they record (the stores' rule), so they
 * are the events' outbox already: this reads them by cursor, in commit
 * order, and writes one PENDING delivery per (webhook that wants it, event)
 * together with the moved cursor, in one transaction. Only then are the
 * deliveries queued; a crash in between leaves PENDING rows that `sweep`
 * queues again. Nothing is added to the hot path of a task's move.
 *
 * Runs in worker processes, one at a time (a lock in Redis); two at once
 * would still be safe (the cursor moves only from where a reader found it,
 * and a delivery is written once).
 */
import type { Logger } from 'pino';
import { eventBody, wants } from '../../domain/webhooks.js';
import type { Clock, Transactor } from '../ports.js';
import { EVENT_STREAMS, type EventStream, type NewDelivery, type WebhookDeliveryQueue } from './ports.js';

export interface PumpLock {
  lock(key: string, ms: number): Promise<boolean>;
  unlock(key: string): Promise<void>;
}

export interface WebhookPumpDeps {
  tx: Transactor;
  queue: WebhookDeliveryQueue;
  lock: PumpLock;
  clock: Clock;
  logger: Logger;
  /** Events read per query. */
  batch?: number;
}

/** A PENDING delivery untouched this long is queued again (its queue job may be lost). */
export const PENDING_REQUEUE_MS = 60_000;
/** Finished deliveries are kept this long for the console, then removed. */
export const DELIVERY_RETENTION_MS = 7 * 24 * 3600_000;
const LOCK_KEY = 'webhook-pump';
/** How long one pass may hold the pump; a process killed mid-pass frees it after this. */
const LOCK_MS = 15_000;
/** A pass stops reading after this long and leaves the rest to the next one. */
const PASS_MS = 5_000;

class CursorMoved extends Error {}

export class WebhookPump {
  private readonly batch: number;

  constructor(private readonly d: WebhookPumpDeps) {
    this.batch = d.batch ?? 500;
  }

  /** One pass over both streams, if no other process is running one; the deliveries it created. */
  async pass(): Promise<number> {
    if (!(await this.d.lock.lock(LOCK_KEY, LOCK_MS))) return 0;
    try {
      const until = this.d.clock.now() + PASS_MS;
      let created = 0;
      for (const stream of EVENT_STREAMS) {
        while (this.d.clock.now() < until) {
          const step = await this.step(stream);
          created += step.created;
          if (!step.more) break;
        }
      }
      return created;
    } finally {
      await this.d.lock.unlock(LOCK_KEY);
    }
  }

  /** One batch of one stream. */
  async step(stream: EventStream): Promise<{ created: number; more: boolean }> {
    const stores = this.d.tx.stores;
    const cursor = await stores.webhooks.cursor(stream);
    const read = await stores.webhooks.events(stream, cursor, this.batch);
    if (read.kind === 'idle') {
      if (read.end !== cursor) await stores.webhooks.moveCursor(stream, cursor, read.end);
      return { created: 0, more: false };
    }
    if (read.events.length === 0) return { created: 0, more: false };
    // Read after the events: a webhook committed before any of them is in this list.
    const webhooks = await stores.webhooks.list();
    const deliveries: NewDelivery[] = [];
    for (const e of read.events) {
      const body = eventBody(e);
      for (const w of webhooks) {
        if (wants(w, e.type)) deliveries.push({ webhookId: w.webhookId, eventId: e.id, type: e.type, body, at: e.at.getTime() });
      }
    }
    try {
      await this.d.tx.run(async (s) => {
        await s.webhooks.addDeliveries(deliveries);
        if (!(await s.webhooks.moveCursor(stream, cursor, read.next))) throw new CursorMoved();
      });
    } catch (err) {
      if (err instanceof CursorMoved) return { created: 0, more: false };
      throw err;
    }
    await this.d.queue.enqueue(deliveries);
    return { created: deliveries.length, more: read.events.length === this.batch };
  }

  /**
   * Queues again PENDING deliveries untouched for a while (their queue job
   * lost between the commit and the add, or to a Redis without its data), and
   * removes finished ones past retention. Adding a delivery whose job is
   * still queued adds nothing.
   */
  async sweep(): Promise<{ requeued: number; pruned: number }> {
    const now = this.d.clock.now();
    const stores = this.d.tx.stores;
    const stale = await stores.webhooks.pendingSince(now - PENDING_REQUEUE_MS, 1000);
    if (stale.length > 0) await this.d.queue.enqueue(stale);
    const pruned = await stores.webhooks.prune(now - DELIVERY_RETENTION_MS, 10_000);
    return { requeued: stale.length, pruned };
  }
}

/** Runs passes every `everyMs` and a sweep every minute; the returned function stops both (waiting for one in progress). */
export function startWebhookPump(pump: WebhookPump, everyMs: number, logger: Logger): () => Promise<void> {
  let running: Promise<void> | undefined;
  let lastSweep = 0;
  const tick = async () => {
    await pump.pass();
    if (Date.now() - lastSweep >= 60_000) {
      lastSweep = Date.now();
      const { requeued, pruned } = await pump.sweep();
      if (requeued > 0 || pruned > 0) logger.info({ requeued, pruned }, 'webhook deliveries swept');
    }
  };
  const timer = setInterval(() => {
    if (running) return;
    running = tick()
      .catch((err: unknown) => logger.warn({ err }, 'webhook event pass failed; trying again at the next one'))
      .finally(() => {
        running = undefined;
      });
  }, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
