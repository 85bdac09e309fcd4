/**
 * Webhooks end to end (issue 16, item 7): registered over SOAP by an admin,
 * events read from task and job history, POSTed to a real HTTP receiver that
 * checks every signature, retried through the queue (real Redis) and
 * recorded with their delivery state (real SQLite and PostgreSQL).
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllowedNetworks } from '../../src/security/allowed-networks.js';
import { loadSecretKey, SecretBox } from '../../src/security/secret-box.js';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { POSTGRES_SKIP_MESSAGE, postgresUrl } from '../support/postgres.js';
import { call, faultOf, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { ownDatabase } from '../support/own-database.js';
import { waitFor } from '../support/wait.js';
import { type Received, startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const sharedPg = await postgresUrl();
// A database of its own: the event pump waits for running transactions of its database only.
const pgUrl = sharedPg ? await ownDatabase(sharedPg, 'dmwsi_webhooks') : undefined;
if (!pgUrl) console.warn(POSTGRES_SKIP_MESSAGE);

const SECRET = 'oss-webhook-secret-0123456789';
const ctx = { caller: 'test', operation: 'test' };
const query = { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Man' }] } };
const FAST = { webhookPollMs: 50, webhookRetryMs: 100, webhookAttempts: 3, webhookTimeoutSeconds: 2 };

type Bulk = SoapClient;

async function withDevice(gw: TestGateway): Promise<void> {
  await gw.deviceManager.createDeviceCapability(ctx, { ...CAPABILITY, dmVersion: '1.2' });
  await gw.deviceManager.createDeviceInstance(ctx, { deviceId: imeiN(1), phoneNumber: phoneN(1), capabilityOid: CAPABILITY.oid, attributes: {} });
}

function createWebhook(bulk: Bulk, url: string, events: string[], secret = SECRET): Promise<{ webhookId: string }> {
  return call<{ webhookId: string }>(bulk, 'createWebhook', { userSession: '', webhook: { url, secret, events: { event: events } } });
}

/** A task that ends at once (testCycle: validated, planned, recorded, COMPLETED): task.created and task.status. */
async function testCycleTask(broker: SoapClient): Promise<string> {
  const r = await call<{ taskId: string }>(broker, 'doOperation', {
    userSession: '',
    operation: query,
    phoneNumber: phoneN(1),
    bOptin: false,
    acceptDevicePolicy: 30,
    testCycle: true,
  });
  return r.taskId;
}

/** A job whose filter matches no device: CREATED, then COMPLETED with zero tasks. */
async function emptyJob(bulk: Bulk): Promise<string> {
  const r = await call<{ jobId: string }>(bulk, 'createDeployments', { userSession: '', operation: query, targets: ['make=Nobody'] });
  return r.jobId;
}

const ofTask = (r: WebhookReceiver, taskId: string): Received[] => r.received.filter((e) => e.data.taskId === taskId);
const ofJob = (r: WebhookReceiver, jobId: string): Received[] => r.received.filter((e) => e.type === 'job.status' && e.data.jobId === jobId);

