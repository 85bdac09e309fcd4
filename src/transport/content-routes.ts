/**
 * Package HTTP: `PUT /content/:contentId` (an upload, `Authorization: Bearer
 * <userSession>`, role admin or bulk) and `GET /dl/:token` (device downloads
 * through a signed, expiring, per-task link, with Range). Neither goes
 * through a body parser: an upload is streamed to disk, a download streamed
 * from it (`send`, what express.static uses: Range, If-Range, conditional
 * GET), so neither holds a package in memory.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import express, { type Router } from 'express';
import type { Logger } from 'pino';
import send from 'send';
import { DmwsiError } from '../domain/errors.js';
import { roleAllows } from '../domain/roles.js';
import type { DownloadCounters } from '../observability/metrics.js';
import type { DownloadGrant } from '../security/download-links.js';
import type { ContentService, Downloadable } from '../services/content/content-service.js';
import type { CallerAuthService } from '../services/caller-auth.js';
import type { Clock } from '../services/ports.js';

export interface ContentRoutesDeps {
  content: ContentService;
  auth: Pick<CallerAuthService, 'resolveSession'>;
  links: { verify(token: string, now: number): DownloadGrant | undefined };
  clock: Clock;
  logger: Logger;
  downloads: DownloadCounters;
  uploads: (outcome: string) => void;
}

const STATUS_OF: Partial<Record<string, number>> = {
  AuthenticationFailed: 401,
  NotAuthorized: 403,
  NotFound: 404,
  InvalidState: 409,
  InvalidArgument: 400,
};

/** Serves the request and returns true when it is a download (GET or HEAD /dl/<token>); false: not ours, untouched. */
export type DownloadHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

const DOWNLOAD_PATH = /^\/dl\/([^/?#]+)(?:\?.*)?$/;

/**
 * Downloads on plain node:http, ahead of express (the gateway calls it first,
 * like the DM fast path): express re-prototypes every request and response,
 * and a download writes its response in hundreds of chunks.
 */
export function downloadHandler(deps: ContentRoutesDeps): DownloadHandler {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const m = DOWNLOAD_PATH.exec(req.url ?? '');
    if (!m) return false;
    void download(deps, m[1]!, req, res);
    return true;
  };
}

/** Uploads (PUT /content/:contentId), and downloads too for a caller that does not use the fast path. */
export function contentRoutes(deps: ContentRoutesDeps): Router & { serveDownload: DownloadHandler } {
  const router = express.Router();
  router.put('/content/:contentId', (req, res) => void upload(deps, req, res));
  router.get('/dl/:token', (req, res) => void download(deps, req.params.token as string, req, res));
  return Object.assign(router, { serveDownload: downloadHandler(deps) });
}

function answer(res: ServerResponse, status: number, body: Record<string, unknown>, close = false): void {
  if (res.headersSent) return;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (status === 401) headers['www-authenticate'] = 'Bearer';
  // A body not read to its end is not worth reading: the connection closes after the answer.
  if (close) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
}

async function upload(deps: ContentRoutesDeps, req: express.Request, res: express.Response): Promise<void> {
  const contentId = req.params.contentId as string;
  const refuse = (status: number, error: string, outcome = 'refused') => {
    deps.uploads(outcome);
    answer(res, status, { error }, !req.complete);
  };
  try {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer) return refuse(401, 'Authorization: Bearer <userSession> required');
    const caller = await deps.auth.resolveSession(bearer);
    if (!roleAllows(caller.role, 'content-write')) return refuse(403, 'role may not upload content');
    const length = req.headers['content-length'];
    const outcome = await deps.content.upload(
      { caller: caller.username, operation: 'uploadContent' },
      contentId,
      req,
      length === undefined ? undefined : Number(length),
    );
    deps.uploads(outcome.kind);
    if (outcome.kind === 'stored') {
      const c = outcome.content;
      return answer(res, 201, { contentId: c.contentId, state: c.state, size: c.size, sha256: c.sha256 });
    }
    if (outcome.kind === 'too-large') return refuse(413, `package larger than CONTENT_MAX_BYTES (${outcome.limit})`, outcome.kind);
    return refuse(422, `package does not match its record: ${outcome.detail}`, outcome.kind);
  } catch (err) {
    if (err instanceof DmwsiError && STATUS_OF[err.code]) return refuse(STATUS_OF[err.code]!, err.message);
    if (req.destroyed || !req.complete) {
      // The uploader went away mid-body: nothing was kept.
      deps.logger.info({ contentId, err: (err as Error).message }, 'content upload cut off');
      deps.uploads('aborted');
      return answer(res, 400, { error: 'upload cut off' }, true);
    }
    deps.logger.error({ err, contentId }, 'content upload failed');
    deps.uploads('error');
    answer(res, 500, { error: 'internal error' }, true);
  }
}

