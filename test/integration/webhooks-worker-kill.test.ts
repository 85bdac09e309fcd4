/**
 * A worker process killed (kill -9) mid-delivery loses no webhook event:
 * every event is delivered at least once, and the ones that were in flight
 * are POSTed again with the same event id. The gateway runs split as in
 * production: this process serves SOAP (role api), the worker is the
 * compiled CLI (`dmwsi serve --role worker`) in a child process, sharing the
 * database (PostgreSQL when one answers, else one SQLite file) and Redis.
 * Needs a build (npx tsc -p tsconfig.build.json; npm test builds first).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { postgresUrl } from '../support/postgres.js';
import { call, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { ownDatabase } from '../support/own-database.js';
import { waitFor } from '../support/wait.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SECRET = 'oss-webhook-secret-kill-test';
const TASKS = 10;
const sharedPg = await postgresUrl();
// A database of its own: the event pump waits for running transactions of its database only.
const pgUrl = sharedPg ? await ownDatabase(sharedPg, 'dmwsi_webhooks') : undefined;

let gw: TestGateway;
let receiver: WebhookReceiver;
const children: ChildProcess[] = [];
/** 'hold': every POST is left unanswered (the worker is mid-delivery); then every POST gets 200. */
let phase: 'hold' | 'answer' = 'hold';

beforeAll(async () => {
  gw = await startTestGateway({ ...(pgUrl ? { postgresUrl: pgUrl } : {}), overrides: { role: 'api' } });
  receiver = await startWebhookReceiver(SECRET, () => (phase === 'hold' ? 'hold' : 200));
  await gw.deviceManager.createDeviceCapability({ caller: 'test', operation: 'test' }, { ...CAPABILITY, dmVersion: '1.2' });
  await gw.deviceManager.createDeviceInstance(
    { caller: 'test', operation: 'test' },
    { deviceId: imeiN(1), phoneNumber: phoneN(1), capabilityOid: CAPABILITY.oid, attributes: {} },
  );
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await receiver?.close();
  await gw?.stop();
});

/** `dmwsi serve --role worker` on the test gateway's database and Redis prefix; resolves once it listens. */
async function startWorker(): Promise<ChildProcess> {
  const c = gw.config;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: gw.dir,
    DATA_DIR: gw.dir,
    DATABASE_URL: c.databaseUrl,
    ...(c.databaseSchema ? { DATABASE_SCHEMA: c.databaseSchema } : {}),
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: c.queuePrefix,
    DMWSI_SECRET_KEY: c.secretKey!,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    WEBHOOK_POLL_MS: '50',
    WEBHOOK_RETRY_MS: '200',
    // A POST left unanswered stays in flight until the kill; the lock of a killed worker's job lapses 5 s after that.
    WEBHOOK_TIMEOUT_SECONDS: '5',
  };
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'dmwsi.mjs'), 'serve', '--role', 'worker'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not listening within 30 s\n${out}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`worker exited (${code})\n${out}`)));
    const read = (d: Buffer) => {
      out += d.toString();
      if (out.includes('"gateway listening"')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
  });
  return child;
}

it('delivers every event at least once when the worker is killed mid-delivery, the ones in flight again with the same id', { timeout: 120_000 }, async () => {
  const [bulk, broker]: [SoapClient, SoapClient] = await Promise.all([
    soapClient(gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN }),
    soapClient(gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN }),
  ]);
  const { webhookId } = await call<{ webhookId: string }>(bulk, 'createWebhook', {
    userSession: '',
    webhook: { url: receiver.url, secret: SECRET, events: { event: ['*'] } },
  });
  const first = await startWorker();
  const expected = new Set<string>();
  for (let i = 0; i < TASKS; i++) {
    const { taskId } = await call<{ taskId: string }>(broker, 'doOperation', {
      userSession: '',
      operation: { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Man' }] } },
      phoneNumber: phoneN(1),
      bOptin: false,
      acceptDevicePolicy: 30,
      testCycle: true,
    });
    expected.add(`task-${taskId}-1`).add(`task-${taskId}-2`);
  }
  // Every event POSTed once and held unanswered: the worker is mid-delivery on all of them.
  await waitFor(() => [...expected].every((id) => receiver.ids().has(id)), 30_000, 'every event in flight');
  const inFlight = new Set(receiver.received.map((e) => e.id));
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));
  phase = 'answer';
  const pending = await gw.webhooks.deliveries({ webhookId, state: 'PENDING' }, { offset: 0, limit: 100 });
  expect(pending.length).toBe(expected.size);

  const second = await startWorker();
  await waitFor(
    () => [...expected].every((id) => receiver.received.some((e) => e.id === id && e.answered === 200)),
    60_000,
    'every event answered 200 after the kill',
  );
  // Delivered at least once each; those in flight at the kill, again under the same id.
  for (const id of inFlight) {
    expect(receiver.received.filter((e) => e.id === id).map((e) => e.answered)).toEqual(expect.arrayContaining(['hold', 200]));
  }
  expect(receiver.badSignatures()).toEqual([]);
  const states = await waitFor(async () => {
    const d = await gw.webhooks.deliveries({ webhookId }, { offset: 0, limit: 100 });
    return d.filter((x) => expected.has(x.eventId)).every((x) => x.state === 'DELIVERED') ? d : undefined;
  }, 10_000);
  expect(states.filter((x) => expected.has(x.eventId)).length).toBe(expected.size);
  second.kill('SIGTERM');
  await new Promise((resolve) => second.once('exit', resolve));
});