for (const backend of ['sqlite', 'postgres'] as const) {
  describe.skipIf(backend === 'postgres' && !pgUrl)(`webhooks on ${backend}`, () => {
    let gw: TestGateway;
    let bulk: Bulk;
    let broker: SoapClient;
    const receivers: WebhookReceiver[] = [];

    beforeAll(async () => {
      gw = await startTestGateway({ ...(backend === 'postgres' ? { postgresUrl: pgUrl } : {}), overrides: FAST });
      await withDevice(gw);
      [bulk, broker] = await Promise.all([
        soapClient(gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN }),
        soapClient(gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN }),
      ]);
    });
    afterAll(async () => {
      for (const r of receivers) await r.close();
      await gw?.stop();
    });

    async function receiver(answer?: Parameters<typeof startWebhookReceiver>[1]): Promise<WebhookReceiver> {
      const r = await startWebhookReceiver(SECRET, answer);
      receivers.push(r);
      return r;
    }

    it('POSTs every event of a task as signed JSON {id, type, at, data}, its id also in a header', async () => {
      const r = await receiver();
      const { webhookId } = await createWebhook(bulk, r.url, ['*']);
      const taskId = await testCycleTask(broker);
      await waitFor(() => ofTask(r, taskId).length >= 2, 15_000, 'both events of the task');
      const [created, status] = [ofTask(r, taskId).find((e) => e.type === 'task.created')!, ofTask(r, taskId).find((e) => e.type === 'task.status')!];
      expect(created).toMatchObject({ id: `task-${taskId}-1`, data: { taskId, deviceId: imeiN(1), status: 'QUEUED', operationName: 'QUERY' } });
      expect(status).toMatchObject({ id: `task-${taskId}-2`, data: { taskId, fromStatus: 'QUEUED', status: 'COMPLETED', event: 'test-cycle' } });
      for (const e of r.received) {
        expect(e.signatureOk).toBe(true);
        expect(e.eventIdHeader).toBe(e.id);
        expect(e.contentType).toBe('application/json');
        expect(new Date(e.at).toISOString()).toBe(e.at);
      }
      await call(bulk, 'deleteWebhook', { userSession: '', webhookId });
    });

    it('sends only the event types a webhook names', async () => {
      const jobs = await receiver();
      const created = await receiver();
      const all = await receiver();
      const hooks = [
        await createWebhook(bulk, jobs.url, ['job.status']),
        await createWebhook(bulk, created.url, ['task.created']),
        await createWebhook(bulk, all.url, ['*']),
      ];
      const taskId = await testCycleTask(broker);
      const jobId = await emptyJob(bulk);
      // The catch-all has them all: the pump has passed every one of these events.
      // Deliveries run concurrently: CREATED may arrive after COMPLETED.
      const completed = (r: WebhookReceiver) => ['CREATED', 'COMPLETED'].every((st) => ofJob(r, jobId).some((e) => e.data.status === st));
      await waitFor(() => ofTask(all, taskId).length >= 2 && completed(all), 15_000, 'every event at the catch-all');
      expect(ofJob(all, jobId).map((e) => e.data.status)).toEqual(expect.arrayContaining(['CREATED', 'COMPLETED']));
      await waitFor(() => completed(jobs) && ofTask(created, taskId).length >= 1, 15_000, 'the filtered ones');
      expect(new Set(jobs.received.map((e) => e.type))).toEqual(new Set(['job.status']));
      expect(new Set(created.received.map((e) => e.type))).toEqual(new Set(['task.created']));
      for (const r of [jobs, created, all]) expect(r.badSignatures()).toEqual([]);
      for (const h of hooks) await call(bulk, 'deleteWebhook', { userSession: '', ...h });
    });

    it('sends an event again, with the same id, after the receiver answered 500; then records it DELIVERED', async () => {
      const seen = new Set<string>();
      const r = await receiver((e) => {
        if (seen.has(e.id)) return 200;
        seen.add(e.id);
        return 500;
      });
      const { webhookId } = await createWebhook(bulk, r.url, ['task.created', 'task.status']);
      const taskId = await testCycleTask(broker);
      await waitFor(() => ofTask(r, taskId).length >= 4, 15_000, 'each event twice');
      for (const id of [`task-${taskId}-1`, `task-${taskId}-2`]) {
        expect(r.received.filter((e) => e.id === id).map((e) => e.answered)).toEqual([500, 200]);
      }
      expect(r.badSignatures()).toEqual([]);
      const deliveries = await waitFor(async () => {
        const d = await gw.webhooks.deliveries({ webhookId }, { offset: 0, limit: 10 });
        return d.length === 2 && d.every((x) => x.state === 'DELIVERED') ? d : undefined;
      });
      for (const d of deliveries) expect(d).toMatchObject({ state: 'DELIVERED', attempts: 2, lastStatus: 200 });
      await call(bulk, 'deleteWebhook', { userSession: '', webhookId });
    });

    it('records FAILED with the status at once when the receiver refuses (410), and after WEBHOOK_ATTEMPTS of 503', async () => {
      const gone = await receiver(() => 410);
      const down = await receiver(() => 503);
      const a = await createWebhook(bulk, gone.url, ['task.created']);
      const b = await createWebhook(bulk, down.url, ['task.created']);
      const taskId = await testCycleTask(broker);
      const failed = async (webhookId: string) => {
        const [d] = await gw.webhooks.deliveries({ webhookId, state: 'FAILED' }, { offset: 0, limit: 10 });
        return d;
      };
      expect(await waitFor(() => failed(a.webhookId), 15_000)).toMatchObject({ eventId: `task-${taskId}-1`, attempts: 1, lastStatus: 410 });
      expect(await waitFor(() => failed(b.webhookId), 15_000)).toMatchObject({ eventId: `task-${taskId}-1`, attempts: 3, lastStatus: 503 });
      expect(ofTask(gone, taskId).map((e) => e.id)).toEqual([`task-${taskId}-1`]);
      expect(ofTask(down, taskId).map((e) => e.id)).toEqual([`task-${taskId}-1`, `task-${taskId}-1`, `task-${taskId}-1`]);
      for (const h of [a, b]) await call(bulk, 'deleteWebhook', { userSession: '', ...h });
    });

    it('lists deliveries with their state as JSON at GET /webhooks/deliveries, to admins only', async () => {
      const r = await receiver();
      const { webhookId } = await createWebhook(bulk, r.url, ['task.created']);
      const taskId = await testCycleTask(broker);
      await waitFor(async () => {
        const [d] = await gw.webhooks.deliveries({ webhookId, state: 'DELIVERED' }, { offset: 0, limit: 1 });
        return d;
      }, 15_000);
      await gw.auth.createUser('reader', 'reader-password-1', 'readonly');
      const get = (query: string, session?: string) =>
        fetch(`${gw.url}/webhooks/deliveries${query}`, session ? { headers: { authorization: `Bearer ${session}` } } : {});
      const admin = await gw.auth.login(ADMIN.username, ADMIN.password);
      const res = await get(`?webhookId=${webhookId}&state=DELIVERED&limit=10`, admin);
      expect(res.status).toBe(200);
      const { deliveries } = (await res.json()) as { deliveries: Record<string, unknown>[] };
      expect(deliveries).toEqual([
        expect.objectContaining({
          webhookId,
          eventId: `task-${taskId}-1`,
          type: 'task.created',
          state: 'DELIVERED',
          attempts: 1,
          lastStatus: 200,
          event: expect.objectContaining({ id: `task-${taskId}-1`, type: 'task.created' }),
        }),
      ]);
      expect((await get('')).status).toBe(401);
      expect((await get('', await gw.auth.login('reader', 'reader-password-1'))).status).toBe(403);
      expect((await get('?state=LOST', admin)).status).toBe(400);
      expect((await get('?limit=abc', admin)).status).toBe(400);
      await call(bulk, 'deleteWebhook', { userSession: '', webhookId });
    });

    it('never returns the secret, and keeps it sealed at rest', async () => {
      const r = await receiver();
      const { webhookId } = await createWebhook(bulk, r.url, ['job.status', 'task.status']);
      const [, rawXml] = await bulk.getWebhooksAsync({ userSession: '' });
      expect(rawXml).not.toContain(SECRET);
      expect(rawXml).not.toContain('secret');
      const listed = (await call<{ webhook: unknown }>(bulk, 'getWebhooks', { userSession: '' })).webhook;
      const list = (Array.isArray(listed) ? listed : [listed]) as { webhookId: string; url: string; events: { event: string[] | string } }[];
      const mine = list.find((w) => w.webhookId === webhookId)!;
      expect(mine.url).toBe(r.url);
      expect([mine.events.event].flat()).toEqual(['job.status', 'task.status']);
      const rows = (await gw.dataSource.query(`SELECT secret FROM webhook WHERE webhook_id = '${webhookId}'`)) as { secret: string }[];
      expect(rows[0]!.secret).not.toContain(SECRET);
      expect(new SecretBox(loadSecretKey(gw.config.secretKey, gw.dir)).open(rows[0]!.secret)).toBe(SECRET);
      await call(bulk, 'deleteWebhook', { userSession: '', webhookId });
    });

    it('refuses a bad registration with InvalidArgument, and an unknown webhook id with NotFound', async () => {
      const url = 'http://127.0.0.1:9/hook';
      expect((await faultOf(createWebhook(bulk, url, ['task.deleted']))).code).toBe('InvalidArgument');
      expect((await faultOf(createWebhook(bulk, url, []))).code).toBe('InvalidArgument');
      expect((await faultOf(createWebhook(bulk, 'ftp://127.0.0.1/hook', ['*']))).code).toBe('InvalidArgument');
      expect((await faultOf(createWebhook(bulk, url, ['*'], 'short'))).code).toBe('InvalidArgument');
      expect((await faultOf(call(bulk, 'deleteWebhook', { userSession: '', webhookId: 'no-such-webhook' }))).code).toBe('NotFound');
    });

    it('sends nothing more to a deleted webhook', async () => {
      const r = await receiver();
      const { webhookId } = await createWebhook(bulk, r.url, ['*']);
      const control = await receiver();
      const c = await createWebhook(bulk, control.url, ['*']);
      await call(bulk, 'deleteWebhook', { userSession: '', webhookId });
      const taskId = await testCycleTask(broker);
      await waitFor(() => ofTask(control, taskId).length >= 2, 15_000, 'the events at the remaining webhook');
      expect(ofTask(r, taskId)).toEqual([]);
      await call(bulk, 'deleteWebhook', { userSession: '', ...c });
    });
  });
}

