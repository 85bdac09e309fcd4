/**
 * The web console at /console: sign-in, device lookup and device pages,
 * single operations, task pages, jobs and job control, webhooks and their
 * deliveries (admin). It calls the same
 * domain services as the SOAP handlers and grants by the same roles
 * (src/domain/roles.ts); every refusal is a page with a status and one plain
 * sentence.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { DmwsiError } from '../domain/errors.js';
import { type Caller, type Permission, roleAllows } from '../domain/roles.js';
import { DELIVERY_STATES, type DeliveryState } from '../domain/webhooks.js';
import { isTaskStatus, TERMINAL_TASK_STATES, type TaskHistoryEntry } from '../domain/tasks.js';
import type { DeploymentBroker } from '../services/broker/deployment-broker.js';
import type { BulkOperations } from '../services/bulk/bulk-operations.js';
import type { CallerAuthService } from '../services/caller-auth.js';
import type { DeviceManagerService } from '../services/device-manager.js';
import type { WebhookService } from '../services/webhooks/webhook-service.js';
import type { AuditTrail, CallContext, Clock } from '../services/ports.js';
import { CONSOLE_CSS, CONSOLE_JS } from './assets.js';
import { stateSeries } from './charts.js';
import { type ConsoleProblem, problem, problemOf } from './errors.js';
import { operationFromForm } from './operation-form.js';
import { devicePage, lookupPage } from './pages/devices.js';
import { jobPage, jobsPage } from './pages/jobs.js';
import { problemPage, type Viewer } from './pages/layout.js';
import { signInPage } from './pages/sign-in.js';
import { taskPage } from './pages/tasks.js';
import { webhooksPage } from './pages/webhooks.js';
import { findDevice } from './device-lookup.js';
import {
  clearCookie,
  consoleCaller,
  csrfTokenFor,
  newToken,
  plausibleToken,
  readCookies,
  SESSION_COOKIE,
  SIGN_IN_COOKIE,
  safeNext,
  sameToken,
  setCookie,
} from './session.js';

export interface ConsoleDeps {
  auth: CallerAuthService;
  devices: DeviceManagerService;
  broker: DeploymentBroker;
  bulk: BulkOperations;
  webhooks: Pick<WebhookService, 'list' | 'delete' | 'deliveries' | 'deliveryCounts'>;
  audit: AuditTrail;
  clock: Clock;
  logger: Logger;
  /** Mark cookies Secure (the gateway serves HTTPS). */
  secureCookies: boolean;
  /** Lifetime of a sign-in, as of SOAP's login (USER_SESSION_TTL_SECONDS). */
  sessionTtlSeconds: number;
  /** The per-caller request budget SOAP calls draw on (SOAP_RATE_PER_CALLER): throws Overloaded beyond it. */
  rateLimit?: { take(caller: string): void };
}

/** A signed-in request: who, the session token, and the page's view of both. */
interface SignedIn extends Viewer {
  token: string;
}

