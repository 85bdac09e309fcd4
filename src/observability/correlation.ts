/**
 * One correlation id per SOAP call, carried to everything the call causes:
 * the call's log lines, its task and job rows, the BullMQ jobs it queues, the
 * DM requests it sends to devices (and the session lines about them), and the
 * Generic Alert that ends its task. Within a process it travels implicitly
 * (AsyncLocalStorage: the logger's mixin adds it to every line written inside
 * the call's async work); between processes and over time it travels with the
 * work itself (a job payload, a queued DM request, a task's or job's row),
 * and whoever picks the work up runs it under that id again.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import crypto from 'node:crypto';

const current = new AsyncLocalStorage<string>();

/** The id of the work running now, if any. */
export function correlationId(): string | undefined {
  return current.getStore();
}

/**
 * Runs `fn` under `id`. Without an id, `fn` runs under none (not under the
 * caller's): work picked up for another task must not borrow this one's id.
 */
export function withCorrelation<T>(id: string | undefined, fn: () => T): T {
  if (id === current.getStore()) return fn();
  return id === undefined ? current.exit(fn) : current.run(id, fn);
}

export function newCorrelationId(): string {
  return crypto.randomUUID();
}

/**
 * A caller's `X-Correlation-Id`, taken only when well formed: 8 to 64
 * characters of letters, digits and `._:-` (a UUID, a ULID, a trace id), so
 * no caller can write arbitrary text, or a huge value, into every log line
 * and row. Anything else is ignored and a new id is made.
 */
const WELL_FORMED = /^[A-Za-z0-9._:-]{8,64}$/;

export function acceptedCorrelationId(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' && WELL_FORMED.test(header) ? header : undefined;
}

/** The field every log line and payload names it by. */
export const CORRELATION_FIELD = 'correlationId';
