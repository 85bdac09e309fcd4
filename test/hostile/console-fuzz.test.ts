/**
 * Hostile input against the web console and the queue dashboard: generated
 * requests (any method, known and mangled paths, broken percent-encoding,
 * garbage or stolen-looking cookies, form bodies that are too large, not
 * form-encoded or not UTF-8, forged CSRF tokens, Basic headers of every
 * shape), half of them with a real signed-in session. Every one must get an
 * answer below 500 with no stack trace, the gateway must log no error, and
 * no job, task or webhook may change without the session's CSRF token.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleClient } from '../support/console-client.js';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { captureLogs, errMessage, inPool, type LogCapture, preview, type RawRequest, rawClient, STACK_TRACE, scaled, seedFrom } from './hostile-kit.js';

let gw: TestGateway;
let logs: LogCapture;
let sessionCookie: string;
let jobId: string;
let webhookId: string;
const DEVICE = imeiN(777);

beforeAll(async () => {
  logs = captureLogs();
  gw = await startTestGateway({ gateway: { logger: logs.logger } });
  const ctx = { caller: 'test', operation: 'setup' };
  await gw.deviceManager.createDeviceCapability(ctx, { ...CAPABILITY, dmVersion: '1.2' });
  await gw.deviceManager.createDeviceInstance(ctx, { deviceId: DEVICE, phoneNumber: phoneN(777), capabilityOid: CAPABILITY.oid, notificationUrl: 'http://127.0.0.1:9/push' });
  jobId = await gw.bulk.createDeployments(ctx, { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] }, [DEVICE], {
    startAt: new Date(Date.now() + 3600_000),
  });
  // Delivering to a closed port fails (logged below error level); the fuzz must not delete the webhook.
  webhookId = await gw.webhooks.create(ctx, { url: 'http://127.0.0.1:9/hook', secret: 'fuzz-webhook-secret-0123', events: ['*'] });
  const admin = new ConsoleClient(gw.url);
  expect((await admin.signIn(ADMIN.username, ADMIN.password)).status).toBe(303);
  sessionCookie = `dmwsi_console=${admin.cookies.get('dmwsi_console')}`;
});
afterAll(() => gw?.stop());

const ROUTES = [
  '/console',
  '/console/login',
  '/console/logout',
  '/console/devices',
  '/console/devices/{id}',
  '/console/devices/{id}/operations',
  '/console/tasks/{id}',
  '/console/tasks/{id}/cancel',
  '/console/jobs',
  '/console/jobs/{job}',
  '/console/jobs/{job}/pause',
  '/console/jobs/{job}/restart',
  '/console/jobs/{job}/cancel',
  '/console/webhooks',
  '/console/webhooks/{hook}/delete',
  '/console/assets/console.css',
  '/admin/queues/',
  '/admin/queues/api/queues',
  '/admin/queues/api/queues/tasks/pause',
  '/admin/queues/api/queues/tasks/clean/failed',
];

const segment = fc.oneof(
  fc.constantFrom(encodeURIComponent(DEVICE), '%ZZ', '%', '..%2F..%2Fetc', '%00', 'IMEI%3A1', '%E0%80%80', 'a'.repeat(3000), '%3Csvg%20onload%3Dx%3E', '%C3%A9', '%FF%FE'),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
);
/** The webhooks page's filter and pager, mangled. */
const WEBHOOK_QUERIES = ['state=FAILED', 'state=<b>', 'state[]=PENDING', 'offset=-1', 'offset=99999999999', 'offset=1e3', 'offset=50&state=DELIVERED', 'webhook=%ZZ', 'webhook[x]=1'];
const query = fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom(...WEBHOOK_QUERIES));
const path = fc
  .tuple(fc.constantFrom(...ROUTES), segment, segment, fc.option(query, { nil: undefined }), fc.boolean())
  .map(
    ([route, id, job, q, realHook]) =>
      // webhookId is read when a request is generated (in the test, after beforeAll).
      route.replace('{id}', id).replace('{job}', job).replace('{hook}', realHook ? webhookId : id) + (q === undefined ? '' : `?${encodeURI(q.replace(/[#\s]/g, ''))}`),
  );