describe('webhooks: who may, and where to', () => {
  let gw: TestGateway;
  const pw = 'webhook-role-password-1';
  let receiverOutside: WebhookReceiver;

  beforeAll(async () => {
    const allowed = AllowedNetworks.parse('10.0.0.0/8');
    if (!(allowed instanceof AllowedNetworks)) throw new Error('bad test network');
    gw = await startTestGateway({ overrides: { ...FAST, notificationAllowedNetworks: allowed } });
    for (const role of ['bulk', 'care', 'readonly'] as const) await gw.auth.createUser(`user-${role}`, pw, role);
    await withDevice(gw);
    receiverOutside = await startWebhookReceiver(SECRET);
  });
  afterAll(async () => {
    await receiverOutside?.close();
    await gw?.stop();
  });

  it('gives every role but admin NotAuthorized on createWebhook, getWebhooks and deleteWebhook', async () => {
    for (const role of ['bulk', 'care', 'readonly']) {
      const client = await soapClient(gw.url, 'BulkOperationsManager', { kind: 'text', username: `user-${role}`, password: pw });
      expect((await faultOf(createWebhook(client, 'http://10.1.2.3/hook', ['*']))).code).toBe('NotAuthorized');
      expect((await faultOf(call(client, 'getWebhooks', { userSession: '' }))).code).toBe('NotAuthorized');
      expect((await faultOf(call(client, 'deleteWebhook', { userSession: '', webhookId: 'x' }))).code).toBe('NotAuthorized');
    }
  });

  it('refuses a URL whose destination is outside NOTIFICATION_ALLOWED_NETWORKS, by address or as a name resolves', async () => {
    const bulk = await soapClient(gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
    const byAddress = await faultOf(createWebhook(bulk, receiverOutside.url, ['*']));
    expect(byAddress.code).toBe('InvalidArgument');
    const byName = await faultOf(createWebhook(bulk, receiverOutside.url.replace('127.0.0.1', 'localhost'), ['*']));
    expect(byName.code).toBe('InvalidArgument');
    expect((await call<{ webhookId: string }>(bulk, 'createWebhook', { userSession: '', webhook: { url: 'http://10.9.9.9/hook', secret: SECRET, events: { event: ['*'] } } })).webhookId).toMatch(/./);
  });

  it('checks again on every delivery, on the address connected to: a destination now outside gets nothing', async () => {
    // Registered while it was allowed (written as the service would), refused when delivered.
    const webhookId = crypto.randomUUID();
    const sealed = new SecretBox(loadSecretKey(gw.config.secretKey, gw.dir)).seal(SECRET);
    await gw.dataSource.query('INSERT INTO webhook (webhook_id, url, events, secret, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
      webhookId,
      receiverOutside.url,
      '["task.created"]',
      sealed,
      'test',
      Date.now(),
    ]);
    const broker = await soapClient(gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
    const taskId = await testCycleTask(broker);
    const failed = await waitFor(async () => {
      const [d] = await gw.webhooks.deliveries({ webhookId, state: 'FAILED' }, { offset: 0, limit: 1 });
      return d;
    }, 15_000);
    expect(failed).toMatchObject({ eventId: `task-${taskId}-1`, attempts: 1, lastError: 'destination 127.0.0.1 not in NOTIFICATION_ALLOWED_NETWORKS' });
    expect(receiverOutside.received).toEqual([]);
  });
});
