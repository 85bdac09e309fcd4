/**
 * One HTTP push attempt (a Package#0 or a bootstrap): POST the bytes once and
 * classify the answer. No retries here (see http-sender.ts) and no redirects:
 * Node's http client never follows them, and a 3xx is reported as a
 * configuration error of the notification URL.
 *
 * The answer is reduced to its status code: the status text, headers and
 * body are the device's words, and the reason ends up in task history that
 * any API caller reads back.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AllowedNetworks } from '../../security/allowed-networks.js';
import { checkedLookup, DestinationRefused, refusedLiteral } from './destination-check.js';

export type HttpAttemptResult =
  | { kind: 'delivered'; status: number }
  /** The destination address is outside NOTIFICATION_ALLOWED_NETWORKS: nothing was sent. */
  | { kind: 'refused'; address: string; reason: string }
  | {
      kind: 'failed';
      retryable: boolean;
      reason: string;
      /** From Retry-After on 429/503, when the server sent one. */
      retryAfterMs?: number;
      /** The HTTP status, when the server answered. */
      status?: number;
    };

export interface HttpAttemptRequest {
  url: URL;
  body: Buffer;
  contentType: string;
  /** Undefined: any destination. */
  allowedNetworks: AllowedNetworks | undefined;
  /** Covers connect, request, response headers and the body drain. */
  timeoutMs: number;
  /** Response bytes read (and discarded) before the connection is dropped instead. */
  maxDrainBytes: number;
  agent: http.Agent;
  userAgent: string;
  /** Further request headers (a webhook's signature and event id). */
  headers?: Record<string, string>;
  /** Aborts the attempt when the sender closes. */
  signal: AbortSignal;
}

export function postOnce(req: HttpAttemptRequest): Promise<HttpAttemptResult> {
  const literal = refusedLiteral(req.url, req.allowedNetworks);
  if (literal) return Promise.resolve(refused(literal));
  return new Promise((resolve) => {
    // The status, once known, is the answer even if draining the body then stalls.
    let answer: HttpAttemptResult | undefined;
    let settled = false;
    const finish = (result: HttpAttemptResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const client = req.url.protocol === 'https:' ? https : http;
    const outgoing = client.request(
      req.url,
      {
        method: 'POST',
        agent: req.agent,
        // A host name is checked as resolved, and the connection goes to the address checked.
        ...(req.allowedNetworks ? { lookup: checkedLookup(req.allowedNetworks) } : {}),
        headers: {
          'Content-Type': req.contentType,
          'Content-Length': String(req.body.length),
          'User-Agent': req.userAgent,
          ...req.headers,
        },
      },
      (res) => {
        answer = classify(res.statusCode ?? 0, res.headers);
        const result = answer;
        drain(res, req.maxDrainBytes, () => finish(result));
      },
    );
    const timer = setTimeout(() => {
      finish(answer ?? { kind: 'failed', retryable: true, reason: `no answer within ${req.timeoutMs} ms` });
      outgoing.destroy();
    }, req.timeoutMs);
    const onAbort = (): void => {
      finish(answer ?? { kind: 'failed', retryable: true, reason: 'notification sender closed' });
      outgoing.destroy();
    };
    req.signal.addEventListener('abort', onAbort, { once: true });
    outgoing.on('error', (e: NodeJS.ErrnoException) => {
      if (e instanceof DestinationRefused) return finish(refused(e));
      finish(answer ?? { kind: 'failed', retryable: true, reason: `network error: ${e.message || e.code}` });
    });
    outgoing.end(req.body);
  });
}

function refused(e: DestinationRefused): HttpAttemptResult {
  return { kind: 'refused', address: e.address, reason: e.message };
}

/** The outcome of a status code: the retry policy of the HTTP channel lives here. */
export function classify(status: number, headers: IncomingHttpHeaders): HttpAttemptResult {
  const label = `HTTP ${status}`;
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  if (status >= 300 && status < 400) {
    return { kind: 'failed', retryable: false, status, reason: `${label}: redirect not followed; configure the final notification URL` };
  }
  if (status === 408 || status === 429 || (status >= 500 && status < 600)) {
    const retryAfterMs = parseRetryAfter(headers['retry-after']);
    return { kind: 'failed', retryable: true, status, reason: label, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  // Other 4xx: the device (or proxy) refused this request; sending it again will not help.
  return { kind: 'failed', retryable: false, status, reason: label };
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Reads and discards the body so a keep-alive socket can be reused; a body
 * larger than `limit` is not worth waiting for, so that socket is dropped.
 */
function drain(res: IncomingMessage, limit: number, done: () => void): void {
  let seen = 0;
  res.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limit) {
      res.destroy();
      done();
    }
  });
  res.on('end', done);
  // A body cut short does not change the status already received.
  res.on('error', done);
  res.on('close', done);
}
