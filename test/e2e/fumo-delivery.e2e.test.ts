/**
 * The FUMO delivery modes a capability's fumoDelivery chooses, over SOAP with
 * simulated devices: Download then Update (the Update queued by the Download's
 * success alert), and inline (the package's bytes as a Large Object Replace of
 * Update/PkgData, then Exec Update); an inline package past the limit refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INLINE_FUMO_MAX_BYTES } from '../../src/services/broker/mo-plan.js';
import type { FailureKind } from '../../src/simulator/mo/delivery.js';
import { makeSimulatedPackage } from '../../src/simulator/mo/package.js';
import type { SimulatedDevice } from '../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { contentUploads } from '../support/content.js';
import { CAPABILITY } from '../support/fixtures.js';
import { call, faultOf, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

let rig: DmRig;
let broker: SoapClient;
let bulk: SoapClient;
let devices: SoapClient;
let session: string;
let firmware: string;

// Bigger than the devices' MaxMsgSize (16 KiB): inline, it can only go as a Large Object.
const FIRMWARE = makeSimulatedPackage({ kind: 'firmware', name: 'acme-x1', version: '2.0', size: 64 * 1024 });

beforeAll(async () => {
  rig = await startDmRig({
    devices: 6,
    overrides: { longOperationSeconds: 60, taskRetrySeconds: 600 },
    fleet: { fumoRoot: './FUMO', delivery: { installMs: 200 } },
  });
  broker = await soapClient(rig.gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
  bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
  devices = await soapClient(rig.gw.url, 'DeviceManager', { kind: 'text', ...ADMIN });
  session = await rig.gw.auth.login(ADMIN.username, ADMIN.password);
  firmware = await upload(FIRMWARE, { name: 'acme-x1', version: '2.0', kind: 'firmware' });
});
afterAll(async () => {
  await rig?.stop();
});

const device = (i: number) => rig.fleet.devices[i] as SimulatedDevice;

const createContent = (fields: Record<string, unknown>, bytes: Buffer) =>
  contentUploads(rig.gw.url, () => bulk, () => session).createContent(fields, bytes);
const upload = (bytes: Buffer, fields: Record<string, unknown>) => contentUploads(rig.gw.url, () => bulk, () => session).upload(bytes, fields);

function fumoDelivery(mode: string): Promise<unknown> {
  return call(devices, 'updateDeviceCapability', { userSession: '', capability: { ...CAPABILITY, fumoRoot: './FUMO', fumoDelivery: mode } });
}

function doOperation(i: number, operation: Record<string, unknown>): Promise<string> {
  return call<{ taskId: string }>(broker, 'doOperation', {
    userSession: '',
    operation,
    phoneNumber: device(i).phoneNumber,
    bOptin: false,
    acceptDevicePolicy: 30,
    testCycle: false,
  }).then((r) => r.taskId);
}

interface TaskData {
  taskId: string;
  status: string;
  resultCode?: number;
}

const ENDED = new Set(['COMPLETED', 'FAILED', 'EXPIRED', 'CANCELLED', 'MISSED']);
async function ends(taskId: string, ms = 30_000): Promise<TaskData> {
  return waitFor(async () => {
    const t = (await call<{ taskData: TaskData }>(broker, 'getTaskById', { userSession: '', taskId })).taskData;
    return ENDED.has(t.status) ? { ...t, ...(t.resultCode !== undefined ? { resultCode: Number(t.resultCode) } : {}) } : undefined;
  }, ms, `task ${taskId} to end`);
}

async function history(taskId: string) {
  const r = await call<{ taskHistoryEntry?: { toStatus: string; event: string; detail?: string }[] }>(bulk, 'getTaskHistory', { userSession: '', taskId });
  return (r.taskHistoryEntry ?? []).map((h) => ({ to: h.toStatus, event: h.event, detail: h.detail }));
}
const events = (h: { event: string }[]) => h.map((x) => x.event);

const fwVOf = async (i: number) =>
  (await call<{ deviceInfo: { fwV?: string } }>(devices, 'getDeviceInfo', { userSession: '', deviceId: device(i).devId })).deviceInfo.fwV;

function failNext(kind: FailureKind | undefined): void {
  // The fleet's devices share one profile: one failure kind at a time.
  device(0).profile.delivery.failureShares = kind ? { [kind]: 1 } : {};
}

describe('fumoDelivery in the device capability', () => {
  it('is refused with InvalidArgument when it names no delivery mode', async () => {
    expect((await faultOf(fumoDelivery('sideways'))).code).toBe('InvalidArgument');
  });
});

describe('FIRMWARE_UPDATE with fumoDelivery downloadThenUpdate', () => {
  beforeAll(() => fumoDelivery('downloadThenUpdate'));

  it('downloads, then on the Download alert execs Update, completes on the Update alert and records the new FwV', async () => {
    const taskId = await doOperation(0, { name: 'FIRMWARE_UPDATE', contentId: firmware });
    expect(await ends(taskId)).toMatchObject({ status: 'COMPLETED', resultCode: 200 });
    const h = await history(taskId);
    expect(events(h)).toEqual(expect.arrayContaining(['downloaded', 'update-accepted', 'operation-succeeded']));
    expect(events(h).indexOf('downloaded')).toBeLessThan(events(h).indexOf('operation-succeeded'));
    expect(h.find((x) => x.event === 'downloaded')).toMatchObject({ to: 'IN_PROGRESS', detail: expect.stringMatching(/FUMO Download: 200/) });
    expect(h.find((x) => x.event === 'operation-succeeded')?.detail).toMatch(/FUMO Update: 200/);
    expect(await waitFor(async () => ((await fwVOf(0)) === '2.0' ? '2.0' : undefined), 15_000, 'FwV 2.0')).toBe('2.0');
    expect(device(0).firmwareVersion).toBe('2.0');
    expect(device(0).delivery.downloadsCompleted).toBe(1);
  });

  it('ends FAILED with the meaning of a failing Download, never execing Update', async () => {
    failNext('downloadFailed');
    try {
      const taskId = await doOperation(1, { name: 'FIRMWARE_UPDATE', contentId: firmware });
      expect(await ends(taskId)).toMatchObject({ status: 'FAILED', resultCode: 503 });
      const h = await history(taskId);
      expect(h.find((x) => x.event === 'operation-failed')?.detail).toMatch(/FUMO Download: 503 download failed: network error/);
      expect(events(h)).not.toContain('downloaded');
    } finally {
      failNext(undefined);
    }
    expect(device(1).firmwareVersion).not.toBe('2.0');
  });

  it('ends FAILED with the meaning of a failing Update after a good Download', async () => {
    failNext('installFailed');
    try {
      const taskId = await doOperation(2, { name: 'FIRMWARE_UPDATE', contentId: firmware });
      expect(await ends(taskId)).toMatchObject({ status: 'FAILED', resultCode: 410 });
      const h = await history(taskId);
      expect(events(h)).toContain('downloaded');
      expect(h.find((x) => x.event === 'operation-failed')?.detail).toMatch(/FUMO Update: 410 firmware update failed/);
    } finally {
      failNext(undefined);
    }
    expect(device(2).firmwareVersion).not.toBe('2.0');
  });
});

describe('FIRMWARE_UPDATE with fumoDelivery inline', () => {
  beforeAll(() => fumoDelivery('inline'));

  it('puts a package bigger than the MaxMsgSize in Update/PkgData as a Large Object, execs Update and completes with the new FwV', async () => {
    // The server's messages as the devices receive them (the fleet shares one transport).
    const profile = device(3).profile;
    const transport = profile.transport;
    const pkgDataMessages: Buffer[] = [];
    profile.transport = {
      post: async (url, body, headers) => {
        const res = await transport.post(url, body, headers);
        if (res.body.includes('Update/PkgData')) pkgDataMessages.push(res.body);
        return res;
      },
    };
    let taskId: string;
    try {
      taskId = await doOperation(3, { name: 'FIRMWARE_UPDATE', contentId: firmware });
      expect(await ends(taskId)).toMatchObject({ status: 'COMPLETED', resultCode: 200 });
    } finally {
      profile.transport = transport;
    }
    // A Large Object: several messages, each within the device's MaxMsgSize, all but the last chunk with MoreData.
    expect(pkgDataMessages.length).toBeGreaterThan(1);
    for (const m of pkgDataMessages) expect(m.length).toBeLessThanOrEqual(profile.maxMsgSize);
    expect(pkgDataMessages.filter((m) => m.includes('<MoreData')).length).toBe(pkgDataMessages.length - 1);
    expect((await history(taskId)).find((x) => x.event === 'operation-succeeded')?.detail).toMatch(/FUMO Update: 200/);
    expect(await waitFor(async () => ((await fwVOf(3)) === '2.0' ? '2.0' : undefined), 15_000, 'FwV 2.0')).toBe('2.0');
    // Nothing fetched: the bytes came in the session.
    expect(device(3).delivery.downloadsStarted).toBe(0);
    expect(device(3).firmwareVersion).toBe('2.0');
  });

  it('refuses with InvalidArgument a package over the inline limit, and an external one, touching no device', async () => {
    const big = makeSimulatedPackage({ kind: 'firmware', name: 'acme-x1-big', version: '3.0', size: INLINE_FUMO_MAX_BYTES + 1024 });
    const tooBig = await upload(big, { name: 'acme-x1-big', version: '3.0', kind: 'firmware' });
    const external = await createContent({ name: 'acme-x1-ext', version: '3.0', kind: 'firmware', url: 'http://127.0.0.1:9/fw.pkg' }, FIRMWARE);
    for (const contentId of [tooBig, external]) {
      expect((await faultOf(doOperation(4, { name: 'FIRMWARE_UPDATE', contentId }))).code).toBe('InvalidArgument');
    }
    const tasks = await call<{ taskData?: unknown[] }>(devices, 'getDeviceTasks', { userSession: '', deviceId: device(4).devId, offset: 0, limit: 10 });
    expect(tasks.taskData ?? []).toEqual([]);
  });
});
