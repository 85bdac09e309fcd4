/**
 * One HTTP push attempt (a Package#0 or a bootstrap): POST the bytes once and
 * classify the answer. No retries here (see http-sender.ts) and no redirects:
 * undici's Agent follows none unless told to, and a 3xx is reported as a
 * configuration error of the notification URL.
 *
 * The client is undici rather than node:http: a rollout pushes one Package#0
 * per device (100,000 on a 2-core box shared with the rest of the gateway,
 * PostgreSQL, Redis and the fleet), and node:http's client (ClientRequest,
 * the Agent's queues, an IncomingMessage stream per answer) costs about
 * twice undici's CPU per request. Measured: 20,000 Package#0-sized POSTs
 * (197 bytes) through HttpNotificationSender, 64 at a time, to a node:http
 * server in another process, client CPU per request 73.8–78.3 µs over
 * node:http, 37.3–42.6 µs over undici (three runs each, 2-core VM).
 *
 * One undici 6 habit differs: when an attempt is cut short (timeout, body
 * over the drain limit, close) the connection is dropped and undici then
 * opens a spare one to that origin, which idles until the keep-alive timeout
 * (or the agent's close) ends it.
 *
 * The answer is reduced to its status code: the status text, headers and
 * body are the device's words, and the reason ends up in task history that
 * any API caller reads back.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Agent } from 'undici';
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

export interface PushAgentOptions {
  /** NOTIFICATION_ALLOWED_NETWORKS; undefined: any destination. */
  allowedNetworks: AllowedNetworks | undefined;
  /** Connections per origin. */
  maxSocketsPerOrigin: number;
  /** An idle keep-alive connection closes after this (a server's shorter Keep-Alive hint wins). */
  idleSocketTimeoutMs: number;
  /** Longest wait for a connection to be set up (the attempt's own timeout ends the attempt first). */
  connectTimeoutMs: number;
}

/**
 * The keep-alive connections of one owner (a sender, the webhook poster),
 * http and https alike, closed with it: nothing outlives a test or a
 * shutdown. The allowed networks are part of it because a host name is
 * checked inside the connection's DNS lookup (undici hands `connect.lookup`
 * to net/tls.connect), so the connection goes to the address checked.
 */
export class PushAgent {
  readonly dispatcher: Agent;
  readonly allowedNetworks: AllowedNetworks | undefined;

  constructor(o: PushAgentOptions) {
    this.allowedNetworks = o.allowedNetworks;
    this.dispatcher = new Agent({
      connections: o.maxSocketsPerOrigin,
      pipelining: 1,
      keepAliveTimeout: o.idleSocketTimeoutMs,
      keepAliveMaxTimeout: o.idleSocketTimeoutMs,
      connect: {
        timeout: o.connectTimeoutMs,
        ...(o.allowedNetworks ? { lookup: checkedLookup(o.allowedNetworks) } : {}),
      },
    });
  }

  /** Drops every connection; requests still queued fail (their attempts have ended already). */
  async close(): Promise<void> {
    await this.dispatcher.destroy().catch(() => undefined);
  }
}

export interface HttpAttemptRequest {
  url: URL;
  body: Buffer;
  contentType: string;
  /** Covers connect, request, response headers and the body drain. */
  timeoutMs: number;
  /** Response bytes read (and discarded) before the connection is dropped instead. */
  maxDrainBytes: number;
  /** Its allowed networks are the ones checked (literal hosts here, host names in its lookup). */
  agent: PushAgent;
  userAgent: string;
  /** Further request headers (a webhook's signature and event id). */
  headers?: Record<string, string>;
  /** Aborts the attempt when the sender closes. */
  signal: AbortSignal;
}

const CLOSED = 'notification sender closed';

