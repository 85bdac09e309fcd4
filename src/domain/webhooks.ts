/**
 * Webhooks (contract, last section): an admin registers a URL, a secret and
 * the events it wants; every such event is POSTed to it as JSON
 * `{id, type, at, data}`, signed with HMAC-SHA256 under the secret. The
 * event id names the history row the event comes from, so every delivery of
 * one event (retries, a redelivery after a crash) carries the same id.
 */
import { invalidArgument } from './errors.js';

export const WEBHOOK_EVENT_TYPES = ['task.created', 'task.status', 'job.status'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
/** Subscribes to every event type, those added later included. */
export const ALL_EVENTS = '*';

export interface Webhook {
  webhookId: string;
  url: string;
  /** Event types, or ALL_EVENTS. */
  events: string[];
  createdBy: string;
  createdAt: Date;
}

/** What a caller gives to register one; the secret is write-only (never returned). */
export interface WebhookInput {
  url: string;
  secret: string;
  events: string[];
}

export interface WebhookEvent {
  /** Stable: `task-<taskId>-<seq>` or `job-<jobId>-<seq>` (the history row). */
  id: string;
  type: WebhookEventType;
  at: Date;
  data: Record<string, unknown>;
}

export const DELIVERY_STATES = ['PENDING', 'DELIVERED', 'FAILED'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** One event owed to one webhook, and how its delivery went (for the console). */
export interface WebhookDelivery {
  webhookId: string;
  eventId: string;
  type: WebhookEventType;
  /** The exact JSON body POSTed (the same bytes on every attempt). */
  body: string;
  state: DeliveryState;
  /** POSTs made (a worker killed mid-POST may leave one uncounted). */
  attempts: number;
  /** HTTP status of the last answer, when there was one. */
  lastStatus?: number;
  /** Why the last attempt failed (a status, a network error, a refused destination). */
  lastError?: string;
  createdAt: Date;
  updatedAt: Date;
  deliveredAt?: Date;
}

/** Short enough for any HMAC key worth having to fit, long enough to be one. */
export const SECRET_MIN_LENGTH = 16;
export const SECRET_MAX_LENGTH = 256;
export const URL_MAX_LENGTH = 2048;

/** Checks a registration; throws InvalidArgument naming the first wrong field. */
export function validateWebhookInput(input: WebhookInput): WebhookInput {
  const url = input.url?.trim() ?? '';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidArgument('url', 'url is not an absolute URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw invalidArgument('url', 'url must be http or https');
  if (parsed.username || parsed.password) throw invalidArgument('url', 'url must not carry credentials (the signature authenticates)');
  if (url.length > URL_MAX_LENGTH) throw invalidArgument('url', `url may have at most ${URL_MAX_LENGTH} characters`);
  const secret = input.secret ?? '';
  if (secret.length < SECRET_MIN_LENGTH || secret.length > SECRET_MAX_LENGTH) {
    throw invalidArgument('secret', `secret must have ${SECRET_MIN_LENGTH} to ${SECRET_MAX_LENGTH} characters`);
  }
  const events = [...new Set((input.events ?? []).map((e) => e.trim()))];
  if (events.length === 0) throw invalidArgument('events', `events must name at least one of ${[...WEBHOOK_EVENT_TYPES, ALL_EVENTS].join(', ')}`);
  for (const e of events) {
    if (e !== ALL_EVENTS && !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(e)) {
      throw invalidArgument('events', `unknown event "${e}": one of ${[...WEBHOOK_EVENT_TYPES, ALL_EVENTS].join(', ')}`);
    }
  }
  return { url: parsed.toString(), secret, events: events.includes(ALL_EVENTS) ? [ALL_EVENTS] : events };
}

export function wants(webhook: Pick<Webhook, 'events'>, type: WebhookEventType): boolean {
  return webhook.events.includes(ALL_EVENTS) || webhook.events.includes(type);
}

/** The body POSTed for an event: the same bytes for every attempt (it is stored, not rebuilt). */
export function eventBody(e: WebhookEvent): string {
  return JSON.stringify({ id: e.id, type: e.type, at: e.at.toISOString(), data: e.data });
}
