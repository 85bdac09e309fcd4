/**
 * One attempt at one delivery: POST the stored body, signed under the
 * webhook's secret, and record the outcome. A failure worth retrying (5xx,
 * 408, 429, a network error, a timeout) throws RetryDelivery so the queue
 * tries again later (exponential backoff) until its last attempt, which
 * records FAILED; one that will not change (another 4xx, a redirect, a
 * destination outside NOTIFICATION_ALLOWED_NETWORKS) records FAILED at once.
 * A delivery already DELIVERED or FAILED, or gone with its webhook, is
 * skipped: a redelivered queue job never POSTs a finished one again.
 */
import type { Logger } from 'pino';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signBody } from '../../security/webhook-signature.js';
import type { Clock, Sealer, Transactor } from '../ports.js';
import type { DeliveryKey, WebhookPoster } from './ports.js';

/** Thrown for a failed attempt that the queue should retry. */
export class RetryDelivery extends Error {
  constructor(reason: string) {
    super(`webhook delivery failed, retrying: ${reason}`);
    this.name = 'RetryDelivery';
  }
}

export type AttemptOutcome = 'delivered' | 'failed' | 'retry' | 'skipped';

export interface WebhookDelivererDeps {
  tx: Transactor;
  sealer: Sealer;
  poster: WebhookPoster;
  clock: Clock;
  logger: Logger;
}

/**
 * How long a webhook read is reused: a webhook never changes (only deletion,
 * which removes its deliveries, so a delivery of a deleted one is skipped
 * before its webhook is looked at), and every attempt would read it again.
 */
const WEBHOOK_KEPT_MS = 5_000;

export class WebhookDeliverer {
  private readonly hooks = new Map<string, { until: number; hook: { webhook: { url: string }; sealedSecret: string } | undefined }>();

  constructor(private readonly d: WebhookDelivererDeps) {}

  private async hook(webhookId: string, now: number) {
    const kept = this.hooks.get(webhookId);
    if (kept && kept.until > now) return kept.hook;
    const hook = await this.d.tx.stores.webhooks.getSealed(webhookId);
    if (this.hooks.size > 1000) this.hooks.clear();
    this.hooks.set(webhookId, { until: now + WEBHOOK_KEPT_MS, hook });
    return hook;
  }

  /** `last`: the queue will not try again after this attempt. Throws RetryDelivery to be tried again. */
  async attempt(key: DeliveryKey, last: boolean): Promise<AttemptOutcome> {
    const stores = this.d.tx.stores;
    const delivery = await stores.webhooks.getDelivery(key);
    if (delivery?.state !== 'PENDING') return 'skipped';
    const hook = await this.hook(key.webhookId, this.d.clock.now());
    if (!hook) return 'skipped';
    const secret = this.d.sealer.open(hook.sealedSecret);
    const result = await this.d.poster.post(hook.webhook.url, delivery.body, {
      [SIGNATURE_HEADER]: signBody(secret, delivery.body),
      [EVENT_ID_HEADER]: delivery.eventId,
      'X-Dmwsi-Event-Type': delivery.type,
    });
    const attempts = delivery.attempts + 1;
    const now = this.d.clock.now();
    const log = { webhookId: key.webhookId, eventId: key.eventId, attempts };
    if (result.kind === 'delivered') {
      await stores.webhooks.recordAttempt(key, { state: 'DELIVERED', attempts, lastStatus: result.status }, now);
      return 'delivered';
    }
    const status = result.kind === 'failed' ? result.status : undefined;
    const detail = { attempts, ...(status !== undefined ? { lastStatus: status } : {}), lastError: result.reason.slice(0, 256) };
    if (result.kind === 'failed' && result.retryable && !last) {
      await stores.webhooks.recordAttempt(key, { state: 'PENDING', ...detail }, now);
      this.d.logger.info({ ...log, reason: result.reason }, 'webhook delivery failed; will retry');
      throw new RetryDelivery(result.reason);
    }
    await stores.webhooks.recordAttempt(key, { state: 'FAILED', ...detail }, now);
    this.d.logger.warn({ ...log, reason: result.reason }, 'webhook delivery failed for good');
    return 'failed';
  }
}
