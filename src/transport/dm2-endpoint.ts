/**
 * The HTTP endpoint DM 2.0 devices call (contract: `POST /dm2`):
 * - `POST /dm2`: Package#1 (or a Package#3 from a client that ignores CONT)
 * - `POST /dm2/s/<token>`: the session's URI, given by CONT
 * - `POST /dm2/r/<correlator>`: an asynchronous EXEC's ServerURI (its report's Package#1)
 * - `GET /dm2/data/<token>`: what an HGET fetches
 * Plain node:http like the DM 1.2 endpoint (dm-endpoint.ts), with the same
 * body reader (size cap before and after decompression), the same in-flight
 * cap for messages that open a session (DM_MAX_IN_FLIGHT, one count with
 * /dm's), and TLS required unless DM2_ALLOW_PLAIN_HTTP.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { mediaTypeOf } from '../dm2/codec.js';
import { DATA_SEGMENT, DEVID_HEADER, DM2_PATH, MEDIA_PACKAGE1, MEDIA_PACKAGE3, REPORT_SEGMENT, SESSION_SEGMENT, UPLOAD_SEGMENT } from '../dm2/constants.js';
import type { Dm2Response, Dm2Route, Dm2Server } from '../dm2/server.js';
import { tlsIdentityOf } from '../dm2/tls-identity.js';
import { readBody } from './dm-endpoint.js';
import type { OpeningGate } from './opening-gate.js';

export interface Dm2EndpointDeps {
  server: Dm2Server;
  logger: Logger;
  maxBodyBytes: number;
  /** DM_MAX_IN_FLIGHT: opening messages served at once per process, counted with /dm's (opening-gate.ts). */
  gate: OpeningGate;
  /** DM2_ALLOW_PLAIN_HTTP: serve DM 2.0 over plain HTTP (tests, labs). */
  allowPlainHttp: boolean;
  observe?: (status: number, seconds: number) => void;
}

export type Dm2HttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

// Linear: anchored, bounded character classes.
const TOKEN = /^[A-Za-z0-9_-]{16,64}$/;
const CORRELATOR = /^[A-Za-z0-9_.:-]{1,128}$/;
const DATA_TOKEN = /^[A-Za-z0-9_.-]{1,2048}$/;
/** The package number a CONT URI carries: `?p=<n>` (first parameter, as the gateway writes it). */
const PKG = /^\?p=(\d{1,6})(?:&|$)/;
const TEXT = 'text/plain; charset=utf-8';

type Matched = { post: Dm2Route } | { data: string } | { upload: string } | { bad: string };

export function dm2HttpHandler(deps: Dm2EndpointDeps): Dm2HttpHandler {
  return (req, res) => {
    const m = matchPath(req.url ?? '');
    if (m === undefined) return false;
    if (!deps.allowPlainHttp && (req.socket as TLSSocket).encrypted !== true) {
      req.resume();
      deps.logger.warn({ deviceId: headerOf(req, DEVID_HEADER), path: DM2_PATH }, 'DM 2.0 over plain HTTP refused (DM2_ALLOW_PLAIN_HTTP is off)');
      send(res, 403, TEXT, Buffer.from('DM 2.0 requires HTTPS\n'));
      return true;
    }
    if ('bad' in m) {
      req.resume();
      send(res, 404, TEXT, Buffer.from(`${m.bad}\n`));
      return true;
    }
    if ('data' in m) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      req.resume();
      deps.server
        .serveData(m.data)
        .then((out) => reply(res, out, req.method === 'HEAD'))
        .catch((err: unknown) => {
          deps.logger.error({ err }, 'DM 2.0 data request failed');
          if (!res.headersSent) send(res, 500, TEXT, Buffer.from('internal error\n'));
        });
      return true;
    }
    if ('upload' in m) {
      if (req.method !== 'POST' && req.method !== 'PUT') return false;
      const token = m.upload;
      readBody(req, deps.maxBodyBytes)
        .then(async (body) => {
          if (!Buffer.isBuffer(body)) {
            deps.logger.warn({ status: body.status }, 'DM 2.0 upload refused');
            return send(res, body.status, TEXT, Buffer.from(body.message));
          }
          reply(res, await deps.server.receiveUpload(token, body, headerOf(req, 'content-type') ?? ''), false);
        })
        .catch((err: unknown) => {
          deps.logger.error({ err }, 'DM 2.0 upload failed');
          if (!res.headersSent) send(res, 500, TEXT, Buffer.from('internal error\n'));
        });
      return true;
    }
    if (req.method !== 'POST') return false;
    const counted = m.post.kind !== 'session' && deps.gate.enabled;
    if (counted && !deps.gate.tryEnter()) {
      req.resume();
      res.writeHead(503, { 'content-type': TEXT, 'retry-after': String(5 + Math.floor(Math.random() * 10)) });
      res.end('the DM server is busy; retry later\n');
      deps.observe?.(503, 0);
      return true;
    }
    serve(deps, req, res, m.post)
      .catch((err: unknown) => {
        deps.logger.error({ err }, 'DM 2.0 request failed');
        if (!res.headersSent) send(res, 500, TEXT, Buffer.from('internal error\n'));
      })
      .finally(() => {
        if (counted) deps.gate.leave();
      });
    return true;
  };
}

