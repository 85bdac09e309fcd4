/**
 * FIRMWARE_UPDATE and the SOFTWARE_* operations over SOAP with simulated
 * devices: a package uploaded through PUT /content/{id}, delivered through
 * the signed /dl link, installed, and closed by the device's FUMO/SCOMO
 * final alert; the firmware and inventory the gateway records afterwards;
 * bad input refused before any device is touched.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertCommand } from '../../src/dm/codec/types.js';
import type { FailureKind } from '../../src/simulator/mo/delivery.js';
import { scomoDownloadName } from '../../src/services/broker/mo-plan.js';
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
let maps: string;
let external: http.Server;
let externalUrl: string;

const FIRMWARE = makeSimulatedPackage({ kind: 'firmware', name: 'acme-x1', version: '2.0', size: 64 * 1024 });
const MAPS = makeSimulatedPackage({ kind: 'component', name: 'maps', version: '1.4', size: 16 * 1024 });
const OTHER_MODEL = { ...CAPABILITY, oid: 'other-z9-1.0', make: 'Other', model: 'Z9' };

beforeAll(async () => {
  rig = await startDmRig({
    devices: 17,
    overrides: { longOperationSeconds: 60, taskRetrySeconds: 600 },
    fleet: { fumoRoot: './FUMO', scomoRoot: './SCOMO', delivery: { installMs: 200 } },
  });
  broker = await soapClient(rig.gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
  bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
  devices = await soapClient(rig.gw.url, 'DeviceManager', { kind: 'text', ...ADMIN });
  session = await rig.gw.auth.login(ADMIN.username, ADMIN.password);
  // SCOMO named by the capability; FUMO found on each device (MO discovery).
  await call(devices, 'updateDeviceCapability', { userSession: '', capability: { ...CAPABILITY, scomoRoot: './SCOMO' } });
  await call(devices, 'createDeviceCapability', { userSession: '', capability: OTHER_MODEL });
  firmware = await upload(FIRMWARE, { name: 'acme-x1', version: '2.0', kind: 'firmware', capabilityOids: { oid: [CAPABILITY.oid] } });
  maps = await upload(MAPS, { name: 'maps', version: '1.4', kind: 'software' });
  external = http.createServer((req, res) => {
    if (req.url?.endsWith('/missing')) res.statusCode = 404;
    res.end(MAPS);
  });
  await new Promise<void>((resolve) => external.listen(0, '127.0.0.1', resolve));
  externalUrl = `http://127.0.0.1:${(external.address() as AddressInfo).port}/maps.pkg`;
});
afterAll(async () => {
  external?.close();
  await rig?.stop();
});

const device = (i: number) => rig.fleet.devices[i] as SimulatedDevice;
const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

const createContent = (fields: Record<string, unknown>, bytes: Buffer) =>
  contentUploads(rig.gw.url, () => bulk, () => session).createContent(fields, bytes);
const upload = (bytes: Buffer, fields: Record<string, unknown>) => contentUploads(rig.gw.url, () => bulk, () => session).upload(bytes, fields);

interface TaskData {
  taskId: string;
  status: string;
  resultCode?: number;
  dmStatus?: number;
  results?: { uri: string; value: string }[];
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

async function task(taskId: string): Promise<TaskData> {
  const t = (await call<{ taskData: TaskData }>(broker, 'getTaskById', { userSession: '', taskId })).taskData;
  return { ...t, ...(t.resultCode !== undefined ? { resultCode: Number(t.resultCode) } : {}) };
}

const ENDED = new Set(['COMPLETED', 'FAILED', 'EXPIRED', 'CANCELLED', 'MISSED']);
async function ends(taskId: string, ms = 30_000): Promise<TaskData> {
  return waitFor(async () => {
    const t = await task(taskId);
    return ENDED.has(t.status) ? t : undefined;
  }, ms, `task ${taskId} to end`);
}

async function history(taskId: string) {
  const r = await call<{ taskHistoryEntry?: { toStatus: string; event: string; code?: number; detail?: string }[] }>(bulk, 'getTaskHistory', {
    userSession: '',
    taskId,
  });
  return (r.taskHistoryEntry ?? []).map((h) => ({ to: h.toStatus, event: h.event, code: h.code === undefined ? undefined : Number(h.code), detail: h.detail }));
}

const statesOf = (h: { to: string }[]) => h.map((x) => x.to).filter((s, i, a) => s !== a[i - 1]);

interface DeviceInfoXml {
  fwV?: string;
  components?: { componentId: string; name: string; version: string; state: string }[] | { componentId: string; name: string; version: string; state: string };
  inventoryAt?: Date;
}
const info = async (i: number) =>
  (await call<{ deviceInfo: DeviceInfoXml }>(devices, 'getDeviceInfo', { userSession: '', deviceId: device(i).devId })).deviceInfo;
const componentsOf = (d: DeviceInfoXml) => (d.components === undefined ? [] : Array.isArray(d.components) ? d.components : [d.components]);

/** Waits until the gateway has recorded an inventory read after `since`. */
async function inventoryAfter(i: number, since: number) {
  return waitFor(async () => {
    const d = await info(i);
    return d.inventoryAt && d.inventoryAt.getTime() >= since ? componentsOf(d) : undefined;
  }, 20_000, `device ${i}'s inventory`);
}

