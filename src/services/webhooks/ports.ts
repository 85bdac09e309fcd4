/** What the webhook use cases need from persistence, the queue and HTTP. */
import type { Page } from '../../domain/registry.js';
import type { DeliveryState, Webhook, WebhookDelivery, WebhookEvent, WebhookEventType } from '../../domain/webhooks.js';

/** The two histories events come from: task_history and job_history rows. */
export type EventStream = 'task' | 'job';
export const EVENT_STREAMS: readonly EventStream[] = ['task', 'job'];

/** Which delivery: one event owed to one webhook. */
export interface DeliveryKey {
  webhookId: string;
  eventId: string;
}

export interface NewDelivery extends DeliveryKey {
  type: WebhookEventType;
  body: string;
  at: number;
}

export type EventRead =
  /** No webhook exists: nothing to read; `end` is where the stream ends now. */
  | { kind: 'idle'; end: string }
  /** Events committed after the cursor, in commit order; `next` is the cursor after them. */
  | { kind: 'events'; events: WebhookEvent[]; next: string };

/**
 * Webhooks, their deliveries, and the event streams read by cursor. A cursor
 * is an opaque position in commit order (SQLite: the row's rowid, since one
 * writer at a time commits; PostgreSQL: the writing transaction's id, read
 * only below the oldest transaction of the database still running, so no later commit can
 * land behind it).
 */
export interface WebhookStore {
  insert(webhook: Webhook, sealedSecret: string): Promise<void>;
  /** Oldest first. */
  list(): Promise<Webhook[]>;
  /** The webhook with its sealed secret (for signing a delivery). */
  getSealed(webhookId: string): Promise<{ webhook: Webhook; sealedSecret: string } | undefined>;
  /** Removes the webhook and its deliveries; false when no such webhook. */
  delete(webhookId: string): Promise<boolean>;

  /** The cursor of a stream; undefined before the first webhook. */
  cursor(stream: EventStream): Promise<string | undefined>;
  /** Sets a cursor that is not set yet to the stream's end (events from now on). */
  startCursor(stream: EventStream): Promise<void>;
  /** Moves the cursor from `from` to `to`; false when another reader moved it first. */
  moveCursor(stream: EventStream, from: string | undefined, to: string): Promise<boolean>;
  /** Events after the cursor (an unset cursor reads as the stream's end). */
  events(stream: EventStream, cursor: string | undefined, limit: number): Promise<EventRead>;

  /** Adds deliveries (PENDING); one already there is left as it is. */
  addDeliveries(deliveries: readonly NewDelivery[]): Promise<void>;
  getDelivery(key: DeliveryKey): Promise<WebhookDelivery | undefined>;
  /** Records an attempt's outcome. */
  recordAttempt(
    key: DeliveryKey,
    outcome: { state: DeliveryState; attempts: number; lastStatus?: number; lastError?: string },
    at: number,
  ): Promise<void>;
  /** Newest first; of one webhook and/or in one state when given. */
  deliveries(filter: { webhookId?: string; state?: DeliveryState }, page: Page): Promise<WebhookDelivery[]>;
  /** How many deliveries each webhook has in each state (states with none are left out). */
  deliveryCounts(): Promise<DeliveryCount[]>;
  /** PENDING deliveries untouched since `before`, oldest first. */
  pendingSince(before: number, limit: number): Promise<DeliveryKey[]>;
  /** Removes DELIVERED and FAILED deliveries last changed before `before`; how many. */
  prune(before: number, limit: number): Promise<number>;
}

export interface DeliveryCount {
  webhookId: string;
  state: DeliveryState;
  count: number;
}

/** The delivery queue (BullMQ): a job per delivery, its id the delivery's, so adding one twice adds it once. */
export interface WebhookDeliveryQueue {
  enqueue(keys: readonly DeliveryKey[]): Promise<void>;
}

export type WebhookPostResult =
  | { kind: 'delivered'; status: number }
  /** The destination address is outside NOTIFICATION_ALLOWED_NETWORKS: nothing was sent. */
  | { kind: 'refused'; reason: string }
  | { kind: 'failed'; retryable: boolean; status?: number; reason: string };

/** One POST of a delivery (no retries: the queue retries). */
export interface WebhookPoster {
  post(url: string, body: string, headers: Record<string, string>): Promise<WebhookPostResult>;
}

/** Whether a URL's destination is allowed (NOTIFICATION_ALLOWED_NETWORKS): the reason when it is not. */
export interface DestinationPolicy {
  refusal(url: string): Promise<string | undefined>;
}
