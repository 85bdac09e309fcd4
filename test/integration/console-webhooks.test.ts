/**
 * The console's webhooks page (issue 16, item 7: webhooks visible in the
 * console with their delivery state) over real HTTP: real deliveries to real
 * local receivers (one answering 200, one 503 until it fails for good), read
 * back as an admin sees them; every other role refused; deleting a webhook
 * only with the session's CSRF token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleClient } from '../support/console-client.js';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { ownDatabase } from '../support/own-database.js';
import { POSTGRES_SKIP_MESSAGE, postgresUrl } from '../support/postgres.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const sharedPg = await postgresUrl();
// A database of its own: the event pump waits for running transactions of its database only.
const pgUrl = sharedPg ? await ownDatabase(sharedPg, 'dmwsi_console_webhooks') : undefined;
if (!pgUrl) console.warn(POSTGRES_SKIP_MESSAGE);

const PASSWORD = 'console-password-1';
const SECRET = 'console-webhook-secret-0123456789';
const ctx = { caller: 'test', operation: 'setup' };
/** Each test-cycle task makes two events (task.created, task.status): 26 tasks are 52 deliveries to `ok`, more than a page of 50. */
const TASKS = 26;

async function signedIn(gw: TestGateway, username: string, password = PASSWORD): Promise<ConsoleClient> {
  const c = new ConsoleClient(gw.url);
  expect((await c.signIn(username, password)).status).toBe(303);
  return c;
}

/** The rows of the deliveries table: event id, state, attempts, last status. */
function deliveryRows(page: string): { eventId: string; state: string; attempts: number; lastStatus: string }[] {
  const table = /<table id="deliveries">([\s\S]*?)<\/table>/.exec(page)?.[1] ?? '';
  return [...table.matchAll(/<tr data-event="([^"]+)">([\s\S]*?)<\/tr>/g)].map((m) => {
    const cells = [...(m[2] as string).matchAll(/<td>([\s\S]*?)<\/td>/g)].map((c) => c[1] as string);
    return {
      eventId: m[1] as string,
      state: /class="status (\w+)"/.exec(cells[3] ?? '')?.[1] ?? '',
      attempts: Number(cells[4]),
      lastStatus: cells[5] ?? '',
    };
  });
}