const FORBIDDEN = 'forbidden\n';
/**
 * Bytes per disk read of a download (Node's default is 64 KiB). Every read and
 * socket write is an async resource, and this process has async hooks on
 * (AsyncLocalStorage): fewer, larger ones cost less CPU per byte. In
 * `npm run bench:content` the gateway/bare ratio went from 0.63–0.77 with
 * 64 KiB to 0.90–0.93 with 128 or 256 KiB; 128 KiB holds less per download.
 */
const READ_CHUNK_BYTES = 128 * 1024;

async function download(deps: ContentRoutesDeps, token: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const forbid = () => {
    deps.downloads.refused.inc();
    res.writeHead(403, { 'content-type': 'text/plain', 'content-length': String(FORBIDDEN.length) });
    res.end(FORBIDDEN);
  };
  const grant = deps.links.verify(token, deps.clock.now());
  if (!grant) return forbid();
  let target: Downloadable | undefined;
  try {
    target = await deps.content.downloadable(grant.taskId, grant.contentId);
  } catch (err) {
    deps.logger.error({ err }, 'download lookup failed');
    res.writeHead(503, { 'retry-after': '5' });
    return void res.end();
  }
  if (!target) return forbid();
  deps.downloads.started.inc();
  // Set ahead of send, which then uses them for If-None-Match / If-Range and leaves them as they are.
  res.setHeader('ETag', `"${target.content.sha256}"`);
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Cache-Control', 'private, no-transform');
  let bytesRead = () => 0;
  send(req, path.basename(target.path), {
    root: path.dirname(target.path),
    etag: false,
    lastModified: false,
    cacheControl: false,
    index: false,
    dotfiles: 'deny',
    highWaterMark: READ_CHUNK_BYTES,
  } as send.SendOptions)
    .on('stream', (stream: { bytesRead: number }) => {
      bytesRead = () => stream.bytesRead;
    })
    .on('error', (err: { status?: number; headers?: Record<string, string> }) => {
      const status = err.status ?? 500;
      // 416 (with Content-Range: bytes */size) and 412 are answers; 404 means READY but no file
      // (CONTENT_DIR not shared with the process that took the upload, or lost).
      if (status === 404 || status >= 500) deps.logger.error({ err, contentId: grant.contentId }, 'package file unreadable');
      if (!res.headersSent) {
        res.removeHeader('ETag');
        res.writeHead(status, { 'content-type': 'text/plain', ...err.headers });
      }
      res.end();
    })
    .pipe(res);
  finishCounting(req, res, deps.downloads, () => bytesRead());
}

/** Downloads in flight per gateway (its counters), and their peak: a sampled gauge would miss the peaks a rollout's cap is checked against. */
const inFlight = new WeakMap<DownloadCounters, { now: number; peak: number }>();

function finishCounting(_req: IncomingMessage, res: ServerResponse, c: DownloadCounters, bytesRead: () => number): void {
  const live = inFlight.get(c) ?? { now: 0, peak: 0 };
  inFlight.set(c, live);
  live.now++;
  c.inFlight.set(live.now);
  if (live.now > live.peak) {
    live.peak = live.now;
    c.inFlightPeak.set(live.peak);
  }
  res.once('close', () => {
    live.now--;
    c.inFlight.set(live.now);
    c.bytes.inc(bytesRead());
    if (res.writableFinished && res.statusCode < 300) c.completed.inc();
  });
}
