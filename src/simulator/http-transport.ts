/**
 * The device's DM transport over HTTP/1.1 (one instance shared by a fleet).
 *
 * undici rather than node:http: a fleet of 100,000 devices posts two messages
 * per session on a box it shares with the gateway, and node:http's client
 * (ClientRequest, the Agent's queues, IncomingMessage streams, a URL parsed
 * per request) cost about twice undici's CPU per request.
 */
import { Agent, errors } from 'undici';

export interface HttpResponse {
  status: number;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface DmTransport {
  post(url: string, body: Buffer, headers: Record<string, string>): Promise<HttpResponse>;
}

export interface HttpTransportOptions {
  /** Per origin; default 256. */
  maxSockets?: number;
  timeoutMs?: number;
  /** Largest answer accepted; default 8 MiB. */
  maxResponseBytes?: number;
}

/** Where a URL posts to, as undici takes it. */
interface Target {
  origin: string;
  path: string;
}

/**
 * An http(s) URL that WHATWG parsing would leave as it is past the host: no
 * characters it would percent-encode, no dot segments, no fragment, no user
 * info. A server's URL and its RespURIs (one per session) are such; splitting
 * them as text spares a URL object per message.
 */
const PLAIN_URL = /^(https?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?)(\/[A-Za-z0-9\-._~!$&()*+,;=:@%/?]*)?$/;

function targetOf(url: string): Target {
  const m = PLAIN_URL.exec(url);
  if (m !== null && !url.includes('/.')) return { origin: m[1]!, path: m[2] ?? '/' };
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`not an http(s) URL: ${url}`);
  return { origin: u.origin, path: `${u.pathname}${u.search}` };
}

/** Keep-alive connections, http and https; one instance is meant to be shared. */
export function createHttpTransport(opts: HttpTransportOptions = {}): DmTransport & { close(): void } {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const maxBytes = opts.maxResponseBytes ?? 8 * 1024 * 1024;
  const agent = new Agent({
    connections: opts.maxSockets ?? 256,
    pipelining: 1,
    // As node:http's socket timeout did: no byte for this long, of the head or of the body.
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    maxResponseSize: maxBytes,
  });
  return {
    async post(url, body, headers) {
      const { origin, path } = targetOf(url);
      try {
        const res = await agent.request({ origin, path, method: 'POST', headers, body });
        // One exact-size buffer (no copy): cheaper than collecting the stream's chunks.
        const answer = Buffer.from(await res.body.arrayBuffer());
        return { status: res.statusCode, headers: flatten(res.headers), body: answer };
      } catch (err) {
        throw plainError(err, timeoutMs, maxBytes);
      }
    },
    close() {
      agent.destroy().catch(() => {});
    },
  };
}

function flatten(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** The reasons a fleet reports by (its failure table) stay those it gave over node:http. */
function plainError(err: unknown, timeoutMs: number, maxBytes: number): unknown {
  if (err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError) {
    return new Error(`no answer within ${timeoutMs} ms`, { cause: err });
  }
  if (err instanceof errors.ResponseExceededMaxSizeError) {
    return new Error(`answer larger than ${maxBytes} bytes`, { cause: err });
  }
  return err;
}