/** The count cell of a webhook's row for a state. */
function countOf(page: string, webhookId: string, state: string): number {
  const row = new RegExp(`<tr data-webhook="${webhookId}">([\\s\\S]*?)</tr>`).exec(page)?.[1] ?? '';
  return Number(new RegExp(`data-state="${state}"><a [^>]*>(\\d+)</a>`).exec(row)?.[1]);
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe.skipIf(backend === 'postgres' && !pgUrl)(`console webhooks page on ${backend}`, () => {
    let gw: TestGateway;
    let ok: WebhookReceiver;
    let down: WebhookReceiver;
    let okHook: string;
    let downHook: string;
    const taskIds: string[] = [];

    beforeAll(async () => {
      gw = await startTestGateway({ ...(backend === 'postgres' ? { postgresUrl: pgUrl } : {}), overrides: { webhookPollMs: 50, webhookRetryMs: 100, webhookAttempts: 2, webhookTimeoutSeconds: 2 } });
      for (const role of ['care', 'bulk', 'readonly'] as const) await gw.auth.createUser(`${role}-user`, PASSWORD, role);
      await gw.deviceManager.createDeviceCapability(ctx, { ...CAPABILITY, dmVersion: '1.2' });
      await gw.deviceManager.createDeviceInstance(ctx, { deviceId: imeiN(1), phoneNumber: phoneN(1), capabilityOid: CAPABILITY.oid, attributes: {} });
      ok = await startWebhookReceiver(SECRET);
      down = await startWebhookReceiver(SECRET, () => 503);
      okHook = await gw.webhooks.create(ctx, { url: `${ok.url}/ok`, secret: SECRET, events: ['*'] });
      downHook = await gw.webhooks.create(ctx, { url: `${down.url}/down`, secret: SECRET, events: ['task.created'] });
      for (let i = 0; i < TASKS; i++) {
        taskIds.push(
          await gw.broker.doOperation(ctx, {
            operation: { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Man' }] },
            phoneNumber: phoneN(1),
            bOptin: false,
            acceptDevicePolicy: 30,
            testCycle: true,
          }),
        );
      }
      // Every delivery has settled: 52 DELIVERED to `ok`, 26 FAILED (2 attempts of 503) to `down`.
      await waitFor(
        async () => {
          const counts = await gw.webhooks.deliveryCounts();
          const n = (id: string, state: string) => counts.find((c) => c.webhookId === id && c.state === state)?.count ?? 0;
          return n(okHook, 'DELIVERED') === 2 * TASKS && n(downHook, 'FAILED') === TASKS;
        },
        30_000,
        'all deliveries settled',
      );
    }, 60_000);
    afterAll(async () => {
      await ok?.close();
      await down?.close();
      await gw?.stop();
    });

      it('sends a visitor without a session to sign in, and refuses every role but admin with 403 and no link', async () => {
        const anon = await new ConsoleClient(gw.url).get('/console/webhooks');
        expect(anon.status).toBe(303);
        expect(anon.location).toBe('/console/login?next=%2Fconsole%2Fwebhooks');
        for (const role of ['care', 'bulk', 'readonly']) {
          const c = await signedIn(gw, `${role}-user`);
          const r = await c.get('/console/webhooks');
          expect(r.status).toBe(403);
          expect(r.text).toMatch(/may not see or change webhooks/);
          expect(r.text).not.toContain(okHook);
          expect((await c.get('/console/devices')).text).not.toContain('href="/console/webhooks"');
          const del = await c.post(`/console/webhooks/${okHook}/delete`, { csrf: await c.csrf() });
          expect(del.status).toBe(403);
        }
        expect((await gw.webhooks.list()).map((w) => w.webhookId).sort()).toEqual([okHook, downHook].sort());
      });

      it('shows an admin each webhook (never its secret) with its deliveries counted by state', async () => {
        const admin = await signedIn(gw, ADMIN.username, ADMIN.password);
        expect((await admin.get('/console/devices')).text).toContain('href="/console/webhooks"');
        const r = await admin.get('/console/webhooks');
        expect(r.status).toBe(200);
        expect(r.text).not.toContain(SECRET);
        expect(r.text).toContain(`${ok.url}/ok`);
        expect(r.text).toContain(`${down.url}/down`);
        expect(countOf(r.text, okHook, 'DELIVERED')).toBe(2 * TASKS);
        expect(countOf(r.text, okHook, 'FAILED')).toBe(0);
        expect(countOf(r.text, downHook, 'FAILED')).toBe(TASKS);
        expect(countOf(r.text, downHook, 'PENDING')).toBe(0);
      });

      it('lists deliveries newest first, a page at a time, with state, attempts and last HTTP status', async () => {
        const admin = await signedIn(gw, ADMIN.username, ADMIN.password);
        const first = await admin.get('/console/webhooks');
        const rows = deliveryRows(first.text);
        expect(rows).toHaveLength(50);
        expect(first.text).toContain('id="older"');
        expect(first.text).not.toContain('id="newer"');
        const second = await admin.get('/console/webhooks?offset=50');
        const rest = deliveryRows(second.text);
        expect(rest).toHaveLength(3 * TASKS - 50);
        expect(second.text).toContain('id="newer"');
        expect(second.text).not.toContain('id="older"');
        const all = [...rows, ...rest];
        expect(new Set(all.map((d) => `${d.eventId}`)).size).toBeGreaterThanOrEqual(2 * TASKS);
        // The last task's creation is among the newest; the first task's among the oldest.
        const last = taskIds[TASKS - 1] as string;
        expect(rows.map((d) => d.eventId)).toContain(`task-${last}-1`);
        expect(rest.map((d) => d.eventId)).toContain(`task-${taskIds[0]}-1`);
        const failed = all.filter((d) => d.state === 'FAILED');
        expect(failed).toHaveLength(TASKS);
        for (const d of failed) expect(d).toMatchObject({ attempts: 2, lastStatus: '503' });
        for (const d of all.filter((x) => x.state === 'DELIVERED')) expect(d).toMatchObject({ attempts: 1, lastStatus: '200' });
      });

      it('filters deliveries by state and by webhook, and refuses an unknown state with 400', async () => {
        const admin = await signedIn(gw, ADMIN.username, ADMIN.password);
        const failed = deliveryRows((await admin.get('/console/webhooks?state=FAILED')).text);
        expect(failed).toHaveLength(TASKS);
        expect(new Set(failed.map((d) => d.state))).toEqual(new Set(['FAILED']));
        const down1 = deliveryRows((await admin.get(`/console/webhooks?webhook=${downHook}&state=DELIVERED`)).text);
        expect(down1).toEqual([]);
        const bad = await admin.get('/console/webhooks?state=%3Cscript%3Ealert(1)%3C/script%3E');
        expect(bad.status).toBe(400);
        expect(bad.text).not.toContain('<script>alert');
        expect((await admin.get('/console/webhooks?offset=-1')).status).toBe(400);
        const unknown = await admin.get('/console/webhooks?webhook=%3Cb%3Enope');
        expect(unknown.status).toBe(200);
        expect(unknown.text).not.toContain('<b>nope');
        expect(deliveryRows(unknown.text)).toEqual([]);
      });

      it('deletes a webhook only with the session CSRF token, audited', async () => {
        const admin = await signedIn(gw, ADMIN.username, ADMIN.password);
        const forged = await admin.post(`/console/webhooks/${downHook}/delete`, { csrf: 'x'.repeat(43) });
        expect(forged.status).toBe(403);
        expect((await gw.webhooks.list()).map((w) => w.webhookId)).toContain(downHook);
        const page = await admin.get('/console/webhooks');
        const r = await admin.post(`/console/webhooks/${downHook}/delete`, { csrf: ConsoleClient.csrfOf(page.text) });
        expect(r.status).toBe(303);
        expect(r.location).toBe('/console/webhooks');
        expect((await gw.webhooks.list()).map((w) => w.webhookId)).toEqual([okHook]);
        const after = await admin.get('/console/webhooks');
        expect(after.text).not.toContain(`data-webhook="${downHook}"`);
        expect(deliveryRows(after.text).every((d) => d.state === 'DELIVERED')).toBe(true);
        const again = await admin.post(`/console/webhooks/${downHook}/delete`, { csrf: ConsoleClient.csrfOf(page.text) });
        expect(again.status).toBe(404);
        const rows = await gw.dataSource.query("SELECT caller, outcome FROM audit_log WHERE operation = 'deleteWebhook'");
        expect(rows).toContainEqual({ caller: ADMIN.username, outcome: 'ok' });
      });
  });
}