const formField = fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('QUERY', 'UPDATE', './DevInfo/Mod', '../x', 'x'.repeat(5000), '%', '=&=&'));
const body = fc.oneof(
  fc.dictionary(fc.constantFrom('csrf', 'name', 'uri', 'value', 'back', 'next', 'username', 'password', 'x'), formField).map((d) => Buffer.from(new URLSearchParams(d).toString())),
  fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
  fc.constant(Buffer.from('a=%ZZ&csrf=%E0%80')),
  fc.constant(Buffer.alloc(40_000, 'a=b&')),
  fc.constant(Buffer.from('{"csrf": "x"}')),
);
const cookie = fc.oneof(
  fc.constant(undefined),
  fc.constant('session'),
  fc.constantFrom('dmwsi_console=', 'dmwsi_console=%ZZ', `dmwsi_console=${'A'.repeat(43)}`, 'dmwsi_console_signin=x; dmwsi_console=y', `x=${'y'.repeat(9000)}`, ';;;=;'),
);
const auth = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('Basic', 'Basic !!!', `Basic ${Buffer.from('admin').toString('base64')}`, `Basic ${Buffer.from(`${ADMIN.username}:wrong`).toString('base64')}`, `Basic ${'A'.repeat(2000)}`, 'Bearer x'),
);
const request = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'),
    path,
    body,
    cookie,
    auth,
    contentType: fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=latin1', 'application/json', 'text/plain', 'multipart/form-data; boundary=x', ''),
    origin: fc.constantFrom(undefined, 'http://evil.example'),
  })
  .map((r): RawRequest => {
    const headers: Record<string, string> = {};
    if (r.contentType) headers['content-type'] = r.contentType;
    if (r.cookie) headers.cookie = r.cookie === 'session' ? sessionCookie : r.cookie;
    if (r.auth) headers.authorization = r.auth;
    if (r.origin) headers.origin = r.origin;
    return { method: r.method, path: r.path, headers, body: r.method === 'GET' || r.method === 'HEAD' ? Buffer.alloc(0) : r.body };
  });

describe('console under hostile input', () => {
  it('answers every generated request below 500, without a stack, and changes nothing without the CSRF token', async () => {
    const requests = fc.sample(request, { numRuns: scaled(1500), seed: seedFrom(20261206) });
    // Too rare to leave to chance: each mangled webhooks query and a delete without the token, signed in as an admin.
    const session = { cookie: sessionCookie, 'content-type': 'application/x-www-form-urlencoded' };
    for (const q of WEBHOOK_QUERIES) requests.push({ method: 'GET', path: `/console/webhooks?${encodeURI(q)}`, headers: session, body: Buffer.alloc(0) });
    requests.push({ method: 'POST', path: `/console/webhooks/${webhookId}/delete`, headers: session, body: Buffer.from('csrf=forged') });
    const client = rawClient(gw.url, { maxSockets: 16 });
    const bad: string[] = [];
    try {
      await inPool(requests, 16, async (req) => {
        const a = await client.send(req);
        const text = a.body.toString('utf8');
        if (a.status >= 500 || STACK_TRACE.test(text)) bad.push(`${req.method} ${req.path.slice(0, 120)} -> ${a.status} ${preview(a.body, 200)}`);
      });
    } finally {
      client.close();
    }
    expect(bad).toEqual([]);
    expect(logs.errors.map((l) => `${l.msg}: ${errMessage(l)}`)).toEqual([]);
    // No generated form carries the session's CSRF token, so the job and the device are as they were.
    expect((await gw.bulk.getJobById(jobId)).status).toBe('CREATED');
    expect((await gw.deviceManager.getDeviceTasks(DEVICE, { offset: 0, limit: 10 })).filter((t) => !t.jobId)).toEqual([]);
    expect((await gw.webhooks.list()).map((w) => w.webhookId)).toEqual([webhookId]);
    const r = await fetch(`${gw.url}/healthz`);
    expect(r.status).toBe(200);
  }, 120_000);
});
