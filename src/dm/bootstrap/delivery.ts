/**
 * Delivers a signed DM bootstrap over HTTP: POST the exact WBXML bytes with
 * the bootstrap content type (SEC/MAC) to the device's notification URL, the
 * one address the contract gives for reaching a device outside a session.
 * The device tells a bootstrap from a Package#0 by the media type.
 *
 * The outcome has the notification senders' shape (NotificationOutcome), so
 * callers treat both pushes alike. Retry policy, as for Package#0 over HTTP:
 * 2xx delivered; 408, 429, 5xx, network errors and timeouts are retried with
 * exponential backoff and jitter (Retry-After honoured up to the cap); 3xx
 * and other 4xx are final (a rejected MAC will not pass on a resend).
 * Resending is safe: a device replaces the account a bootstrap names.
 *
 * Node's http client, not fetch: it never follows redirects and lets the
 * attempt own its socket (no agent by default, so nothing outlives a call).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import type { NotificationOutcome } from '../server/ports.js';
import { parseBootstrapContentType } from './security.js';

export interface BootstrapDeliveryOptions {
  /** Per attempt: connect, send, status and body drain. */
  timeoutMs: number;
  /** Attempts in all, the first included. */
  attempts: number;
  /** Backoff before the first retry, before jitter. Default 200. */
  baseDelayMs?: number;
  /** Cap on any backoff, also on Retry-After. Default 5000. */
  maxDelayMs?: number;
  /** Jitter source (tests). */
  random?: () => number;
  /** Stops further attempts and aborts the one in flight (ends retryable). */
  signal?: AbortSignal;
  /** Keep-alive agent for bulk bootstraps; default none (one connection per attempt). */
  agent?: http.Agent;
}

/** NotificationOutcome narrowed to the HTTP channel (assignable to it). */
export type BootstrapDeliveryOutcome =
  | (Extract<NotificationOutcome, { delivered: true }> & { channel: 'http' })
  | (Extract<NotificationOutcome, { delivered: false }> & { channel: 'http' });

/** Response bytes read (and dropped) before giving up the connection. */
const MAX_DRAIN = 64 * 1024;
/** How much of a refusal's text body goes into the reason (the simulator says why, e.g. `bad-mac`). */
const REASON_TEXT = 120;

type Attempt =
  | { ok: true; status: number }
  | { ok: false; retryable: boolean; reason: string; retryAfterMs?: number };

export async function deliverBootstrap(
  url: string,
  body: Buffer,
  contentType: string,
  options: BootstrapDeliveryOptions,
): Promise<BootstrapDeliveryOutcome> {
  if (!Buffer.isBuffer(body) || body.length === 0) throw new TypeError('body must be a non-empty Buffer');
  // Refuse to push an unsigned bootstrap: no device may trust one (security.ts).
  if (!parseBootstrapContentType(contentType)) {
    throw new TypeError(`not a signed DM bootstrap content type: ${JSON.stringify(contentType)}`);
  }
  const { timeoutMs, attempts } = options;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError(`timeoutMs must be a positive integer: ${timeoutMs}`);
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError(`attempts must be a positive integer: ${attempts}`);
  const target = parseUrl(url);
  if (typeof target === 'string') return failed(false, target, 0);

  const base = options.baseDelayMs ?? 200;
  const cap = options.maxDelayMs ?? 5000;
  const random = options.random ?? Math.random;
  let last: Extract<Attempt, { ok: false }> | undefined;
  let n = 0;
  while (n < attempts) {
    if (n > 0) {
      // Equal jitter: half fixed, half random, so a fleet that failed together spreads out.
      const ceiling = Math.min(cap, base * 2 ** (n - 1));
      const wait = Math.max(Math.round(ceiling / 2 + (random() * ceiling) / 2), Math.min(last?.retryAfterMs ?? 0, cap));
      await sleep(wait, options.signal);
    }
    if (options.signal?.aborted) break;
    n++;
    const result = await postOnce(target, body, contentType, timeoutMs, options.agent, options.signal);
    if (result.ok) return { delivered: true, channel: 'http', detail: `HTTP ${result.status}`, attempts: n };
    last = result;
    if (!result.retryable) break;
  }
  return last === undefined ? failed(true, 'bootstrap delivery aborted', n) : failed(last.retryable, last.reason, n);
}

function failed(retryable: boolean, reason: string, attempts: number): BootstrapDeliveryOutcome {
  return { delivered: false, channel: 'http', retryable, reason, attempts };
}

function parseUrl(raw: string): URL | string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `notification URL is not a URL: ${JSON.stringify(raw)}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `notification URL must be http or https, got ${url.protocol}`;
  return url;
}

function postOnce(
  url: URL,
  body: Buffer,
  contentType: string,
  timeoutMs: number,
  agent: http.Agent | undefined,
  signal: AbortSignal | undefined,
): Promise<Attempt> {
  return new Promise((resolve) => {
    // Once the status is known it is the answer, even if draining the body then stalls.
    let answered: Attempt | undefined;
    let settled = false;
    const finish = (a: Attempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(a);
    };
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(
      url,
      {
        method: 'POST',
        agent: agent ?? false,
        headers: { 'content-type': contentType, 'content-length': String(body.length), 'user-agent': 'dmwsi-gateway' },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        answered = classify(status, res.headers, Buffer.alloc(0));
        const chunks: Buffer[] = [];
        let seen = 0;
        const done = () => finish(classify(status, res.headers, Buffer.concat(chunks)));
        res.on('data', (c: Buffer) => {
          seen += c.length;
          if (seen <= MAX_DRAIN) chunks.push(c);
          else {
            res.destroy();
            done();
          }
        });
        res.on('end', done);
        res.on('error', done);
      },
    );
    const timer = setTimeout(() => {
      finish(answered ?? { ok: false, retryable: true, reason: `timeout after ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    const onAbort = () => {
      finish(answered ?? { ok: false, retryable: true, reason: 'bootstrap delivery aborted' });
      req.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e: NodeJS.ErrnoException) =>
      finish(answered ?? { ok: false, retryable: true, reason: `network error: ${e.message || e.code}` }),
    );
    req.end(body);
  });
}

function classify(status: number, headers: http.IncomingHttpHeaders, body: Buffer): Attempt {
  if (status >= 200 && status < 300) return { ok: true, status };
  const text = /^text\//i.test(headers['content-type'] ?? '') ? body.toString('utf8').trim().slice(0, REASON_TEXT) : '';
  const reason = text === '' ? `HTTP ${status}` : `HTTP ${status}: ${text}`;
  if (status >= 300 && status < 400) return { ok: false, retryable: false, reason: `${reason} (redirect not followed)` };
  if (status === 408 || status === 429 || (status >= 500 && status < 600)) {
    const retryAfterMs = retryAfter(headers['retry-after']);
    return { ok: false, retryable: true, reason, ...(retryAfterMs !== undefined && { retryAfterMs }) };
  }
  return { ok: false, retryable: false, reason };
}

/** Retry-After as delay-seconds or an HTTP date. */
function retryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

async function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0 || signal?.aborted) return;
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (e) {
    if (!signal?.aborted) throw e;
  }
}