async function serve(deps: Dm2EndpointDeps, req: IncomingMessage, res: ServerResponse, route: Dm2Route): Promise<void> {
  const started = performance.now();
  // Refused before the body is read: a request that names no device or is not a DM 2.0 package costs no more.
  const devId = headerOf(req, DEVID_HEADER);
  const media = mediaTypeOf(headerOf(req, 'content-type') ?? '');
  if (devId === undefined || devId.trim() === '' || (media !== MEDIA_PACKAGE1 && media !== MEDIA_PACKAGE3)) {
    req.resume();
    const status = devId === undefined || devId.trim() === '' ? 400 : 415;
    deps.logger.warn({ deviceId: devId, status, contentType: media.slice(0, 100) }, 'DM 2.0 request refused before its body');
    send(res, status, TEXT, Buffer.from(status === 400 ? 'OMADM-DevID header required\n' : `send ${MEDIA_PACKAGE1} or ${MEDIA_PACKAGE3}\n`));
    deps.observe?.(status, (performance.now() - started) / 1000);
    return;
  }
  const body = await readBody(req, deps.maxBodyBytes);
  if (!Buffer.isBuffer(body)) {
    deps.logger.warn({ deviceId: headerOf(req, DEVID_HEADER), status: body.status }, 'DM 2.0 body refused');
    send(res, body.status, TEXT, Buffer.from(body.message));
    deps.observe?.(body.status, (performance.now() - started) / 1000);
    return;
  }
  const out = await deps.server.handle({
    route,
    path: req.url ?? '',
    devId: headerOf(req, DEVID_HEADER),
    authorization: headerOf(req, 'authorization'),
    tlsIdentity: tlsIdentityOf(req.socket),
    contentType: headerOf(req, 'content-type') ?? '',
    body,
    // Destroyed once the client closed the connection (a timeout, a reset): no answer can reach it.
    clientGone: () => res.destroyed,
  });
  reply(res, out, false);
  deps.observe?.(out.status, (performance.now() - started) / 1000);
}

function reply(res: ServerResponse, out: Dm2Response, headOnly: boolean): void {
  res.writeHead(out.status, { ...out.headers, 'content-type': out.contentType, 'content-length': out.body.length });
  res.end(headOnly ? undefined : out.body);
}

function send(res: ServerResponse, status: number, contentType: string, body: Buffer): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': body.length });
  res.end(body);
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** `/dm2[/s/<token>|/r/<correlator>|/data/<token>]`, case-insensitive prefix, optional trailing slash, query ignored. */
function matchPath(url: string): Matched | undefined {
  const q = url.indexOf('?');
  let path = q === -1 ? url : url.slice(0, q);
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  if (path.slice(0, DM2_PATH.length).toLowerCase() !== DM2_PATH) return undefined;
  if (path.length === DM2_PATH.length) return { post: { kind: 'open' } };
  if (path[DM2_PATH.length] !== '/') return undefined;
  const parts = path.slice(DM2_PATH.length + 1).split('/');
  if (parts.length !== 2) return { bad: 'unknown DM 2.0 path' };
  const [segment, raw] = parts as [string, string];
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    return { bad: 'unknown DM 2.0 path' };
  }
  switch (segment) {
    case SESSION_SEGMENT: {
      if (!TOKEN.test(value)) return { bad: 'unknown session' };
      const p = q === -1 ? undefined : PKG.exec(url.slice(q));
      return { post: { kind: 'session', token: value, ...(p ? { pkg: Number(p[1]) } : {}) } };
    }
    case REPORT_SEGMENT:
      return CORRELATOR.test(value) ? { post: { kind: 'report', correlator: value } } : { bad: 'unknown report' };
    case DATA_SEGMENT:
      return DATA_TOKEN.test(value) ? { data: value } : { bad: 'unknown or expired link' };
    case UPLOAD_SEGMENT:
      return DATA_TOKEN.test(value) ? { upload: value } : { bad: 'unknown or expired link' };
    default:
      return { bad: 'unknown DM 2.0 path' };
  }
}