function failNext(kind: FailureKind | undefined): void {
  // The fleet's devices share one profile: one failure kind at a time.
  device(0).profile.delivery.failureShares = kind ? { [kind]: 1 } : {};
}

describe('FIRMWARE_UPDATE', () => {
  it('downloads, installs and completes on the FUMO alert, then records the new FwV and links the device to its new firmware capability', async () => {
    const taskId = await doOperation(0, { name: 'FIRMWARE_UPDATE', contentId: firmware });
    const t = await ends(taskId);
    expect(t).toMatchObject({ status: 'COMPLETED', resultCode: 200 });
    const h = await history(taskId);
    expect(statesOf(h)).toEqual(['QUEUED', 'NOTIFYING', 'IN_SESSION', 'IN_PROGRESS', 'COMPLETED']);
    expect(h.find((x) => x.event === 'mo-found')?.detail).toMatch(/FUMO MO at \.\/FUMO/);
    expect(h.find((x) => x.event === 'operation-succeeded')?.detail).toMatch(/200 successful/);
    const fwV = await waitFor(async () => ((await info(0)).fwV === '2.0' ? '2.0' : undefined), 15_000, 'FwV 2.0');
    expect(fwV).toBe('2.0');
    const instance = await rig.gw.deviceManager.getDeviceInstanceByDeviceID(device(0).devId);
    const cap = await rig.gw.deviceManager.getDeviceCapabilityByOid(instance.capabilityOid);
    expect(cap).toMatchObject({ make: 'Acme', model: 'X1', firmwareVersion: '2.0', sseRoot: './SSE' });
    // The device fetched the package once, through the gateway's signed link.
    expect(device(0).delivery.downloadsCompleted).toBe(1);
    expect(device(0).firmwareVersion).toBe('2.0');
  });

  const failures: [FailureKind, number, RegExp][] = [
    ['downloadFailed', 503, /download failed: network error/],
    ['outOfMemory', 501, /download failed: out of memory/],
    ['corruptPackage', 402, /corrupted firmware update package/],
    ['installFailed', 410, /firmware update failed/],
    ['userPostponed', 401, /user cancelled/],
  ];
  failures.forEach(([kind, code, meaning], n) => {
    it(`ends FAILED with ${code} and its meaning when the device reports ${kind}`, async () => {
      failNext(kind);
      try {
        const taskId = await doOperation(1 + n, { name: 'FIRMWARE_UPDATE', contentId: firmware });
        const t = await ends(taskId);
        expect(t).toMatchObject({ status: 'FAILED', resultCode: code });
        expect((await history(taskId)).find((x) => x.event === 'operation-failed')?.detail).toMatch(meaning);
      } finally {
        failNext(undefined);
      }
      expect((await info(1 + n)).fwV).not.toBe('2.0');
    });
  });
});

