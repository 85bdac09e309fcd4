/**
 * `GET /webhooks/deliveries` (JSON, for the console): the webhook deliveries
 * newest first with their state, attempts and last HTTP status.
 * `Authorization: Bearer <userSession>` (from `login`), role admin (as the
 * webhook operations). Query: `webhookId`, `state` (PENDING, DELIVERED,
 * FAILED), `offset` (default 0), `limit` (default 100). The contract names
 * no SOAP operation for this, so it is plain HTTP beside the SOAP surface.
 */
import express, { type Router } from 'express';
import type { Logger } from 'pino';
import { DmwsiError } from '../domain/errors.js';
import { roleAllows } from '../domain/roles.js';
import type { WebhookDelivery } from '../domain/webhooks.js';
import type { CallerAuthService } from '../services/caller-auth.js';
import type { WebhookService } from '../services/webhooks/webhook-service.js';

export interface WebhookRoutesDeps {
  webhooks: Pick<WebhookService, 'deliveries'>;
  auth: Pick<CallerAuthService, 'resolveSession'>;
  logger: Logger;
}

const STATUS_OF: Partial<Record<string, number>> = { AuthenticationFailed: 401, NotAuthorized: 403, InvalidArgument: 400 };

function deliveryJson(d: WebhookDelivery): Record<string, unknown> {
  return {
    webhookId: d.webhookId,
    eventId: d.eventId,
    type: d.type,
    state: d.state,
    attempts: d.attempts,
    ...(d.lastStatus !== undefined ? { lastStatus: d.lastStatus } : {}),
    ...(d.lastError !== undefined ? { lastError: d.lastError } : {}),
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
    ...(d.deliveredAt ? { deliveredAt: d.deliveredAt.toISOString() } : {}),
    event: JSON.parse(d.body) as unknown,
  };
}

/** A whole number from a query parameter, or the fallback when absent; NaN when not a whole number. */
function wholeNumber(v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  return typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : Number.NaN;
}

export function webhookRoutes(deps: WebhookRoutesDeps): Router {
  const router = express.Router();
  router.get('/webhooks/deliveries', async (req, res) => {
    const reply = (status: number, body: Record<string, unknown>) => {
      res.status(status).type('application/json');
      if (status === 401) res.set('www-authenticate', 'Bearer');
      res.send(JSON.stringify(body));
    };
    try {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!bearer) return reply(401, { error: 'Authorization: Bearer <userSession> required' });
      const caller = await deps.auth.resolveSession(bearer);
      if (!roleAllows(caller.role, 'webhooks')) return reply(403, { error: 'role may not read webhook deliveries' });
      const q = req.query;
      const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
      const webhookId = text(q.webhookId);
      const state = text(q.state);
      const deliveries = await deps.webhooks.deliveries(
        { ...(webhookId ? { webhookId } : {}), ...(state ? { state } : {}) },
        { offset: wholeNumber(q.offset, 0), limit: wholeNumber(q.limit, 100) },
      );
      reply(200, { deliveries: deliveries.map(deliveryJson) });
    } catch (err) {
      if (err instanceof DmwsiError && STATUS_OF[err.code]) return reply(STATUS_OF[err.code]!, { error: err.message });
      deps.logger.error({ err }, 'listing webhook deliveries failed');
      reply(500, { error: 'internal error' });
    }
  });
  return router;
}
