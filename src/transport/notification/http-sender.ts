/**
 * Notification over HTTP (contract, "Device notification over HTTP"): POST
 * the raw Package#0 to the device's notificationUrl; 2xx means delivered.
 * The gateway's one HTTP client for pushes: bootstraps go out through `post`
 * too, so NOTIFICATION_ALLOWED_NETWORKS is checked in one place.
 * Transient failures (5xx, 408, 429, network errors, timeouts) are retried
 * here with exponential backoff and jitter; the outcome says how many
 * attempts were made and why the last one failed.
 *
 * The client is undici's Agent (http-attempt.ts, PushAgent), not node:http:
 * a rollout sends one of these per device, and undici's client measured
 * about half node:http's CPU per request. Not fetch: the sender owns its
 * keep-alive connections (closed with it, so nothing outlives a test or a
 * shutdown), checks the address it connects to in the connection's own DNS
 * lookup, and never follows redirects.
 */
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { CONTENT_TYPE_DM_NOTIFICATION } from '../../dm/notification/wap-push.js';
import type { AllowedNetworks } from '../../security/allowed-networks.js';
import { type BackoffPolicy, backoffDelay, sleep } from './backoff.js';
import { type HttpAttemptResult, PushAgent, postOnce } from './http-attempt.js';
import {
  type ClosableNotificationSender,
  type NotificationOutcome,
  type NotificationTarget,
  notDelivered,
} from './sender.js';

export interface HttpSenderOptions {
  /** Per attempt, connect to drained body. Default 5000. */
  timeoutMs?: number;
  /** Attempts per send, the first included. Default 3. */
  attempts?: number;
  /** Backoff before the first retry (before jitter). Default 200. */
  baseDelayMs?: number;
  /** Cap on any backoff, also on a server's Retry-After. Default 5000. */
  maxDelayMs?: number;
  /** Response body bytes read before giving up the connection. Default 64 KiB. */
  maxDrainBytes?: number;
  /** Connections per origin. Default 64. */
  maxSocketsPerOrigin?: number;
  /** Idle keep-alive connections close after this; below the usual 5 s server timeout. Default 4000. */
  idleSocketTimeoutMs?: number;
  userAgent?: string;
  /** Jitter source, injectable for tests. */
  random?: () => number;
  /** NOTIFICATION_ALLOWED_NETWORKS; undefined: any destination. */
  allowedNetworks?: AllowedNetworks;
  /** Where a refused destination is logged. */
  logger?: Logger;
}

const DEFAULTS = {
  timeoutMs: 5000,
  attempts: 3,
  baseDelayMs: 200,
  maxDelayMs: 5000,
  maxDrainBytes: 64 * 1024,
  maxSocketsPerOrigin: 64,
  idleSocketTimeoutMs: 4000,
  userAgent: 'dmwsi-gateway',
} as const;

export class HttpNotificationSender implements ClosableNotificationSender {
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly backoff: BackoffPolicy;
  private readonly maxDrainBytes: number;
  private readonly userAgent: string;
  private readonly random: () => number;
  private readonly logger: Logger | undefined;
  /** http and https alike, one connection pool per origin. */
  private readonly agent: PushAgent;
  private readonly shutdown = new AbortController();

  constructor(options: HttpSenderOptions = {}) {
    const o = { ...DEFAULTS, ...options };
    const counts = {
      timeoutMs: o.timeoutMs,
      attempts: o.attempts,
      maxDrainBytes: o.maxDrainBytes,
      maxSocketsPerOrigin: o.maxSocketsPerOrigin,
      idleSocketTimeoutMs: o.idleSocketTimeoutMs,
    };
    for (const [name, v] of Object.entries(counts)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer: ${v}`);
    }
    if (o.baseDelayMs < 0 || o.maxDelayMs < 0) throw new RangeError('backoff delays must not be negative');
    this.timeoutMs = o.timeoutMs;
    this.attempts = o.attempts;
    this.backoff = { baseDelayMs: o.baseDelayMs, maxDelayMs: o.maxDelayMs };
    this.maxDrainBytes = o.maxDrainBytes;
    this.userAgent = o.userAgent;
    this.random = o.random ?? Math.random;
    this.logger = o.logger;
    this.agent = new PushAgent({
      allowedNetworks: o.allowedNetworks,
      maxSocketsPerOrigin: o.maxSocketsPerOrigin,
      idleSocketTimeoutMs: o.idleSocketTimeoutMs,
      connectTimeoutMs: o.timeoutMs,
    });
    // Every attempt in flight listens to the one shutdown signal (and stops listening when it
    // ends): as many listeners as notifications in flight, dozens in a rollout. Not a leak, so
    // no MaxListenersExceededWarning.
    setMaxListeners(0, this.shutdown.signal);
  }

  async send(target: NotificationTarget, trigger: Buffer): Promise<NotificationOutcome> {
    if (!Buffer.isBuffer(trigger) || trigger.length === 0) throw new TypeError('trigger must be a non-empty Buffer');
    if (!target.notificationUrl) return notDelivered('http', false, 'device has no notificationUrl', 0);
    return this.post(target.notificationUrl, trigger, CONTENT_TYPE_DM_NOTIFICATION);
  }

  /** POSTs `body` to a device's URL with the retry policy above (a Package#0, or a bootstrap). */
  async post(rawUrl: string, body: Buffer, contentType: string): Promise<NotificationOutcome> {
    if (!Buffer.isBuffer(body) || body.length === 0) throw new TypeError('body must be a non-empty Buffer');
    if (this.shutdown.signal.aborted) throw new Error('HttpNotificationSender is closed');
    const url = parseNotificationUrl(rawUrl);
    if (typeof url === 'string') return notDelivered('http', false, url, 0);

    let last: Extract<HttpAttemptResult, { kind: 'failed' }> | undefined;
    let attempt = 0;
    while (attempt < this.attempts) {
      if (attempt > 0) {
        const wait = Math.max(backoffDelay(this.backoff, attempt, this.random), Math.min(last?.retryAfterMs ?? 0, this.backoff.maxDelayMs));
        await sleep(wait, this.shutdown.signal);
        if (this.shutdown.signal.aborted) break;
      }
      const result = await postOnce({
        url,
        body,
        contentType,
        timeoutMs: this.timeoutMs,
        maxDrainBytes: this.maxDrainBytes,
        agent: this.agent,
        userAgent: this.userAgent,
        signal: this.shutdown.signal,
      });
      if (result.kind === 'refused') {
        this.logger?.warn({ host: url.hostname, address: result.address }, 'push refused: destination not in NOTIFICATION_ALLOWED_NETWORKS');
        // Nothing was sent, so this try is not counted; the operator's list will not change by itself.
        return notDelivered('http', false, result.reason, attempt);
      }
      attempt++;
      if (result.kind === 'delivered') {
        return { delivered: true, channel: 'http', detail: `HTTP ${result.status}`, attempts: attempt };
      }
      last = result;
      if (!result.retryable) break;
    }
    if (last === undefined) return notDelivered('http', true, 'notification sender closed', attempt);
    return notDelivered('http', last.retryable, last.reason, attempt);
  }

  /** Aborts attempts in flight (they end retryable) and closes the keep-alive connections. */
  async close(): Promise<void> {
    this.shutdown.abort();
    await this.agent.close();
  }
}

/** The URL to POST to, or why the device's notificationUrl cannot be used. */
function parseNotificationUrl(raw: string): URL | string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `notificationUrl is not a URL: ${JSON.stringify(raw)}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `notificationUrl must be http or https, got ${url.protocol}`;
  }
  return url;
}