describe('FIRMWARE_UPDATE of an external package', () => {
  const external404 = () => externalUrl.replace(/maps\.pkg$/, 'missing');
  const cases: [string, () => string, number, RegExp][] = [
    ['a URL the server does not have', external404, 411, /malformed or bad URL/],
    ['a software component where firmware was expected', () => externalUrl, 403, /package \/ device mismatch/],
  ];
  cases.forEach(([what, url, code, meaning], n) => {
    it(`ends FAILED with ${code} and its meaning for ${what}`, async () => {
      const contentId = await createContent({ name: `ext-${n}`, version: '9', kind: 'firmware', url: url() }, MAPS);
      const taskId = await doOperation(14 + n, { name: 'FIRMWARE_UPDATE', contentId });
      expect(await ends(taskId)).toMatchObject({ status: 'FAILED', resultCode: code });
      expect((await history(taskId)).find((x) => x.event === 'operation-failed')?.detail).toMatch(meaning);
    });
  });
});

describe('a job of FIRMWARE_UPDATE', () => {
  it('gives each task its contentId, so its device can fetch the package through the task’s /dl link', async () => {
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', {
      userSession: '',
      operation: { name: 'FIRMWARE_UPDATE', contentId: firmware },
      targets: [device(6).devId],
    });
    const [row] = await rig.gw.dataSource.query('SELECT task_id, content_id FROM task WHERE job_id = ?', [jobId]);
    expect(row.content_id).toBe(firmware);
    expect(await ends(row.task_id)).toMatchObject({ status: 'COMPLETED', resultCode: 200 });
    expect(device(6).firmwareVersion).toBe('2.0');
  });
});

describe('a FUMO client that does not echo the correlator', () => {
  it('has its uncorrelated FUMO alert end the device’s IN_PROGRESS FIRMWARE_UPDATE', async () => {
    // DownloadAndUpdate accepted (202) but no job started: the alert below is the device's report.
    const off = device(8).tree.onExec('./FUMO/DownloadAndUpdate', () => 202);
    try {
      const taskId = await doOperation(8, { name: 'FIRMWARE_UPDATE', contentId: firmware });
      await waitFor(async () => ((await task(taskId)).status === 'IN_PROGRESS' ? true : undefined), 20_000, 'IN_PROGRESS');
      const alert: AlertCommand = {
        kind: 'Alert',
        cmdId: 0,
        data: 1226,
        items: [{ source: { locUri: './FUMO' }, meta: { type: 'org.openmobilealliance.dm.firmwareupdate.downloadandupdate', format: 'int' }, data: '410' }],
      };
      device(8).queueGenericAlert(alert);
      await device(8).runSession({ kind: 'client-initiated' });
      expect(await ends(taskId)).toMatchObject({ status: 'FAILED', resultCode: 410 });
    } finally {
      off();
    }
  });
});

describe('testCycle', () => {
  it('plans a FIRMWARE_UPDATE without contacting the device: the planned commands are in the history', async () => {
    await call(devices, 'updateDeviceCapability', { userSession: '', capability: { ...CAPABILITY, scomoRoot: './SCOMO', fumoRoot: './FUMO' } });
    try {
      const { taskId } = await call<{ taskId: string }>(broker, 'doOperation', {
        userSession: '',
        operation: { name: 'FIRMWARE_UPDATE', contentId: firmware },
        phoneNumber: device(16).phoneNumber,
        bOptin: false,
        acceptDevicePolicy: 30,
        testCycle: true,
      });
      expect((await task(taskId)).status).toBe('COMPLETED');
      const planned = (await history(taskId)).find((x) => x.event === 'test-cycle')?.detail ?? '';
      expect(planned).toContain('./FUMO/DownloadAndUpdate/PkgURL');
      expect(planned).toContain(`exec-${taskId}`);
      expect(device(16).delivery.downloadsStarted).toBe(0);
    } finally {
      await call(devices, 'updateDeviceCapability', { userSession: '', capability: { ...CAPABILITY, scomoRoot: './SCOMO' } });
    }
  });
});

