/**
 * Rollouts of packages over SOAP: which targets a package applies to, and
 * maxConcurrentDownloads, checked against the content server's own count of
 * downloads in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { getJob } from '../support/jobs.js';
import { call, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

let rig: DmRig;
let bulk: SoapClient;
const ctx = { caller: 'test', operation: 'setup' };
const SHA = 'a'.repeat(64);

beforeAll(async () => {
  rig = await startDmRig({ devices: 8 });
  bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
});
afterAll(() => rig?.stop());

async function createContent(patch: Record<string, unknown>): Promise<string> {
  const content = { name: 'acme-fw', version: '2.0', kind: 'firmware', sha256: SHA, size: 1024, url: 'https://cdn.example.com/fw.bin', ...patch };
  return (await call<{ contentId: string }>(bulk, 'createContent', { userSession: '', content })).contentId;
}

async function create(operation: unknown, targets: string[], options: Record<string, unknown> = {}) {
  return (await call<{ jobId: string }>(bulk, 'createDeployments', { userSession: '', operation, targets, options })).jobId;
}

const rows = (sql: string, params: unknown[]) => rig.gw.dataSource.query(sql, params) as Promise<Record<string, unknown>[]>;
const later = () => new Date(Date.now() + 3600_000).toISOString();

describe('package applicability', () => {
  it('gives no task to a target whose capability the package does not list, and says so in the job history', async () => {
    const other = { oid: 'acme-x9-1.0', make: 'Acme', model: 'X9', firmwareVersion: '1.0', dmVersion: '1.2' as const, maxMsgSize: 16384, wbxml: false };
    await rig.gw.deviceManager.createDeviceCapability(ctx, other);
    const x9 = [imeiN(900001), imeiN(900002)];
    for (const [i, deviceId] of x9.entries()) {
      await rig.gw.deviceManager.createDeviceInstance(ctx, { deviceId, phoneNumber: phoneN(900001 + i), capabilityOid: other.oid });
    }
    const contentId = await createContent({ capabilityOids: { oid: [CAPABILITY.oid] } });
    const fleetIds = rig.fleet.devices.slice(0, 3).map((d) => d.devId);
    const jobId = await create({ name: 'FIRMWARE_UPDATE', contentId }, [...fleetIds, ...x9], { startAt: later() });
    const job = await getJob(bulk, jobId);
    expect(job.total).toBe(3);
    const tasks = await rows('SELECT device_id AS deviceId, content_id AS contentId FROM task WHERE job_id = ? ORDER BY job_seq', [jobId]);
    expect(tasks.map((t) => t.deviceId)).toEqual(fleetIds);
    expect(new Set(tasks.map((t) => t.contentId))).toEqual(new Set([contentId]));
    const history = (await rows('SELECT event, detail FROM job_history WHERE job_id = ? ORDER BY seq', [jobId])) as { event: string; detail: string }[];
    const row = history.find((h) => h.event === 'package-not-applicable');
    expect(row?.detail).toContain(`package ${contentId} does not apply to 2 device(s) of capability ${other.oid}`);
    for (const id of x9) expect(row?.detail).toContain(id);
    await call(bulk, 'cancelJob', { userSession: '', jobId });
  });

  it('refuses a rollout of an unknown package, one still awaiting its upload, or one of the wrong kind', async () => {
    const ids = [rig.fleet.devices[0]!.devId];
    await expect(create({ name: 'FIRMWARE_UPDATE', contentId: 'no-such-content' }, ids)).rejects.toThrow(/NotFound|no-such-content/);
    const awaiting = await createContent({ url: undefined });
    await expect(create({ name: 'FIRMWARE_UPDATE', contentId: awaiting }, ids)).rejects.toThrow(/AWAITING_UPLOAD/);
    const software = await createContent({ kind: 'software' });
    await expect(create({ name: 'FIRMWARE_UPDATE', contentId: software }, ids)).rejects.toThrow(/firmware package/);
  });
});

describe('package applicability in doBulkOperation', () => {
  it('refuses the whole call, creating no job, when a request names a package that does not apply to its device', async () => {
    const broker = await soapClient(rig.gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
    const elsewhere = await createContent({ capabilityOids: { oid: ['acme-x9-1.0'] } });
    const fits = await createContent({ capabilityOids: { oid: [CAPABILITY.oid] } });
    const request = (contentId: string, i: number) => ({
      operation: { name: 'FIRMWARE_UPDATE', contentId },
      deviceId: rig.fleet.devices[i]!.devId,
      bOptin: false,
      acceptDevicePolicy: 30,
      testCycle: false,
    });
    const [before] = await rows('SELECT count(*) AS n FROM job', []);
    await expect(call(broker, 'doBulkOperation', { userSession: '', requests: [request(fits, 0), request(elsewhere, 1)] })).rejects.toThrow(
      /requests\[2\].*does not apply.*acme-x1-1.0/,
    );
    const [after] = await rows('SELECT count(*) AS n FROM job', []);
    expect(Number(after!.n)).toBe(Number(before!.n));
  });
});

describe('maxConcurrentDownloads', () => {
  it('releases no more download tasks than the cap until released ones end; an ended task frees its slot', async () => {
    const offline = rig.fleet.devices.slice(3, 8);
    // Offline devices never answer: a released task keeps its slot (NOTIFYING) until it ends.
    for (const d of offline) d.setOnline(false);
    const contentId = await createContent({});
    const jobId = await create({ name: 'FIRMWARE_UPDATE', contentId }, offline.map((d) => d.devId), { maxConcurrentDownloads: 2 });
    const released = async () =>
      (await rows('SELECT task_id AS id, status FROM task WHERE job_id = ? AND released_at IS NOT NULL ORDER BY job_seq', [jobId])) as { id: string; status: string }[];
    await waitFor(async () => ((await released()).length === 2 ? true : undefined), 10_000, 'two released');
    await new Promise((r) => setTimeout(r, 1500));
    expect((await released()).length).toBe(2);
    const [first] = await released();
    await call(bulk, 'cancelTask', { userSession: '', taskId: first!.id });
    await waitFor(async () => ((await released()).length === 3 ? true : undefined), 10_000, 'a third released after one ended');
    await new Promise((r) => setTimeout(r, 1000));
    const now = await released();
    expect(now.length).toBe(3);
    expect(now.filter((t) => t.status !== 'CANCELLED').length).toBe(2);
    await call(bulk, 'cancelJob', { userSession: '', jobId });
    for (const d of offline) d.setOnline(true);
  });
});