export function postOnce(req: HttpAttemptRequest): Promise<HttpAttemptResult> {
  const literal = refusedLiteral(req.url, req.agent.allowedNetworks);
  if (literal) return Promise.resolve(refused(literal));
  if (req.signal.aborted) return Promise.resolve(failed(CLOSED));
  return new Promise((resolve) => {
    // The status, once known, is the answer even if draining the body then stalls.
    let answer: HttpAttemptResult | undefined;
    let body: Readable | undefined;
    let settled = false;
    const finish = (result: HttpAttemptResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    // Ends the attempt now; the request (or the body being drained) is aborted and its connection dropped.
    const abort = new AbortController();
    const stop = (reason: string): void => {
      finish(answer ?? failed(reason));
      abort.abort();
      body?.destroy();
    };
    const timer = setTimeout(() => stop(`no answer within ${req.timeoutMs} ms`), req.timeoutMs);
    const onAbort = (): void => stop(CLOSED);
    req.signal.addEventListener('abort', onAbort, { once: true });
    req.agent.dispatcher
      .request({
        origin: req.url.origin,
        path: `${req.url.pathname}${req.url.search}`,
        method: 'POST',
        headers: {
          'Content-Type': req.contentType,
          'Content-Length': String(req.body.length),
          'User-Agent': req.userAgent,
          ...(req.url.username || req.url.password ? { Authorization: basicAuth(req.url) } : {}),
          ...req.headers,
        },
        body: req.body,
        signal: abort.signal,
      })
      .then(
        (res) => {
          if (settled) {
            res.body.destroy();
            return;
          }
          const retryAfter = res.headers['retry-after'];
          answer = classify(res.statusCode, retryAfter === undefined ? {} : { 'retry-after': firstValue(retryAfter) });
          const result = answer;
          body = res.body;
          // undici hands the connection back to its pool in a setImmediate after the answer
          // (pipelining 1); settling after it lets a push that awaits this one reuse the
          // connection instead of opening another.
          drain(res.body, req.maxDrainBytes, () => setImmediate(finish, result));
        },
        (e: unknown) => {
          const refusal = destinationRefused(e);
          if (refusal) return finish(refused(refusal));
          finish(answer ?? failed(`network error: ${networkCause(e)}`));
        },
      );
  });
}

/** User info in the URL, sent as node:http sent it: Basic, percent-decoded (undici's origin leaves it out). */
function basicAuth(url: URL): string {
  return `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
}

function failed(reason: string): HttpAttemptResult {
  return { kind: 'failed', retryable: true, reason };
}

/** As node:http kept a repeated Retry-After: the first. */
function firstValue(v: string | string[]): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The lookup's refusal, as net/tls.connect raised it (undici passes it on; a wrapper's cause is looked into too). */
function destinationRefused(e: unknown): DestinationRefused | undefined {
  let err = e;
  for (let depth = 0; depth < 4 && typeof err === 'object' && err !== null; depth++) {
    if (err instanceof DestinationRefused) return err;
    err = (err as ErrorLike).cause;
  }
  return undefined;
}

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  cause?: unknown;
}

/**
 * What went wrong on the network, in the words node:http used: undici passes
 * the socket's own error through (`connect ECONNREFUSED 127.0.0.1:1234`,
 * `read ECONNRESET`), but some failures come as an undici error (code
 * UND_ERR_*) with the socket's error as its cause, which then names the real
 * cause. A device that closes the connection without answering is undici's
 * SocketError "other side closed": node:http's "socket hang up". An
 * AggregateError (every address of a host name refused) has no message, only
 * a code.
 */
function networkCause(e: unknown): string {
  let err = (typeof e === 'object' && e !== null ? e : { message: String(e) }) as ErrorLike;
  for (let depth = 0; depth < 4; depth++) {
    const cause = err.cause;
    if (typeof err.code !== 'string' || !err.code.startsWith('UND_ERR') || typeof cause !== 'object' || cause === null) break;
    err = cause as ErrorLike;
  }
  if (err.code === 'UND_ERR_SOCKET') return 'socket hang up';
  const message = typeof err.message === 'string' ? err.message : '';
  return message || (typeof err.code === 'string' ? err.code : 'unknown');
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
 * Reads and discards the body so a keep-alive connection can be reused; a
 * body larger than `limit` is not worth waiting for, so that connection is
 * dropped (destroying undici's body aborts the request and its socket).
 */
function drain(body: Readable, limit: number, then: () => void): void {
  let seen = 0;
  let ended = false;
  const done = (): void => {
    if (ended) return;
    ended = true;
    then();
  };
  body.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limit) {
      body.destroy();
      done();
    }
  });
  body.on('end', done);
  // A body cut short does not change the status already received.
  body.on('error', done);
  body.on('close', done);
}