const DEVICE_TASKS = 25;
const DEVICE_HISTORY_TASKS = 10;
const JOB_LIST = 50;
const JOB_TASKS = 50;
/** Tasks of a job whose history draws its chart (the first by place): bounded work per refresh. */
const CHART_TASKS = 100;
const SIGN_IN_FORM_SECONDS = 3600;
const DELIVERIES_PAGE = 50;
/** Paging deeper than this is what GET /webhooks/deliveries is for. */
const MAX_DELIVERY_OFFSET = 100_000;

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export function consoleRouter(deps: ConsoleDeps): Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });
  const cookie = { secure: deps.secureCookies, maxAgeSeconds: deps.sessionTtlSeconds };

  router.use('/console', (_req, res, next) => {
    res.set(SECURITY_HEADERS);
    next();
  });

  const send = (res: Response, status: number, body: string) => res.status(status).type('html').send(body);

  const refuse = (res: Response, p: ConsoleProblem, viewer: Viewer | undefined, req: Request, caller?: Caller) => {
    // (Internal failures are logged with their error where they are caught.)
    if (p.code !== 'Internal') deps.logger.info({ path: req.path, method: req.method, user: caller?.username, code: p.code, reason: p.message }, 'console refusal');
    send(res, p.status, problemPage(p, viewer));
  };

  /** Runs a page or action for a signed-in user holding `permission`; everything else is a refusal page. */
  const signedIn =
    (permission: Permission, work: (req: Request, res: Response, who: SignedIn) => Promise<void>, action?: string) =>
    async (req: Request, res: Response) => {
      let who: SignedIn | undefined;
      try {
        const found = await consoleCaller(deps.auth, req);
        if (!found) {
          if (req.method === 'GET') {
            res.redirect(303, `/console/login?next=${encodeURIComponent(req.originalUrl)}`);
            return;
          }
          return refuse(res, problem('AuthenticationFailed', 'you are not signed in (or your sign-in expired); sign in again'), undefined, req);
        }
        who = { ...found, csrf: csrfTokenFor(found.token) };
        deps.rateLimit?.take(who.caller.username);
        if (req.method === 'POST' && !sameToken((req.body as Record<string, unknown> | undefined)?.csrf, who.csrf)) {
          return refuse(res, problem('NotAuthorized', 'this form did not come from your console session; reload the page and try again'), who, req, who.caller);
        }
        if (!roleAllows(who.caller.role, permission)) {
          const p = problem('NotAuthorized', `role ${who.caller.role} may not ${describe(permission)}`);
          if (action) await audit(who.caller, action, req.path, p);
          return refuse(res, p, who, req, who.caller);
        }
        await work(req, res, who);
      } catch (err) {
        const p = problemOf(err);
        if (p.code === 'Internal') deps.logger.error({ err, path: req.path }, 'console request failed');
        if (action && who) await audit(who.caller, action, req.path, p);
        refuse(res, p, who, req, who?.caller);
      }
    };

  const audit = async (caller: Caller, operation: string, target: string, p: ConsoleProblem) => {
    try {
      await deps.audit.record({ caller: caller.username, operation, target, outcome: p.code, detail: p.message }, deps.clock.now());
    } catch (err) {
      deps.logger.error({ err, operation }, 'could not write the audit row of a refused console action');
    }
  };

  const ctxOf = (who: SignedIn, operation: string): CallContext => ({ caller: who.caller.username, operation });

  // --- assets ------------------------------------------------------------------
  router.get('/console/assets/console.css', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=3600').type('text/css').send(CONSOLE_CSS);
  });
  router.get('/console/assets/console.js', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=3600').type('text/javascript').send(CONSOLE_JS);
  });

  // --- sign-in -----------------------------------------------------------------
  const showSignIn = (res: Response, status: number, o: { next: string; username?: string; refusal?: string }) => {
    const token = newToken();
    setCookie(res, SIGN_IN_COOKIE, token, { secure: deps.secureCookies, maxAgeSeconds: SIGN_IN_FORM_SECONDS });
    send(res, status, signInPage({ token, ...o }));
  };

  router.get('/console', (_req, res) => res.redirect(303, '/console/devices'));

  router.get('/console/login', async (req, res) => {
    try {
      const next = safeNext(req.query.next);
      if (await consoleCaller(deps.auth, req)) return res.redirect(303, next);
      showSignIn(res, 200, { next });
    } catch (err) {
      deps.logger.error({ err, path: req.path }, 'console request failed');
      refuse(res, problemOf(err), undefined, req);
    }
  });

  router.post('/console/login', form, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = safeNext(body.next);
    const username = typeof body.username === 'string' ? body.username.trim().slice(0, 64) : '';
    const password = typeof body.password === 'string' ? body.password : '';
    const formToken = readCookies(req).get(SIGN_IN_COOKIE);
    if (!plausibleToken(formToken) || !sameToken(body.csrf, formToken)) {
      deps.logger.info({ path: req.path }, 'console sign-in without its form token');
      return showSignIn(res, 403, { next, username, refusal: 'the sign-in form expired or did not come from this console; try again' });
    }
    try {
      if (!username || !password) throw new DmwsiError('AuthenticationFailed', 'give a user name and a password');
      const token = await deps.auth.login(username, password);
      clearCookie(res, SIGN_IN_COOKIE, deps.secureCookies);
      setCookie(res, SESSION_COOKIE, token, cookie);
      deps.logger.info({ user: username }, 'console sign-in');
      res.redirect(303, next);
    } catch (err) {
      const p = problemOf(err);
      if (p.code === 'Internal') deps.logger.error({ err }, 'console sign-in failed');
      else deps.logger.info({ user: username, code: p.code }, 'console sign-in refused');
      // As a refused SOAP login is: no caller yet.
      await audit({ username: 'anonymous', role: 'readonly' }, 'login', 'console', p);
      showSignIn(res, p.status, { next, username, refusal: p.message });
    }
  });

  router.post(
    '/console/logout',
    form,
    signedIn('session', async (_req, res, who) => {
      await deps.auth.logout(who.token);
      clearCookie(res, SESSION_COOKIE, deps.secureCookies);
      res.redirect(303, '/console/login');
    }),
  );

  // --- devices -----------------------------------------------------------------
  router.get(
    '/console/devices',
    signedIn('read', async (req, res, who) => {
      const q = typeof req.query.q === 'string' ? req.query.q.trim().slice(0, 128) : '';
      if (!q) return void send(res, 200, lookupPage(who));
      const device = await findDevice(deps.devices, q);
      if (!device) throw new DmwsiError('NotFound', `no device has the IMEI, device ID or phone number "${q}"`);
      res.redirect(303, `/console/devices/${encodeURIComponent(device.deviceId)}`);
    }),
  );

  router.get(
    '/console/devices/:deviceId',
    signedIn('read', async (req, res, who) => {
      const device = await deps.devices.getDeviceInstanceByDeviceID(String(req.params.deviceId));
      const [capability, info, tasks] = await Promise.all([
        deps.devices.getDeviceCapabilityByOid(device.capabilityOid).catch(notFoundAs(undefined)),
        deps.devices.getDeviceInfo(device.deviceId),
        deps.devices.getDeviceTasks(device.deviceId, { offset: 0, limit: DEVICE_TASKS }).catch(notFoundAs([])),
      ]);
      const history = (
        await Promise.all(
          tasks.slice(0, DEVICE_HISTORY_TASKS).map(async (t) => (await deps.broker.getTaskHistory(t.taskId)).map((h) => ({ ...h, operation: t.operation.name }))),
        )
      ).flat();
      send(res, 200, devicePage(who, { device, capability, info, tasks, history, mayOperate: roleAllows(who.caller.role, 'device-operation') }));
    }),
  );

  router.post(
    '/console/devices/:deviceId/operations',
    form,
    signedIn(
      'device-operation',
      async (req, res, who) => {
        const device = await deps.devices.getDeviceInstanceByDeviceID(String(req.params.deviceId));
        const taskId = await deps.broker.doOperation(ctxOf(who, 'doOperation'), {
          operation: operationFromForm(req.body as Record<string, unknown>),
          phoneNumber: device.phoneNumber,
          bOptin: false,
          acceptDevicePolicy: 30,
          testCycle: false,
        });
        res.redirect(303, `/console/tasks/${encodeURIComponent(taskId)}`);
      },
      'doOperation',
    ),
  );

  // --- tasks -------------------------------------------------------------------
  router.get(
    '/console/tasks/:taskId',
    signedIn('read', async (req, res, who) => {
      const task = await deps.broker.getTask(String(req.params.taskId));
      const history = await deps.broker.getTaskHistory(task.taskId);
      send(res, 200, taskPage(who, task, history, roleAllows(who.caller.role, 'device-operation')));
    }),
  );

  router.post(
    '/console/tasks/:taskId/cancel',
    form,
    signedIn(
      'device-operation',
      async (req, res, who) => {
        const taskId = String(req.params.taskId);
        await deps.broker.cancelTask(ctxOf(who, 'cancelTask'), taskId);
        res.redirect(303, `/console/tasks/${encodeURIComponent(taskId)}`);
      },
      'cancelTask',
    ),
  );

  // --- jobs --------------------------------------------------------------------
  router.get(
    '/console/jobs',
    signedIn('read', async (req, res, who) => {
      const status = typeof req.query.status === 'string' && req.query.status !== '' ? req.query.status : undefined;
      const jobs = await deps.bulk.getJobs(status, { offset: 0, limit: JOB_LIST });
      send(res, 200, jobsPage(who, jobs, status, roleAllows(who.caller.role, 'bulk-operation')));
    }),
  );

  router.get(
    '/console/jobs/:jobId',
    signedIn('read', async (req, res, who) => {
      const job = await deps.bulk.getJobById(String(req.params.jobId));
      const [history, tasks, sample] = await Promise.all([
        deps.bulk.getJobHistory(job.jobId, { offset: 0, limit: 1000 }),
        deps.bulk.getTasks(job.jobId, undefined, { offset: 0, limit: JOB_TASKS }),
        deps.bulk.getTasks(job.jobId, undefined, { offset: 0, limit: CHART_TASKS }),
      ]);
      const histories: TaskHistoryEntry[][] = await Promise.all(sample.map((t) => deps.broker.getTaskHistory(t.taskId)));
      const allEnded = sample.every((t) => isTaskStatus(t.status) && TERMINAL_TASK_STATES.has(t.status));
      const lastMove = Math.max(0, ...histories.flat().map((h) => h.at.getTime()));
      const series = stateSeries(histories, allEnded ? lastMove : deps.clock.now());
      send(res, 200, jobPage(who, { job, history, series, sampled: sample.length, tasks, mayControl: roleAllows(who.caller.role, 'bulk-operation') }));
    }),
  );

  const JOB_ACTIONS = {
    pause: ['pauseJob', (ctx: CallContext, id: string) => deps.bulk.pauseJob(ctx, id)],
    restart: ['restartJob', (ctx: CallContext, id: string) => deps.bulk.restartJob(ctx, id)],
    cancel: ['cancelJob', (ctx: CallContext, id: string) => deps.bulk.cancelJob(ctx, id)],
  } as const;
  for (const [action, [operation, run]] of Object.entries(JOB_ACTIONS)) {
    router.post(
      `/console/jobs/:jobId/${action}`,
      form,
      signedIn(
        'bulk-operation',
        async (req, res, who) => {
          const jobId = String(req.params.jobId);
          await run(ctxOf(who, operation), jobId);
          res.redirect(303, safeNext((req.body as Record<string, unknown>).back, `/console/jobs/${encodeURIComponent(jobId)}`));
        },
        operation,
      ),
    );
  }

  // --- webhooks (admin) ------------------------------------------------------------
  router.get(
    '/console/webhooks',
    signedIn('webhooks', async (req, res, who) => {
      const text = (v: unknown, max: number) => (typeof v === 'string' && v !== '' ? v.slice(0, max) : undefined);
      const state = text(req.query.state, 32);
      if (state !== undefined && !(DELIVERY_STATES as readonly string[]).includes(state)) {
        throw new DmwsiError('InvalidArgument', `state must be one of ${DELIVERY_STATES.join(', ')}`);
      }
      const offsetText = text(req.query.offset, 16) ?? '0';
      const offset = /^\d{1,9}$/.test(offsetText) ? Number(offsetText) : Number.NaN;
      if (!(offset <= MAX_DELIVERY_OFFSET)) throw new DmwsiError('InvalidArgument', `offset must be a whole number up to ${MAX_DELIVERY_OFFSET}`);
      const webhookId = text(req.query.webhook, 64);
      const filter = { ...(state ? { state: state as DeliveryState } : {}), ...(webhookId ? { webhookId } : {}), offset };
      const [webhooks, countRows, page] = await Promise.all([
        deps.webhooks.list(),
        deps.webhooks.deliveryCounts(),
        // One more than a page: whether there is an older page.
        deps.webhooks.deliveries(filter, { offset, limit: DELIVERIES_PAGE + 1 }),
      ]);
      const counts = new Map<string, Partial<Record<DeliveryState, number>>>();
      for (const c of countRows) counts.set(c.webhookId, { ...counts.get(c.webhookId), [c.state]: c.count });
      send(
        res,
        200,
        webhooksPage(who, { webhooks, counts, deliveries: page.slice(0, DELIVERIES_PAGE), filter, pageSize: DELIVERIES_PAGE, more: page.length > DELIVERIES_PAGE }),
      );
    }),
  );

  router.post(
    '/console/webhooks/:webhookId/delete',
    form,
    signedIn(
      'webhooks',
      async (req, res, who) => {
        await deps.webhooks.delete(ctxOf(who, 'deleteWebhook'), String(req.params.webhookId));
        res.redirect(303, '/console/webhooks');
      },
      'deleteWebhook',
    ),
  );

  router.use('/console', (req, res) => {
    refuse(res, problem('NotFound', `the console has no page ${req.path.slice(0, 100)}`), undefined, req);
  });
  // A body too large or malformed on a console form: a page, not express's default.
  router.use('/console', (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const status = (err as { status?: number }).status;
    refuse(res, status === 413 ? problem('InvalidArgument', 'the form is too large') : problem('InvalidArgument', 'the form could not be read'), undefined, req);
  });
  return router;
}

function describe(p: Permission): string {
  switch (p) {
    case 'device-operation':
      return 'start or cancel operations on a device';
    case 'bulk-operation':
      return 'pause, restart or cancel jobs';
    case 'registry-write':
      return 'change the device registry';
    case 'content-write':
      return 'change content';
    case 'webhooks':
      return 'see or change webhooks';
    default:
      return 'do this';
  }
}

const notFoundAs =
  <T>(value: T) =>
  (err: unknown): T => {
    if (err instanceof DmwsiError && err.code === 'NotFound') return value;
    throw err;
  };