describe('bad input touches no device', () => {
  it('refuses a firmware package for another model (InvalidArgument), an unknown content (NotFound), a software package for FIRMWARE_UPDATE (InvalidArgument) and a package not uploaded (InvalidState)', async () => {
    const otherFirmware = await upload(FIRMWARE, { name: 'other', version: '2.0', kind: 'firmware', capabilityOids: { oid: [OTHER_MODEL.oid] } });
    const pending = await createContent({ name: 'later', version: '1', kind: 'firmware' }, FIRMWARE);
    const fault = (operation: Record<string, unknown>) => faultOf(doOperation(13, operation)).then((f) => f.code);
    expect(await fault({ name: 'FIRMWARE_UPDATE', contentId: otherFirmware })).toBe('InvalidArgument');
    expect(await fault({ name: 'FIRMWARE_UPDATE', contentId: 'no-such-content' })).toBe('NotFound');
    expect(await fault({ name: 'FIRMWARE_UPDATE', contentId: maps })).toBe('InvalidArgument');
    expect(await fault({ name: 'SOFTWARE_INSTALL', contentId: firmware })).toBe('InvalidArgument');
    expect(await fault({ name: 'FIRMWARE_UPDATE', contentId: pending })).toBe('InvalidState');
    expect(await fault({ name: 'SOFTWARE_REMOVE' })).toBe('InvalidArgument');
    expect(await fault({ name: 'FIRMWARE_UPDATE', contentId: firmware, commands: { command: [{ verb: 'Get', uri: './DevInfo/Mod' }] } })).toBe(
      'InvalidArgument',
    );
    const tasks = await call<{ taskData?: unknown[] }>(devices, 'getDeviceTasks', { userSession: '', deviceId: device(13).devId, offset: 0, limit: 10 });
    expect(tasks.taskData ?? []).toEqual([]);
  });
});

