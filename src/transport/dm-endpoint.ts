/**
 * The HTTP endpoint devices call: `POST /dm` starts or continues a session,
 * `POST /dm/s/<token>` is the RespURI the server hands out. Reads the body
 * under a size cap and hands it to the DM server; nothing else.
 *
 * Plain `node:http`, no express routing and no body-parser: in the DM bench
 * (`node dist/bench/run.js --only dm`, one-message sessions on a 2-core box)
 * express + body-parser were ~19% of the gateway's busy CPU per message.
 * `dmHttpHandler` is the whole endpoint; the gateway calls it ahead of
 * express, and `dmEndpoint` wraps the same function as an express router, so
 * both ways in behave alike. What body-parser did and devices or tests rely
 * on is kept: the cap applies to the bytes read and again to the decoded
 * bytes of a gzip/deflate/br body (413), an unknown Content-Encoding is
 * refused with 415 (the express error handler turned body-parser's 415 into
 * a 400), an unreadable body is a 400, an empty one too.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import zlib from 'node:zlib';
import express, { type Router } from 'express';
import type { Logger } from 'pino';
import type { DmServer } from '../dm/server/dm-server.js';
import { OpeningGate } from './opening-gate.js';

export interface DmEndpointDeps {
  server: DmServer;
  logger: Logger;
  maxBodyBytes: number;
  /**
   * Messages to `/dm` (a session's opening, or a client that ignores RespURI)
   * served at once in this process; one more gets 503 with Retry-After before
   * its body is read. 0 or absent: no cap. Messages to a RespURI always pass.
   */
  maxInFlight?: number;
  /** The in-flight count shared with the DM 2.0 endpoint (one DM_MAX_IN_FLIGHT per process); default its own. */
  gate?: OpeningGate;
  /** Counts DM messages by outcome (HTTP status). */
  observe?: (status: number, seconds: number) => void;
}

/** Serves the request and returns true when it is a DM message (POST /dm, POST /dm/s/<token>); false: not ours, untouched. */
export type DmHttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

// Linear: anchored and bounded.
const TOKEN = /^[A-Za-z0-9_-]{16,64}$/;
const TEXT = 'text/plain; charset=utf-8';

/** How often refusals for the in-flight cap are logged (with their count), at most. */
const IN_FLIGHT_LOG_MS = 10_000;

export function dmHttpHandler(deps: DmEndpointDeps): DmHttpHandler {
  // Every message in flight holds its body, parse tree, session state and reply:
  // when a whole fleet reports at one AtTime (each report a one-message session,
  // which DM_MAX_SESSIONS does not count), an uncapped process queued 10,000 of
  // them and passed 1 GiB. Opening messages beyond the cap are turned away
  // cheaply; messages of open sessions (on their RespURI) always pass.
  const gate = deps.gate ?? new OpeningGate(deps.maxInFlight ?? 0);
  const cap = gate.cap;
  const gated = gate.enabled;
  let refused = 0;
  let refusalLoggedAt = 0;
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const route = matchDmPath(req.url ?? '');
    if (route === undefined) return false;
    const counted = route.token === undefined && gated;
    if (counted && !gate.tryEnter()) {
      refused += 1;
      const now = Date.now();
      if (now - refusalLoggedAt >= IN_FLIGHT_LOG_MS) {
        deps.logger.warn(
          { refused, maxInFlight: cap, eventLoopLagMs: Math.round(gate.lagMs) },
          'DM messages refused: DM_MAX_IN_FLIGHT opening messages are being served, or the event loop runs later than DM_MAX_EVENT_LOOP_LAG_MS',
        );
        refused = 0;
        refusalLoggedAt = now;
      }
      req.resume();
      // Spread over 5-14 s, so refused devices do not return together.
      res.writeHead(503, { 'content-type': TEXT, 'retry-after': String(5 + Math.floor(Math.random() * 10)) });
      res.end('the DM server is busy; retry later\n');
      deps.observe?.(503, 0);
      return true;
    }
    serve(deps, req, res, route.token)
      .catch((err: unknown) => {
        // serve answers its own failures; this is a last resort (e.g. a throwing logger).
        deps.logger.error({ err }, 'DM request failed');
        if (!res.headersSent) sendText(res, 500, 'internal error\n');
      })
      .finally(() => {
        if (counted) gate.leave();
      });
    return true;
  };
}

/**
 * The same endpoint as an express router, for an app that has no dispatcher
 * in front of it. The gateway calls `serveDm` before express instead.
 */
export function dmEndpoint(deps: DmEndpointDeps): Router & { serveDm: DmHttpHandler } {
  const serveDm = dmHttpHandler(deps);
  const router = express.Router();
  router.use((req, res, next) => {
    if (!serveDm(req, res)) next();
  });
  return Object.assign(router, { serveDm });
}

