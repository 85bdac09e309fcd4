/**
 * The web console and the queue dashboard over real HTTP, no browser: who is
 * let in, what each role may do, and what a refusal looks like (status, one
 * plain sentence, never a stack).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleClient } from '../support/console-client.js';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';

let gw: TestGateway;
const PASSWORD = 'console-password-1';
const DEVICE = imeiN(4242);
const PHONE = phoneN(4242);
let jobId: string;

beforeAll(async () => {
  gw = await startTestGateway();
  for (const role of ['care', 'bulk', 'readonly'] as const) await gw.auth.createUser(`${role}-user`, PASSWORD, role);
  const ctx = { caller: 'test', operation: 'setup' };
  await gw.deviceManager.createDeviceCapability(ctx, { ...CAPABILITY, dmVersion: '1.2' });
  await gw.deviceManager.createDeviceInstance(ctx, {
    deviceId: DEVICE,
    phoneNumber: PHONE,
    capabilityOid: CAPABILITY.oid,
    notificationUrl: 'http://127.0.0.1:9/push',
  });
  // Starts in an hour: the job stays CREATED, so it can be paused and cancelled.
  jobId = await gw.bulk.createDeployments(ctx, { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] }, [DEVICE], {
    startAt: new Date(Date.now() + 3600_000),
  });
});
afterAll(() => gw?.stop());

async function signedIn(username: string, password = PASSWORD): Promise<ConsoleClient> {
  const c = new ConsoleClient(gw.url);
  const r = await c.signIn(username, password);
  expect(r.status).toBe(303);
  return c;
}

function expectPlainRefusal(text: string, message: RegExp) {
  expect(text).toMatch(message);
  expect(text).not.toMatch(/\n\s+at |Error:|node_modules|\.ts:\d+/);
}

describe('console sign-in', () => {
  it('sends a visitor without a session to the sign-in page, keeping where they were going', async () => {
    const r = await new ConsoleClient(gw.url).get('/console/jobs');
    expect(r.status).toBe(303);
    expect(r.location).toBe('/console/login?next=%2Fconsole%2Fjobs');
  });

  it('answers a wrong password with 401, the one refusal sentence and no session cookie', async () => {
    const c = new ConsoleClient(gw.url);
    const r = await c.signIn(ADMIN.username, 'not-the-password');
    expect(r.status).toBe(401);
    expectPlainRefusal(r.text, /user name or password not accepted/);
    expect(c.cookies.has('dmwsi_console')).toBe(false);
    const unknown = await c.signIn('nobody-here', 'whatever-password');
    expect(unknown.status).toBe(401);
    expectPlainRefusal(unknown.text, /user name or password not accepted/);
    const rows = await gw.dataSource.query("SELECT caller, outcome, target FROM audit_log WHERE operation = 'login'");
    expect(rows).toEqual([
      { caller: 'anonymous', outcome: 'AuthenticationFailed', target: 'console' },
      { caller: 'anonymous', outcome: 'AuthenticationFailed', target: 'console' },
    ]);
  });

  it('refuses a sign-in form that did not come from the console (no form token)', async () => {
    const c = new ConsoleClient(gw.url);
    const r = await c.post('/console/login', { username: ADMIN.username, password: ADMIN.password, csrf: 'x'.repeat(43) });
    expect(r.status).toBe(403);
    expect(c.cookies.has('dmwsi_console')).toBe(false);
  });

  it('signs in with an HttpOnly, SameSite=Strict cookie and signs out for good', async () => {
    const c = new ConsoleClient(gw.url);
    const form = await c.get('/console/login');
    const r = await c.request('POST', '/console/login', {
      form: { csrf: ConsoleClient.csrfOf(form.text), next: '/console/jobs', username: ADMIN.username, password: ADMIN.password },
    });
    expect(r.status).toBe(303);
    expect(r.location).toBe('/console/jobs');
    const setCookie = r.headers.getSetCookie().find((h) => h.startsWith('dmwsi_console='));
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const token = c.cookies.get('dmwsi_console') as string;
    const jobs = await c.get('/console/jobs');
    expect(jobs.status).toBe(200);
    expect(jobs.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const out = await c.post('/console/logout', { csrf: ConsoleClient.csrfOf(jobs.text) });
    expect(out.status).toBe(303);
    // The old cookie, replayed, no longer opens anything.
    const replay = new ConsoleClient(gw.url);
    replay.cookies.set('dmwsi_console', token);
    expect((await replay.get('/console/jobs')).status).toBe(303);
  });

  it('does not redirect a sign-in to another site', async () => {
    const c = new ConsoleClient(gw.url);
    const form = await c.get('/console/login');
    const r = await c.post('/console/login', { csrf: ConsoleClient.csrfOf(form.text), next: '//evil.example/x', username: ADMIN.username, password: ADMIN.password });
    expect(r.location).toBe('/console/devices');
  });
});

describe('console lookups', () => {
  it('finds a device by IMEI digits, by device ID and by phone number', async () => {
    const c = await signedIn('readonly-user');
    const path = `/console/devices/${encodeURIComponent(DEVICE)}`;
    for (const q of [DEVICE.slice(5), DEVICE, PHONE]) {
      const r = await c.get(`/console/devices?q=${encodeURIComponent(q)}`);
      expect(r.status).toBe(303);
      expect(r.location).toBe(path);
    }
    const page = await c.get(path);
    expect(page.status).toBe(200);
    expect(page.text).toContain(PHONE);
    expect(page.text).toContain('Acme X1');
    // readonly may look, not operate: no operation form.
    expect(page.text).not.toContain('Start an operation');
  });

  it('answers an unknown device, task, job or page with 404 and a plain message', async () => {
    const c = await signedIn('care-user');
    const lookup = await c.get('/console/devices?q=%2B15559999999');
    expect(lookup.status).toBe(404);
    expectPlainRefusal(lookup.text, /no device has the IMEI, device ID or phone number &quot;\+15559999999&quot;/);
    const device = await c.get(`/console/devices/${encodeURIComponent(imeiN(1))}`);
    expect(device.status).toBe(404);
    expectPlainRefusal(device.text, /does not exist/);
    expect((await c.get('/console/devices/not-an-id')).status).toBe(404);
    const job = await c.get('/console/jobs/no-such-job');
    expect(job.status).toBe(404);
    expectPlainRefusal(job.text, /job &quot;no-such-job&quot; does not exist/);
    expect((await c.get('/console/tasks/no-such-task')).status).toBe(404);
    expect((await c.get('/console/nowhere')).status).toBe(404);
  });

  it('escapes what it shows: a query with markup comes back as text', async () => {
    const c = await signedIn('readonly-user');
    const r = await c.get(`/console/devices?q=${encodeURIComponent('<script>alert(1)</script>')}`);
    expect(r.status).toBe(404);
    expect(r.text).not.toContain('<script>alert(1)</script>');
    expect(r.text).toContain('&lt;script&gt;');
  });
});

describe('console actions by role', () => {
  it('refuses a role without the permission with 403, and changes nothing', async () => {
    const readonly = await signedIn('readonly-user');
    const csrf = await readonly.csrf();
    const op = await readonly.post(`/console/devices/${encodeURIComponent(DEVICE)}/operations`, { csrf, name: 'QUERY', uri: './DevInfo/Mod' });
    expect(op.status).toBe(403);
    expectPlainRefusal(op.text, /role readonly may not start or cancel operations on a device/);
    const care = await signedIn('care-user');
    const pause = await care.post(`/console/jobs/${jobId}/pause`, { csrf: await care.csrf() });
    expect(pause.status).toBe(403);
    expectPlainRefusal(pause.text, /role care may not pause, restart or cancel jobs/);
    expect((await gw.bulk.getJobById(jobId)).status).toBe('CREATED');
    expect((await gw.deviceManager.getDeviceTasks(DEVICE, { offset: 0, limit: 10 })).filter((t) => !t.jobId)).toEqual([]);
    // Refusals are in the audit trail, as SOAP's are.
    const rows = await gw.dataSource.query("SELECT caller, operation, outcome FROM audit_log WHERE outcome = 'NotAuthorized' ORDER BY id");
    expect(rows).toEqual([
      { caller: 'readonly-user', operation: 'doOperation', outcome: 'NotAuthorized' },
      { caller: 'care-user', operation: 'pauseJob', outcome: 'NotAuthorized' },
    ]);
  });

  it('refuses a form without the session CSRF token (403), and any action without a session (401)', async () => {
    const bulk = await signedIn('bulk-user');
    expect((await bulk.post(`/console/jobs/${jobId}/pause`, {})).status).toBe(403);
    expect((await bulk.post(`/console/jobs/${jobId}/pause`, { csrf: 'A'.repeat(43) })).status).toBe(403);
    // Another user's token is not this session's.
    const other = await signedIn('bulk-user');
    expect((await bulk.post(`/console/jobs/${jobId}/pause`, { csrf: await other.csrf() })).status).toBe(403);
    const anonymous = await new ConsoleClient(gw.url).post(`/console/jobs/${jobId}/pause`, { csrf: await bulk.csrf() });
    expect(anonymous.status).toBe(401);
    expect((await gw.bulk.getJobById(jobId)).status).toBe('CREATED');
  });

  it('lets a care user start a single operation, and a bulk user pause, restart and cancel a job', async () => {
    const care = await signedIn('care-user');
    const op = await care.post(`/console/devices/${encodeURIComponent(DEVICE)}/operations`, { csrf: await care.csrf(), name: 'QUERY', uri: './DevInfo/Mod' });
    expect(op.status).toBe(303);
    const taskId = decodeURIComponent((op.location ?? '').replace('/console/tasks/', ''));
    const task = await gw.broker.getTask(taskId);
    expect(task).toMatchObject({ deviceId: DEVICE, createdBy: 'care-user', operation: { name: 'QUERY' } });
    const taskPage = await care.get(`/console/tasks/${taskId}`);
    expect(taskPage.text).toContain('data-refresh-ms');
    // The device cannot be woken (nothing listens at its notification URL): the care user cancels the task.
    const cancel = await care.post(`/console/tasks/${taskId}/cancel`, { csrf: await care.csrf() });
    expect(cancel.status).toBe(303);
    expect((await gw.broker.getTask(taskId)).status).toBe('CANCELLED');
    const ended = await care.get(`/console/tasks/${taskId}`);
    expect(ended.text).toContain('data-status="CANCELLED"');
    expect(ended.text).not.toContain('data-refresh-ms');
    const bad = await care.post(`/console/devices/${encodeURIComponent(DEVICE)}/operations`, { csrf: await care.csrf(), name: 'QUERY', uri: 'no-dot' });
    expect(bad.status).toBe(400);

    const bulk = await signedIn('bulk-user');
    const csrf = await bulk.csrf();
    for (const [action, status] of [
      ['pause', 'PAUSED'],
      ['restart', 'CREATED'], // paused before its startAt: back to waiting for it
      ['pause', 'PAUSED'],
      ['cancel', 'CANCELLED'],
    ] as const) {
      const r = await bulk.post(`/console/jobs/${jobId}/${action}`, { csrf, back: '/console/jobs' });
      expect(r.status).toBe(303);
      expect(r.location).toBe('/console/jobs');
      expect((await gw.bulk.getJobById(jobId)).status).toBe(status);
    }
    const again = await bulk.post(`/console/jobs/${jobId}/cancel`, { csrf });
    expect(again.status).toBe(409);
    expectPlainRefusal(again.text, /already CANCELLED/);
    const audited = await gw.dataSource.query("SELECT caller, operation, outcome FROM audit_log WHERE caller IN ('care-user', 'bulk-user') AND outcome <> 'NotAuthorized' ORDER BY id");
    expect(audited.map((r: { operation: string; outcome: string }) => `${r.operation} ${r.outcome}`)).toEqual([
      'doOperation ok',
      'cancelTask ok',
      'doOperation InvalidArgument',
      'pauseJob ok',
      'restartJob ok',
      'pauseJob ok',
      'cancelJob ok',
      'cancelJob InvalidState',
    ]);
    const page = await bulk.get(`/console/jobs/${jobId}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('task states over time');
    expect(page.text).toMatch(/cancelled/);
  });
});

describe('queue dashboard', () => {
  const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });

  it('asks for credentials (401) without any, and refuses wrong ones', async () => {
    const none = await new ConsoleClient(gw.url).get('/admin/queues/');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic /);
    const wrong = await new ConsoleClient(gw.url).get('/admin/queues/', basic(ADMIN.username, 'wrong-password'));
    expect(wrong.status).toBe(401);
    expectPlainRefusal(wrong.text, /user name or password not accepted/);
  });

  it('refuses every role but admin (403), by Basic or by console session', async () => {
    expect((await new ConsoleClient(gw.url).get('/admin/queues/', basic('bulk-user', PASSWORD))).status).toBe(403);
    const care = await signedIn('care-user');
    const r = await care.get('/admin/queues/api/queues');
    expect(r.status).toBe(403);
    expectPlainRefusal(r.text, /admin only/);
  });

  it('serves bull-board over the gateway queue to an admin, with its UI from node_modules', async () => {
    const byBasic = await new ConsoleClient(gw.url).get('/admin/queues/', basic(ADMIN.username, ADMIN.password));
    expect(byBasic.status).toBe(200);
    expect(byBasic.text).toContain('DM WSI queues');
    // Nothing on the page is fetched from another site (bull-board's Google Fonts link is removed).
    expect(byBasic.text).not.toMatch(/(href|src)="https?:/);
    expect(byBasic.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    const admin = await signedIn(ADMIN.username, ADMIN.password);
    const api = await admin.get('/admin/queues/api/queues');
    expect(api.status).toBe(200);
    const body = JSON.parse(api.text) as { queues: { name: string }[] };
    expect(body.queues.map((q) => q.name)).toContain('tasks');
    const bundle = /src="([^"]+\.js)"/.exec(byBasic.text)?.[1];
    expect(bundle).toBeDefined();
    expect((await admin.get(`/admin/queues/${bundle}`)).status).toBe(200);
  });

  it('answers a malformed JSON body to a dashboard call with 400, not 500', async () => {
    const r = await fetch(`${gw.url}/admin/queues/api/queues/tasks/clean/failed`, {
      method: 'PUT',
      headers: { ...basic(ADMIN.username, ADMIN.password), 'content-type': 'application/json' },
      body: '{bad',
    });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ error: 'the request body could not be read' });
  });

  it('refuses a state-changing dashboard call from another site', async () => {
    const admin = await signedIn(ADMIN.username, ADMIN.password);
    const r = await admin.request('PUT', '/admin/queues/api/queues/tasks/pause', { headers: { origin: 'http://evil.example', ...basic(ADMIN.username, ADMIN.password) } });
    expect(r.status).toBe(403);
  });
});

describe('console request budget', () => {
  it('draws on the same per-caller budget as SOAP: beyond it a 503 page', async () => {
    const limited = await startTestGateway({ overrides: { soapRatePerCaller: 1 } });
    try {
      const c = new ConsoleClient(limited.url);
      expect((await c.signIn(ADMIN.username, ADMIN.password)).status).toBe(303);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await c.get('/console/jobs')).status);
      expect(statuses).toContain(503);
      const refused = await c.get('/console/jobs');
      expect(refused.status).toBe(503);
      expectPlainRefusal(refused.text, /too many requests from admin/);
    } finally {
      await limited.stop();
    }
  });
});
