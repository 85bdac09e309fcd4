/**
 * Retried calls (the contract's last section): only the WS-Addressing
 * MessageID marks a retry. The same caller and MessageID get the first call's
 * task or job; another caller with the same MessageID, and any call without
 * one, is new work, however alike the requests are.
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { call, faultOf, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const WSA = 'http://www.w3.org/2005/08/addressing';
const OTHER = { username: 'other-admin', password: 'other-password-1' };
const query = { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Man' }] } };
const ctx = { caller: 'test', operation: 'test' };

let gw: TestGateway;
let broker: SoapClient;
let bulk: SoapClient;
let otherBroker: SoapClient;
let otherBulk: SoapClient;

beforeAll(async () => {
  gw = await startTestGateway();
  await gw.auth.createUser(OTHER.username, OTHER.password, 'admin');
  await gw.deviceManager.createDeviceCapability(ctx, { ...CAPABILITY, dmVersion: '1.2' });
  for (const n of [1, 2, 3]) {
    await gw.deviceManager.createDeviceInstance(ctx, {
      deviceId: imeiN(n),
      phoneNumber: phoneN(n),
      capabilityOid: CAPABILITY.oid,
      // Nothing listens there: the bootstrap delivery fails in the background, which these tests do not look at.
      notificationUrl: 'http://127.0.0.1:9/push',
      attributes: { imsi: '001010123456789' },
    });
  }
  [broker, bulk, otherBroker, otherBulk] = await Promise.all([
    soapClient(gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN }),
    soapClient(gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN }),
    soapClient(gw.url, 'DeploymentBroker', { kind: 'text', ...OTHER }),
    soapClient(gw.url, 'BulkOperationsManager', { kind: 'text', ...OTHER }),
  ]);
});
afterAll(() => gw?.stop());

/** Calls with a WS-Addressing MessageID header (xml: as written), or none. */
async function callWith<T>(client: SoapClient, op: string, args: unknown, messageIdXml?: string): Promise<T> {
  client.clearSoapHeaders();
  if (messageIdXml !== undefined) client.addSoapHeader(`<wsa:MessageID xmlns:wsa="${WSA}">${messageIdXml}</wsa:MessageID>`);
  try {
    return await call<T>(client, op, args);
  } finally {
    client.clearSoapHeaders();
  }
}

const newMessageId = () => `urn:uuid:${crypto.randomUUID()}`;
const doOperation = (client: SoapClient, messageId?: string) =>
  callWith<{ taskId: string }>(
    client,
    'doOperation',
    { userSession: '', operation: query, phoneNumber: phoneN(1), bOptin: false, acceptDevicePolicy: 30, testCycle: true },
    messageId,
  ).then((r) => r.taskId);
const doBootstrap = (client: SoapClient, messageId?: string) =>
  callWith<{ taskId: string }>(client, 'doBootstrap', { userSession: '', phoneNumber: phoneN(2) }, messageId).then((r) => r.taskId);
const doBulkOperation = (client: SoapClient, messageId?: string) =>
  callWith<{ jobId: string }>(
    client,
    'doBulkOperation',
    { userSession: '', requests: [{ operation: query, phoneNumber: phoneN(3), bOptin: false, acceptDevicePolicy: 30, testCycle: false }] },
    messageId,
  ).then((r) => r.jobId);
const startAt = new Date(Date.now() + 3600_000).toISOString();
const createDeployments = (client: SoapClient, messageId?: string) =>
  callWith<{ jobId: string }>(
    client,
    'createDeployments',
    { userSession: '', operation: query, targets: [imeiN(1), imeiN(2)], options: { startAt } },
    messageId,
  ).then((r) => r.jobId);

const creators: [string, (c: 'own' | 'other', messageId?: string) => Promise<string>][] = [
  ['doOperation', (c, m) => doOperation(c === 'own' ? broker : otherBroker, m)],
  ['doBootstrap', (c, m) => doBootstrap(c === 'own' ? broker : otherBroker, m)],
  ['doBulkOperation', (c, m) => doBulkOperation(c === 'own' ? broker : otherBroker, m)],
  ['createDeployments', (c, m) => createDeployments(c === 'own' ? bulk : otherBulk, m)],
];

describe('retried calls', () => {
  it.each(creators)('%s without a MessageID creates new work on every call', async (_op, create) => {
    const a = await create('own');
    const b = await create('own');
    expect(b).not.toBe(a);
  });

  it.each(creators)('%s with the same MessageID from the same caller answers with the first id', async (_op, create) => {
    const id = newMessageId();
    const a = await create('own', id);
    expect(await create('own', id)).toBe(a);
    // Surrounding whitespace is no part of a URI: the same MessageID.
    expect(await create('own', `\n  ${id}\n`)).toBe(a);
    expect(await create('own', newMessageId())).not.toBe(a);
  });

  it.each(creators)('%s with the same MessageID from another caller is separate work', async (_op, create) => {
    const id = newMessageId();
    const a = await create('own', id);
    const b = await create('other', id);
    expect(b).not.toBe(a);
    expect(await create('other', id)).toBe(b);
  });

  it.each(creators)('%s answers simultaneous copies of one retried call with one id', async (_op, create) => {
    const id = newMessageId();
    const ids = await Promise.all([create('own', id), create('own', id), create('own', id)]);
    expect(new Set(ids).size).toBe(1);
  });

  it('writes the tasks of a simultaneously retried createDeployments once', async () => {
    const id = newMessageId();
    const [jobId] = await Promise.all([createDeployments(bulk, id), createDeployments(bulk, id)]);
    const tasks = await gw.dataSource.query('SELECT count(*) AS n FROM task WHERE job_id = ?', [jobId]);
    expect(Number(tasks[0].n)).toBe(2);
    const job = await callWith<{ jobData: { total: number; queued: number } }>(bulk, 'getJobById', { userSession: '', jobId });
    expect(job.jobData).toMatchObject({ total: 2, queued: 2 });
  });

  it('gives a new job for a deployment submitted again after cancelJob', async () => {
    const first = await createDeployments(bulk);
    await callWith(bulk, 'cancelJob', { userSession: '', jobId: first });
    const again = await createDeployments(bulk);
    expect(again).not.toBe(first);
    const job = await callWith<{ jobData: { status: string } }>(bulk, 'getJobById', { userSession: '', jobId: again });
    expect(job.jobData.status).toBe('CREATED');
  });

  it.each([
    ['empty', ''],
    ['too long', `urn:x:${'a'.repeat(260)}`],
    ['with a space inside', 'urn:uuid:one two'],
    ['with a control character', 'urn:uuid:one\ttwo'],
    ['holding elements', '<wsa:Nested>x</wsa:Nested>'],
  ])('refuses a MessageID that is %s with InvalidArgument and creates nothing', async (_what, xml) => {
    const before = await gw.dataSource.query('SELECT count(*) AS n FROM task');
    const f = await faultOf(callWith(broker, 'doOperation', { userSession: '', operation: query, phoneNumber: phoneN(1), bOptin: false, acceptDevicePolicy: 30, testCycle: true }, xml));
    expect(f.code).toBe('InvalidArgument');
    expect(await gw.dataSource.query('SELECT count(*) AS n FROM task')).toEqual(before);
  });
});
