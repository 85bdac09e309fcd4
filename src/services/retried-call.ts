/**
 * Retried calls, as the contract defines them: a call is a retry only when it
 * carries the WS-Addressing MessageID of an earlier call by the same caller
 * (to the same operation) within 10 minutes, and then gets that call's
 * answer. Without a MessageID every call is new work, however much it looks
 * like an earlier one: a care agent asking a device twice wants two answers.
 */
import crypto from 'node:crypto';
import type { CallContext } from './ports.js';

export const RETRY_WINDOW_SECONDS = 600;

/** Shared first-writer-wins memory (Redis): every process sees the first call's id. */
export interface FirstIds {
  rememberFirst(key: string, value: string, ttlSeconds: number): Promise<string>;
}

/**
 * The id the call's work gets: `proposed` for new work, or the id the first
 * call with this caller, operation and MessageID got. (That first call may
 * have failed before creating anything: callers check whether the id exists.)
 */
export async function idForCall(ids: FirstIds, ctx: CallContext, proposed: string): Promise<string> {
  if (!ctx.messageId) return proposed;
  // Hashed: the key stays short and free of whatever characters the id holds.
  const key = crypto.createHash('sha256').update(`${ctx.caller}\0${ctx.operation}\0${ctx.messageId}`).digest('base64url');
  return ids.rememberFirst(`retry:${key}`, proposed, RETRY_WINDOW_SECONDS);
}

/**
 * Writes a call's new work under its id; false when a simultaneous copy of
 * the same retried call (an OSS retrying while the first is still running)
 * wrote it first, which makes the write fail on the id: that copy's work is
 * then this call's answer too.
 */
export async function writeFirst(ctx: CallContext, write: () => Promise<unknown>, written: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (err) {
    if (ctx.messageId && (await written())) return false;
    throw err;
  }
}
