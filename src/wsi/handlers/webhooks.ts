/** createWebhook, getWebhooks, deleteWebhook (IBulkOperationsManagerServices, admin): messages to the webhook service and back. */
import type { Webhook } from '../../domain/webhooks.js';
import type { WebhookService } from '../../services/webhooks/webhook-service.js';
import { callContext, type OperationHandlers } from './types.js';

interface WebhookXml {
  url: string;
  secret?: string;
  events?: { event?: string[] };
}

/** The secret is write-only: it is never in an answer. */
function webhookXml(w: Webhook): Record<string, unknown> {
  return { webhookId: w.webhookId, url: w.url, events: { event: w.events } };
}

export function webhookHandlers(webhooks: WebhookService): OperationHandlers {
  return {
    createWebhook: async (ctx, a) => {
      const x = a.webhook as WebhookXml;
      return {
        webhookId: await webhooks.create(callContext(ctx), { url: x.url, secret: x.secret ?? '', events: x.events?.event ?? [] }),
      };
    },
    getWebhooks: async () => ({ webhook: (await webhooks.list()).map(webhookXml) }),
    deleteWebhook: async (ctx, a) => {
      await webhooks.delete(callContext(ctx), a.webhookId as string);
      return {};
    },
  };
}
