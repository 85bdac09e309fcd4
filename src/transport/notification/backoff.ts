/**
 * Exponential backoff with jitter, shared by the HTTP retries and the SMPP
 * reconnect loop. Pure apart from `sleep`.
 */
import { setTimeout as delay } from 'node:timers/promises';

export interface BackoffPolicy {
  /** Delay before the first retry, before jitter. */
  baseDelayMs: number;
  /** No delay exceeds this. */
  maxDelayMs: number;
}

/**
 * Delay before retry number `retry` (1 = the first retry): "equal jitter",
 * half of min(cap, base·2^(retry-1)) fixed plus up to the same again at
 * random. The fixed half keeps a struggling endpoint from being hit again at
 * once; the random half spreads a fleet of senders that failed together.
 */
export function backoffDelay(policy: BackoffPolicy, retry: number, random: () => number = Math.random): number {
  if (!Number.isInteger(retry) || retry < 1) throw new RangeError(`retry must be a positive integer: ${retry}`);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  const half = ceiling / 2;
  return Math.round(half + random() * half);
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return;
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (e) {
    if (!signal?.aborted) throw e;
  }
}