describe('SCOMO operations', () => {
  it('installs, deactivates, activates, reads and removes a component, the recorded inventory matching each step', async () => {
    let since = Date.now();
    const install = await doOperation(7, { name: 'SOFTWARE_INSTALL', contentId: maps });
    expect(await ends(install)).toMatchObject({ status: 'COMPLETED', resultCode: 1200 });
    expect(statesOf(await history(install))).toEqual(['QUEUED', 'NOTIFYING', 'IN_SESSION', 'IN_PROGRESS', 'COMPLETED']);
    expect(await inventoryAfter(7, since)).toEqual([{ componentId: 'maps', name: 'maps', version: '1.4', state: 'ACTIVE' }]);
    // The Download/<X> the install added is removed once it has ended.
    const staged = `./SCOMO/Download/${scomoDownloadName(install)}`;
    await waitFor(async () => (device(7).tree.exists(staged) ? undefined : true), 10_000, `${staged} removed`);
    expect((await history(install)).find((x) => x.event === 'download-node-removed')?.detail).toBe(`${staged}: 200`);

    for (const [name, state] of [
      ['SOFTWARE_DEACTIVATE', 'INACTIVE'],
      ['SOFTWARE_ACTIVATE', 'ACTIVE'],
    ] as const) {
      since = Date.now();
      const taskId = await doOperation(7, { name, componentId: 'maps' });
      expect(await ends(taskId)).toMatchObject({ status: 'COMPLETED', resultCode: 1200 });
      expect(await inventoryAfter(7, since)).toEqual([{ componentId: 'maps', name: 'maps', version: '1.4', state }]);
    }

    since = Date.now();
    const read = await doOperation(7, { name: 'SOFTWARE_INVENTORY' });
    const r = await ends(read);
    expect(r.status).toBe('COMPLETED');
    const results = Array.isArray(r.results) ? r.results : r.results ? [r.results] : [];
    expect(results).toEqual(
      expect.arrayContaining([
        { uri: './SCOMO/Inventory/Deployed/maps/ID', value: 'maps', format: 'chr' },
        { uri: './SCOMO/Inventory/Deployed/maps/Version', value: '1.4', format: 'chr' },
      ]),
    );
    expect(await inventoryAfter(7, since)).toEqual([{ componentId: 'maps', name: 'maps', version: '1.4', state: 'ACTIVE' }]);

    since = Date.now();
    const remove = await doOperation(7, { name: 'SOFTWARE_REMOVE', componentId: 'maps' });
    expect(await ends(remove)).toMatchObject({ status: 'COMPLETED', resultCode: 1200 });
    expect(await inventoryAfter(7, since)).toEqual([]);
  });

  it('installs inactive with activate false', async () => {
    const since = Date.now();
    const taskId = await doOperation(9, { name: 'SOFTWARE_INSTALL', contentId: maps, activate: false });
    expect(await ends(taskId)).toMatchObject({ status: 'COMPLETED', resultCode: 1200 });
    expect(await inventoryAfter(9, since)).toEqual([{ componentId: 'maps', name: 'maps', version: '1.4', state: 'INACTIVE' }]);
  });

  it('fails an operation on a component the device does not have, and an install whose download fails with 1402 and its meaning', async () => {
    const missing = await doOperation(10, { name: 'SOFTWARE_ACTIVATE', componentId: 'nothing-here' });
    expect((await ends(missing)).status).toBe('FAILED');
    failNext('downloadFailed');
    try {
      const taskId = await doOperation(11, { name: 'SOFTWARE_INSTALL', contentId: maps });
      expect(await ends(taskId)).toMatchObject({ status: 'FAILED', resultCode: 1402 });
      expect((await history(taskId)).find((x) => x.event === 'operation-failed')?.detail).toMatch(/download failed/);
    } finally {
      failNext(undefined);
    }
  });

  it('keeps a scheduled install IN_PROGRESS after the SingleShotExec report until its SCOMO alert', async () => {
    const staged = await doOperation(12, {
      name: 'UPDATE',
      commands: {
        command: [
          { verb: 'Add', uri: './SCOMO/Download/later', format: 'node' },
          { verb: 'Add', uri: './SCOMO/Download/later/PkgID', value: 'later-1' },
          { verb: 'Add', uri: './SCOMO/Download/later/Name', value: 'maps' },
          { verb: 'Add', uri: './SCOMO/Download/later/PkgURL', value: externalUrl },
        ],
      },
    });
    expect((await ends(staged)).status).toBe('COMPLETED');
    // Long enough for the alert to come after the report's own session.
    device(12).profile.delivery.installMs = 1500;
    try {
      const since = Date.now();
      const taskId = await doOperation(12, { name: 'SCHEDULED_EXEC', targetUri: './SCOMO/Download/later/Operations/DownloadInstall', atTime: inSeconds(2) });
      await waitFor(async () => ((await task(taskId)).status === 'IN_PROGRESS' ? true : undefined), 20_000, 'IN_PROGRESS');
      expect((await history(taskId)).find((x) => x.event === 'schedule-executed')).toMatchObject({ to: 'IN_PROGRESS', code: 200 });
      const t = await ends(taskId);
      expect(t).toMatchObject({ status: 'COMPLETED', resultCode: 1200 });
      expect(statesOf(await history(taskId))).toEqual(['QUEUED', 'NOTIFYING', 'IN_SESSION', 'SCHEDULED', 'IN_PROGRESS', 'COMPLETED']);
      expect(since).toBeLessThan(Date.now());
    } finally {
      device(12).profile.delivery.installMs = 200;
    }
  });
});
