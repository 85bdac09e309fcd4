/**
 * Package#0 over HTTP (contract): POST the raw trigger bytes,
 * `Content-Type: application/vnd.syncml.notification`, to the device's
 * notificationUrl; 2xx means delivered. 5xx, 408, 429, timeouts and network
 * errors are retried with exponential backoff and jitter; other 4xx and
 * redirects are final (a redirecting notification URL is a configuration
 * error). An unreachable device is an outcome, never an exception.
 */
import type { NotificationOutcome, NotificationTarget } from '../../dm/server/ports.js';

export interface HttpSenderOptions {
  attempts?: number;
  timeoutMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

const RETRYABLE_STATUS = new Set([408, 429]);

export class HttpNotificationSender {
  private readonly attempts: number;
  private readonly timeoutMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(o: HttpSenderOptions = {}) {
    this.attempts = o.attempts ?? 3;
    this.timeoutMs = o.timeoutMs ?? 5000;
    this.baseDelayMs = o.baseDelayMs ?? 200;
    this.maxDelayMs = o.maxDelayMs ?? 5000;
  }

  async send(target: NotificationTarget, trigger: Buffer): Promise<NotificationOutcome> {
    const url = target.notificationUrl;
    if (!url) return { delivered: false, channel: 'http', retryable: false, reason: 'no notificationUrl', attempts: 0 };
    let reason = '';
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      const r = await this.once(url, trigger);
      if (r.delivered) return { delivered: true, channel: 'http', detail: r.detail, attempts: attempt };
      reason = r.reason;
      if (!r.retryable) return { delivered: false, channel: 'http', retryable: false, reason, attempts: attempt };
      if (attempt < this.attempts) await sleep(this.backoff(attempt));
    }
    return { delivered: false, channel: 'http', retryable: true, reason, attempts: this.attempts };
  }

  private backoff(attempt: number): number {
    const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    return cap / 2 + Math.random() * (cap / 2);
  }

  private async once(
    url: string,
    trigger: Buffer,
  ): Promise<{ delivered: true; detail: string } | { delivered: false; retryable: boolean; reason: string }> {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.syncml.notification' },
        body: trigger,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      // Drain (bounded by the timeout) so the connection can be reused.
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { delivered: true, detail: `HTTP ${res.status}` };
      if (res.status >= 300 && res.status < 400) {
        return { delivered: false, retryable: false, reason: `HTTP ${res.status}: notification URLs must not redirect` };
      }
      const retryable = res.status >= 500 || RETRYABLE_STATUS.has(res.status);
      return { delivered: false, retryable, reason: `HTTP ${res.status}` };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : (e.cause?.code ?? e.message);
      return { delivered: false, retryable: true, reason: why };
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
