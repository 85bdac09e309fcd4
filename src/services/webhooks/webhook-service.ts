/**
 * Webhook registrations (admin): create, list, delete; and the deliveries
 * with their state, for the console. The secret is sealed at rest and never
 * returned; a URL whose destination NOTIFICATION_ALLOWED_NETWORKS refuses is
 * refused here already (and checked again on every connection).
 */
import crypto from 'node:crypto';
import { DmwsiError, invalidArgument, notFound } from '../../domain/errors.js';
import type { Page } from '../../domain/registry.js';
import { validatePage } from '../../domain/registry-validation.js';
import { DELIVERY_STATES, type DeliveryState, type Webhook, type WebhookDelivery, type WebhookInput, validateWebhookInput } from '../../domain/webhooks.js';
import type { CallContext, Clock, Sealer, Transactor } from '../ports.js';
import { type FirstIds, idForCall, writeFirst } from '../retried-call.js';
import { type DeliveryCount, type DestinationPolicy, EVENT_STREAMS } from './ports.js';

export interface WebhookServiceDeps {
  tx: Transactor;
  sealer: Sealer;
  destinations: DestinationPolicy;
  /** Where a retried createWebhook (same caller and MessageID) finds the first call's id. */
  firstIds: FirstIds;
  clock: Clock;
}

export class WebhookService {
  constructor(private readonly d: WebhookServiceDeps) {}

  async create(ctx: CallContext, input: WebhookInput): Promise<string> {
    const fields = validateWebhookInput(input);
    const refusal = await this.d.destinations.refusal(fields.url);
    if (refusal) throw invalidArgument('url', refusal);
    const proposed = crypto.randomUUID();
    const webhookId = await idForCall(this.d.firstIds, ctx, proposed);
    const stores = this.d.tx.stores;
    if (webhookId !== proposed && (await stores.webhooks.getSealed(webhookId))) return webhookId;
    const now = this.d.clock.now();
    const webhook: Webhook = { webhookId, url: fields.url, events: fields.events, createdBy: ctx.caller, createdAt: new Date(now) };
    const sealed = this.d.sealer.seal(fields.secret);
    await writeFirst(
      ctx,
      () =>
        this.d.tx.run(async (s) => {
          // Events are owed from the first webhook's creation on: streams start here, not at the beginning of history.
          for (const stream of EVENT_STREAMS) await s.webhooks.startCursor(stream);
          await s.webhooks.insert(webhook, sealed);
          await s.audit.record({ ...ctx, target: `webhook ${webhookId}`, outcome: 'ok', detail: fields.events.join(',') }, now);
        }),
      () => stores.webhooks.getSealed(webhookId),
    );
    return webhookId;
  }

  list(): Promise<Webhook[]> {
    return this.d.tx.stores.webhooks.list();
  }

  async delete(ctx: CallContext, webhookId: string): Promise<void> {
    const now = this.d.clock.now();
    await this.d.tx.run(async (s) => {
      if (!(await s.webhooks.delete(webhookId))) throw notFound('webhook', webhookId);
      await s.audit.record({ ...ctx, target: `webhook ${webhookId}`, outcome: 'ok' }, now);
    });
  }

  /** Deliveries newest first, with their state (PENDING, DELIVERED, FAILED), attempts and last HTTP status. */
  async deliveries(filter: { webhookId?: string; state?: string }, page: Page): Promise<WebhookDelivery[]> {
    validatePage(page);
    if (filter.state !== undefined && !(DELIVERY_STATES as readonly string[]).includes(filter.state)) {
      throw new DmwsiError('InvalidArgument', `state must be one of ${DELIVERY_STATES.join(', ')}`, 'state');
    }
    return this.d.tx.stores.webhooks.deliveries(
      { ...(filter.webhookId ? { webhookId: filter.webhookId } : {}), ...(filter.state ? { state: filter.state as DeliveryState } : {}) },
      page,
    );
  }

  /** Deliveries per webhook and state (for the console's webhook page). */
  deliveryCounts(): Promise<DeliveryCount[]> {
    return this.d.tx.stores.webhooks.deliveryCounts();
  }
}