/**
 * `/dm` or `/dm/s/<token>` as express matched them: case-insensitive, an
 * optional trailing slash, the query ignored, the token URL-decoded.
 */
function matchDmPath(url: string): { token?: string } | undefined {
  const q = url.indexOf('?');
  let path = q === -1 ? url : url.slice(0, q);
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  if (path.length === 3) return path.toLowerCase() === '/dm' ? {} : undefined;
  if (path.length <= 6 || path.slice(0, 6).toLowerCase() !== '/dm/s/') return undefined;
  const raw = path.slice(6);
  if (raw.includes('/')) return undefined;
  if (!raw.includes('%')) return { token: raw };
  try {
    return { token: decodeURIComponent(raw) };
  } catch {
    // Not a token any session could have.
    return { token: '' };
  }
}

async function serve(deps: DmEndpointDeps, req: IncomingMessage, res: ServerResponse, token: string | undefined) {
  const started = performance.now();
  if (token !== undefined && !TOKEN.test(token)) {
    sendText(res, 404, 'unknown session\n');
    return;
  }
  const body = await readBody(req, deps.maxBodyBytes);
  if (!Buffer.isBuffer(body)) {
    sendText(res, body.status, body.message);
    return;
  }
  if (body.length === 0) {
    sendText(res, 400, 'empty DM message\n');
    return;
  }
  try {
    const hmac = req.headers['x-syncml-hmac'];
    const out = await deps.server.handle({
      body,
      contentType: req.headers['content-type'] ?? '',
      ...(typeof hmac === 'string' && hmac !== '' ? { hmacHeader: hmac } : {}),
      ...(token ? { token } : {}),
      // Destroyed once the client closed the connection (a timeout, a reset): no answer can reach it.
      clientGone: () => res.destroyed,
    });
    // The type as the DM server gives it: the binary WBXML type takes no charset.
    res.writeHead(out.status, { ...out.headers, 'content-type': out.contentType, 'content-length': out.body.length });
    res.end(out.body);
    deps.observe?.(out.status, (performance.now() - started) / 1000);
  } catch (err) {
    deps.logger.error({ err }, 'DM message failed');
    sendText(res, 500, 'internal error\n');
    deps.observe?.(500, (performance.now() - started) / 1000);
  }
}

function sendText(res: ServerResponse, status: number, text: string): void {
  const body = Buffer.from(text);
  res.writeHead(status, { 'content-type': TEXT, 'content-length': body.length });
  res.end(body);
}

export interface BodyRefused {
  status: 400 | 413 | 415;
  message: string;
}

const TOO_LARGE: BodyRefused = { status: 413, message: 'DM message too large\n' };
const UNREADABLE: BodyRefused = { status: 400, message: 'unreadable DM message body\n' };

function decoderFor(encoding: string): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined {
  switch (encoding) {
    case 'gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      return undefined;
  }
}

/**
 * The body, at most `limit` bytes read from the wire and, when it is
 * compressed, at most `limit` bytes decoded (a small gzip bomb stops there).
 * A declared Content-Length over the cap is refused before reading anything.
 * On a refusal the rest of the body is read and dropped, so the connection
 * stays usable for the answer and the next request.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | BodyRefused> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  const decoder = encoding === 'identity' ? undefined : decoderFor(encoding);
  if (encoding !== 'identity' && decoder === undefined) {
    req.resume();
    return Promise.resolve({ status: 415, message: `unsupported content encoding "${encoding}"\n` });
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    // Not read: node:http drops the unread body once the answer is sent.
    decoder?.destroy();
    return Promise.resolve(TOO_LARGE);
  }

  return new Promise((resolve) => {
    let settled = false;
    const settle = (v: Buffer | BodyRefused) => {
      if (settled) return;
      settled = true;
      req.removeListener('data', onWire);
      if (decoder) {
        req.unpipe(decoder);
        decoder.removeAllListeners('data');
        decoder.on('error', () => undefined);
        decoder.destroy();
      }
      // Drop whatever else the client sends; the request ends normally.
      if (!Buffer.isBuffer(v)) req.resume();
      resolve(v);
    };

    let wire = 0;
    const onWire = (chunk: Buffer) => {
      wire += chunk.length;
      if (wire > limit) settle(TOO_LARGE);
    };
    req.on('data', onWire);
    req.on('error', () => settle(UNREADABLE));
    req.on('aborted', () => settle(UNREADABLE));

    // The decoded bytes: the request's own, or the decoder's output.
    const source = decoder ?? req;
    const chunks: Buffer[] = [];
    let size = 0;
    source.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) settle(TOO_LARGE);
      else chunks.push(chunk);
    });
    source.on('end', () => settle(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    if (decoder) {
      decoder.on('error', () => settle(UNREADABLE));
      req.pipe(decoder);
    }
  });
}
