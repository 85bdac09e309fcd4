/**
 * The queue dashboard at /admin/queues: bull-board over the gateway's BullMQ
 * queues, for the admin role only. A request is let through with a console
 * session of an admin, or HTTP Basic credentials of an admin user (checked
 * like SOAP's PasswordText); otherwise 401, or 403 for another role. Its UI
 * bundle is served from node_modules, with no network at run time.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { DmwsiError } from '../domain/errors.js';
import type { Caller } from '../domain/roles.js';
import type { CallerAuthService } from '../services/caller-auth.js';
import { problem, problemOf } from './errors.js';
import { problemPage } from './pages/layout.js';
import { consoleCaller } from './session.js';

export const QUEUES_PATH = '/admin/queues';

export interface QueueDashboardDeps {
  auth: CallerAuthService;
  queues: Queue[];
  logger: Logger;
}

/** user:password from an Authorization: Basic header, or undefined. */
export function basicCredentials(req: Request): { username: string; password: string } | undefined {
  const header = req.headers.authorization;
  if (!header || header.length > 1024) return undefined;
  const m = /^Basic ([A-Za-z0-9+/=]{1,1000})$/i.exec(header.trim());
  if (!m) return undefined;
  const text = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 1) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

async function callerOf(auth: CallerAuthService, req: Request): Promise<Caller | undefined> {
  const basic = basicCredentials(req);
  if (basic) return auth.verifyPassword(basic.username, basic.password);
  return (await consoleCaller(auth, req))?.caller;
}

/**
 * State-changing dashboard calls must come from the dashboard's own page: a browser
 * resends Basic credentials to any site's request, so another origin is refused.
 */
function crossSite(req: Request): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin') return true;
  const origin = req.headers.origin;
  return typeof origin === 'string' && origin !== `${req.protocol}://${req.headers.host ?? ''}`;
}

/** bull-board's page asks Google for its fonts: no request leaves for another site (system fonts are used). */
const REMOTE_FONTS = /<link[^>]*fonts\.googleapis\.com[^>]*>/g;
const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'";

function offlinePage(_req: Request, res: Response, next: () => void): void {
  res.set({ 'Content-Security-Policy': DASHBOARD_CSP, 'X-Frame-Options': 'DENY', 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'same-origin' });
  const send = res.send.bind(res);
  res.send = (body?: unknown) => send(typeof body === 'string' && body.includes('<base href=') ? body.replace(REMOTE_FONTS, '') : body);
  next();
}

export function queueDashboard(deps: QueueDashboardDeps): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(QUEUES_PATH);
  createBullBoard({
    queues: deps.queues.map((q) => new BullMQAdapter(q, { allowRetries: true })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'DM WSI queues' } },
  });
  // bull-board's own handler would send an error's message; the caller gets a plain line, the log the rest.
  serverAdapter.setErrorHandler((err: Error) => {
    // A body the JSON parser refused (malformed, too large, wrong charset) is the caller's error.
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // (bull-board's adapter answers only these statuses: a too-large body is a 400 too.)
      deps.logger.info({ status, reason: err.message }, 'queue dashboard call refused');
      return { status: 400 as const, body: { error: status === 413 ? 'the request body is too large' : 'the request body could not be read' } };
    }
    deps.logger.error({ err }, 'queue dashboard call failed');
    return { status: 500 as const, body: { error: 'internal error; the gateway logged the details' } };
  });

  const router = express.Router();
  const deny = (res: Response, status: number, message: string, code: 'AuthenticationFailed' | 'NotAuthorized') => {
    if (status === 401) res.set('WWW-Authenticate', 'Basic realm="dmwsi queues", charset="UTF-8"');
    res.set('Cache-Control', 'no-store');
    res.status(status).type('html').send(problemPage({ ...problem(code, message), status }, undefined));
  };
  router.use(QUEUES_PATH, async (req, res, next) => {
    try {
      const caller = await callerOf(deps.auth, req);
      if (!caller) return deny(res, 401, 'sign in to the console as an admin, or send an admin user with HTTP Basic', 'AuthenticationFailed');
      if (caller.role !== 'admin') {
        deps.logger.info({ user: caller.username, role: caller.role }, 'queue dashboard refused');
        return deny(res, 403, `role ${caller.role} may not open the queue dashboard (admin only)`, 'NotAuthorized');
      }
      if (crossSite(req)) return deny(res, 403, 'queue actions must come from the dashboard itself', 'NotAuthorized');
      next();
    } catch (err) {
      const p = problemOf(err);
      if (p.code === 'Internal') deps.logger.error({ err }, 'queue dashboard sign-in failed');
      if (err instanceof DmwsiError && err.code === 'AuthenticationFailed') return deny(res, 401, p.message, 'AuthenticationFailed');
      res.status(p.status).type('html').send(problemPage(p, undefined));
    }
  });
  router.use(QUEUES_PATH, offlinePage);
  router.use(QUEUES_PATH, serverAdapter.getRouter() as Router);
  return router;
}
