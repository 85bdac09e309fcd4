/**
 * A webhook's secret, and the signatures made with it, never reach a log
 * line, at trace level: registered over SOAP (and refused once), delivered
 * to a receiver, and failing against an address where nothing listens.
 */
import crypto from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { signBody } from '../../src/security/webhook-signature.js';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { envelope, passwordTextHeader } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});
const SECRET = `webhook-secret-${crypto.randomBytes(8).toString('hex')}`;
let gw: TestGateway;
let receiver: WebhookReceiver;

beforeAll(async () => {
  gw = await startTestGateway({
    gateway: { logger: createLogger('trace', 'dmwsi', sink) },
    overrides: { logLevel: 'trace', webhookPollMs: 50, webhookRetryMs: 100, webhookAttempts: 2 },
  });
  receiver = await startWebhookReceiver(SECRET);
  const ctx = { caller: 'test', operation: 'test' };
  await gw.deviceManager.createDeviceCapability(ctx, { ...CAPABILITY, dmVersion: '1.2' });
  await gw.deviceManager.createDeviceInstance(ctx, { deviceId: imeiN(1), phoneNumber: phoneN(1), capabilityOid: CAPABILITY.oid, attributes: {} });
});
afterAll(async () => {
  await receiver?.close();
  await gw?.stop();
});

async function soap(service: string, body: string): Promise<string> {
  const r = await fetch(`${gw.url}/dmwsi/${service}`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' },
    body: envelope(body, passwordTextHeader(ADMIN.username, ADMIN.password)),
  });
  return r.text();
}

const create = (url: string, secret: string, events = '<t:event>*</t:event>') =>
  soap(
    'BulkOperationsManager',
    `<t:createWebhook><t:userSession></t:userSession><t:webhook><t:url>${url}</t:url><t:secret>${secret}</t:secret>` +
      `<t:events>${events}</t:events></t:webhook></t:createWebhook>`,
  );

it('writes no webhook secret or signature into any log line at trace level', async () => {
  const ok = /<(?:\w+:)?webhookId>([^<]+)</.exec(await create(receiver.url, SECRET))?.[1];
  const dead = /<(?:\w+:)?webhookId>([^<]+)</.exec(await create('http://127.0.0.1:9/hook', SECRET))?.[1];
  expect(ok && dead).toBeTruthy();
  expect(await create('http://127.0.0.1:9/hook', SECRET, '<t:event>task.deleted</t:event>')).toContain('InvalidArgument');
  const op =
    '<t:doOperation><t:userSession></t:userSession><t:operation><t:name>QUERY</t:name><t:commands><t:command><t:verb>Get</t:verb>' +
    `<t:uri>./DevInfo/Man</t:uri></t:command></t:commands></t:operation><t:phoneNumber>${phoneN(1)}</t:phoneNumber>` +
    '<t:bOptin>false</t:bOptin><t:acceptDevicePolicy>30</t:acceptDevicePolicy><t:testCycle>true</t:testCycle></t:doOperation>';
  expect(await soap('DeploymentBroker', op)).toContain('taskId');
  await waitFor(() => receiver.received.length >= 2, 15_000, 'the deliveries');
  const failed = await waitFor(async () => {
    const d = await gw.webhooks.deliveries({ webhookId: dead!, state: 'FAILED' }, { offset: 0, limit: 10 });
    return d.length >= 2 ? d : undefined;
  }, 15_000);
  const signatures = [...receiver.received.map((e) => signBody(SECRET, JSON.stringify({ id: e.id, type: e.type, at: e.at, data: e.data }))), ...failed.map((d) => signBody(SECRET, d.body))];
  expect(receiver.badSignatures()).toEqual([]);
  expect(lines.some((l) => l.includes('webhook delivery failed'))).toBe(true);
  const found = lines.filter((l) => l.includes(SECRET) || signatures.some((s) => l.includes(s.slice('sha256='.length))));
  expect(found).toEqual([]);
});
