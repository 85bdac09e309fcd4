/**
 * Long operations over SOAP with simulated devices: an Exec the device
 * answers 202 and finishes later (awaitResult), a schedule whose target is a
 * FUMO operation, and what care tools read about a device.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertCommand } from '../../src/dm/codec/types.js';
import { TypeormInventoryStore } from '../../src/persistence/inventory-store.js';
import { enableLongExec } from '../../src/simulator/long-exec.js';
import type { SimulatedDevice } from '../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { CAPABILITY } from '../support/fixtures.js';
import { call, faultOf, type SoapClient, soapClient } from '../support/soap.js';
import { countersAsStatuses, getJob, jobReaches, taskCounts } from '../support/jobs.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

let rig: DmRig;
let broker: SoapClient;
let bulk: SoapClient;
let devices: SoapClient;

beforeAll(async () => {
  rig = await startDmRig({ devices: 11, overrides: { longOperationSeconds: 5, taskRetrySeconds: 600 } });
  broker = await soapClient(rig.gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
  bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
  devices = await soapClient(rig.gw.url, 'DeviceManager', { kind: 'text', ...ADMIN });
});
afterAll(() => rig?.stop());

const device = (i: number) => rig.fleet.devices[i] as SimulatedDevice;
const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

interface TaskData {
  taskId: string;
  status: string;
  resultCode?: number;
  dmStatus?: number;
}

async function doOperation(i: number, operation: Record<string, unknown>): Promise<string> {
  const r = await call<{ taskId: string }>(broker, 'doOperation', {
    userSession: '',
    operation,
    phoneNumber: device(i).phoneNumber,
    bOptin: false,
    acceptDevicePolicy: 30,
    testCycle: false,
  });
  return r.taskId;
}

async function task(taskId: string): Promise<TaskData> {
  const t = (await call<{ taskData: TaskData }>(broker, 'getTaskById', { userSession: '', taskId })).taskData;
  return {
    ...t,
    ...(t.resultCode !== undefined ? { resultCode: Number(t.resultCode) } : {}),
    ...(t.dmStatus !== undefined ? { dmStatus: Number(t.dmStatus) } : {}),
  };
}

const until = (taskId: string, status: string, ms = 20_000) =>
  waitFor(async () => {
    const t = await task(taskId);
    return t.status === status ? t : undefined;
  }, ms, `task ${taskId} to reach ${status}`);

async function history(taskId: string) {
  const r = await call<{ taskHistoryEntry?: { toStatus: string; event: string; code?: number; detail?: string }[] }>(
    bulk,
    'getTaskHistory',
    { userSession: '', taskId },
  );
  return (r.taskHistoryEntry ?? []).map((h) => ({ to: h.toStatus, event: h.event, code: h.code === undefined ? undefined : Number(h.code), detail: h.detail }));
}

const exec = (uri: string, awaitResult?: boolean) => ({
  name: 'EXEC',
  commands: { command: [{ verb: 'Exec', uri }] },
  ...(awaitResult !== undefined ? { awaitResult } : {}),
});

/** The device sends a Generic Alert in a session of its own. */
async function deviceReports(i: number, correlator: string | undefined, type: string, data: string, source = './Ext/Sim/Install'): Promise<void> {
  const alert: AlertCommand = {
    kind: 'Alert',
    cmdId: 0,
    data: 1226,
    ...(correlator !== undefined ? { correlator } : {}),
    items: [{ source: { locUri: source }, meta: { type, format: 'chr' }, data }],
  };
  device(i).queueGenericAlert(alert);
  await device(i).runSession({ kind: 'client-initiated' });
}

async function alertsOf(deviceId: string): Promise<{ correlator: string | null; handled: boolean | number }[]> {
  return rig.gw.dataSource.query('SELECT correlator, handled FROM device_alert WHERE device_id = ? ORDER BY id', [deviceId]);
}

describe('an EXEC the device answers 202', () => {
  it('with awaitResult waits IN_PROGRESS for the alert carrying its correlator, then completes with its result code', async () => {
    enableLongExec(device(0), { uri: './Ext/Sim/Install', afterMs: 1500 });
    const taskId = await doOperation(0, exec('./Ext/Sim/Install', true));
    const waiting = await until(taskId, 'IN_PROGRESS');
    expect(waiting.dmStatus).toBe(202);
    const done = await until(taskId, 'COMPLETED');
    expect(done.resultCode).toBe(200);
    const h = await history(taskId);
    const states = h.map((x) => x.to).filter((s, i, a) => s !== a[i - 1]);
    expect(states).toEqual(['QUEUED', 'NOTIFYING', 'IN_SESSION', 'IN_PROGRESS', 'COMPLETED']);
    expect(h.find((x) => x.event === 'operation-succeeded')).toMatchObject({ code: 200 });
    expect(await alertsOf(device(0).devId)).toEqual([{ correlator: `exec-${taskId}`, handled: expect.anything() }]);
    expect(Boolean((await alertsOf(device(0).devId))[0]!.handled)).toBe(true);
  });

  it('with awaitResult fails the task when the final alert reports a result code outside 2xx', async () => {
    enableLongExec(device(1), { uri: './Ext/Sim/Install', afterMs: 500, resultCode: 410 });
    const taskId = await doOperation(1, exec('./Ext/Sim/Install', true));
    const t = await until(taskId, 'FAILED');
    expect(t.resultCode).toBe(410);
    expect((await history(taskId)).map((x) => x.event)).toContain('operation-failed');
  });

  it('without awaitResult completes at once with 202, as before', async () => {
    enableLongExec(device(2), { uri: './Ext/Sim/Install', afterMs: 60_000 });
    const taskId = await doOperation(2, exec('./Ext/Sim/Install'));
    const t = await until(taskId, 'COMPLETED');
    expect(t.dmStatus).toBe(202);
    expect((await history(taskId)).map((x) => x.to)).not.toContain('IN_PROGRESS');
  });

  it('keeps the task IN_PROGRESS for an alert without a result code: recorded as unhandled, the history says why', async () => {
    device(3).addExecTarget('./Ext/Sim/Install');
    device(3).tree.onExec('./Ext/Sim/Install', () => 202);
    const taskId = await doOperation(3, exec('./Ext/Sim/Install', true));
    await until(taskId, 'IN_PROGRESS');
    await deviceReports(3, `exec-${taskId}`, 'org.example.install', 'done');
    await waitFor(async () => ((await history(taskId)).some((x) => x.event === 'final-alert-ignored') ? true : undefined), 10_000, 'ignored');
    expect((await task(taskId)).status).toBe('IN_PROGRESS');
    const recorded = await alertsOf(device(3).devId);
    expect(recorded.map((a) => [a.correlator, Boolean(a.handled)])).toEqual([[`exec-${taskId}`, false]]);
    // An alert for a task that does not exist is recorded, unhandled, too.
    await deviceReports(3, 'exec-no-such-task', 'org.example.install', '200');
    expect((await alertsOf(device(3).devId)).map((a) => Boolean(a.handled))).toEqual([false, false]);
  });

  it('refuses to cancel an IN_PROGRESS task (InvalidState) and EXPIRES it after LONG_OPERATION_SECONDS without a final alert', async () => {
    device(4).addExecTarget('./Ext/Sim/Install');
    device(4).tree.onExec('./Ext/Sim/Install', () => 202);
    const taskId = await doOperation(4, exec('./Ext/Sim/Install', true));
    await until(taskId, 'IN_PROGRESS');
    expect((await faultOf(call(bulk, 'cancelTask', { userSession: '', taskId }))).code).toBe('InvalidState');
    await until(taskId, 'EXPIRED', 15_000);
    expect((await history(taskId)).map((x) => x.event)).toContain('long-operation-timeout');
  });
});

describe('a job of EXECs with awaitResult', () => {
  it('counts its tasks inProgress while the devices work, and completes when every final alert is in', async () => {
    for (const i of [9, 10]) enableLongExec(device(i), { uri: './Ext/Sim/Install', afterMs: 3000 });
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', {
      userSession: '',
      operation: exec('./Ext/Sim/Install', true),
      targets: [device(9).devId, device(10).devId],
    });
    const waiting = await waitFor(async () => {
      const j = await getJob(bulk, jobId);
      return j.inProgress === 2 ? j : undefined;
    }, 15_000, 'both tasks IN_PROGRESS');
    expect(waiting.status).toBe('RUNNING');
    const done = await jobReaches(bulk, jobId, ['COMPLETED', 'COMPLETED_WITH_ERRORS']);
    expect(done).toMatchObject({ status: 'COMPLETED', completed: 2, inProgress: 0 });
    expect(await taskCounts(bulk, jobId)).toEqual(countersAsStatuses(done));
  });
});

describe('a SCHEDULED_EXEC whose target is a FUMO operation', () => {
  it('stays IN_PROGRESS after the SingleShotExec report until the FUMO alert, which completes it', async () => {
    await call(devices, 'updateDeviceCapability', { userSession: '', capability: { ...CAPABILITY, fumoRoot: './FUMO' } });
    const taskId = await doOperation(5, { name: 'SCHEDULED_EXEC', targetUri: './FUMO/fw1/Update', atTime: inSeconds(2) });
    await until(taskId, 'IN_PROGRESS');
    expect((await history(taskId)).find((x) => x.event === 'schedule-executed')).toMatchObject({ to: 'IN_PROGRESS', code: 200 });
    await deviceReports(5, `sse-${taskId}`, 'org.openmobilealliance.dm.firmwareupdate.update', '200');
    const t = await until(taskId, 'COMPLETED');
    expect(t.resultCode).toBe(200);
    await call(devices, 'updateDeviceCapability', { userSession: '', capability: CAPABILITY });
  });

  it('is ended by a FUMO alert without a correlator whose Source names its target, read by the FUMO table', async () => {
    await call(devices, 'updateDeviceCapability', { userSession: '', capability: { ...CAPABILITY, fumoRoot: './FUMO' } });
    const taskId = await doOperation(8, { name: 'SCHEDULED_EXEC', targetUri: './FUMO/fw1/DownloadAndUpdate', atTime: inSeconds(2) });
    await until(taskId, 'IN_PROGRESS');
    // Another node's alert, and a code outside the FUMO table, change nothing.
    await deviceReports(8, undefined, 'org.openmobilealliance.dm.firmwareupdate.downloadandupdate', '200', './FUMO/fw2');
    await deviceReports(8, undefined, 'org.openmobilealliance.dm.firmwareupdate.downloadandupdate', '999', './FUMO/fw1');
    await waitFor(async () => ((await history(taskId)).some((x) => x.event === 'final-alert-ignored') ? true : undefined), 10_000, 'ignored');
    expect((await task(taskId)).status).toBe('IN_PROGRESS');
    await deviceReports(8, undefined, 'org.openmobilealliance.dm.firmwareupdate.downloadandupdate', '402', './FUMO/fw1');
    const t = await until(taskId, 'FAILED');
    expect(t.resultCode).toBe(402);
    const uncorrelated = (await alertsOf(device(8).devId)).filter((a) => a.correlator === null);
    expect(uncorrelated.map((a) => Boolean(a.handled))).toEqual([false, false, true]);
    await call(devices, 'updateDeviceCapability', { userSession: '', capability: CAPABILITY });
  });
});

describe('device views', () => {
  it('getDeviceTasks lists every task of the device, newest first, paged', async () => {
    const first = await doOperation(6, { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Mod' }] } });
    await until(first, 'COMPLETED');
    const second = await doOperation(6, { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Man' }] } });
    await until(second, 'COMPLETED');
    const all = await call<{ taskData?: TaskData[] }>(devices, 'getDeviceTasks', { userSession: '', deviceId: device(6).devId, offset: 0, limit: 10 });
    expect((all.taskData ?? []).map((t) => t.taskId)).toEqual([second, first]);
    const paged = await call<{ taskData?: TaskData[] }>(devices, 'getDeviceTasks', { userSession: '', deviceId: device(6).devId, offset: 1, limit: 1 });
    expect((paged.taskData ?? []).map((t) => t.taskId)).toEqual([first]);
    const unknown = faultOf(call(devices, 'getDeviceTasks', { userSession: '', deviceId: 'IMEI:490154203237518', offset: 0, limit: 10 }));
    expect((await unknown).code).toBe('NotFound');
  });

  it('getDeviceInfo returns what the device reported in its sessions, and its inventory as last recorded', async () => {
    const taskId = await doOperation(7, { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Mod' }] } });
    await until(taskId, 'COMPLETED');
    const deviceId = device(7).devId;
    const info = await waitFor(async () => {
      const r = await call<{ deviceInfo: Record<string, unknown> }>(devices, 'getDeviceInfo', { userSession: '', deviceId });
      return r.deviceInfo.fwV !== undefined ? r.deviceInfo : undefined;
    }, 10_000, 'DevDetail');
    expect(info).toMatchObject({ deviceId, man: expect.any(String), mod: expect.any(String), fwV: expect.any(String) });
    expect(info.reportedAt).toBeInstanceOf(Date);
    expect(info.components ?? []).toEqual([]);
    expect(info.inventoryAt).toBeUndefined();
    const inventory = new TypeormInventoryStore(rig.gw.dataSource.manager);
    await inventory.record(deviceId, [{ componentId: 'app-1', name: 'Maps', version: '2.1', state: 'ACTIVE' }], Date.parse('2026-01-02T03:04:05Z'));
    const after = (await call<{ deviceInfo: Record<string, unknown> }>(devices, 'getDeviceInfo', { userSession: '', deviceId })).deviceInfo;
    expect(after.components).toEqual([{ componentId: 'app-1', name: 'Maps', version: '2.1', state: 'ACTIVE' }]);
    expect((after.inventoryAt as Date).toISOString()).toBe('2026-01-02T03:04:05.000Z');
  });

  it('getJobHistory pages a job’s events in order, naming the caller of each call that changed it', async () => {
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', {
      userSession: '',
      operation: { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Mod' }] } },
      targets: [device(2).devId],
      // Paused and restarted before it starts: restarting gives back CREATED, and the job starts at startAt.
      options: { startAt: new Date(Date.now() + 4_000).toISOString() },
    });
    await call(bulk, 'pauseJob', { userSession: '', jobId });
    await call(bulk, 'restartJob', { userSession: '', jobId });
    await jobReaches(bulk, jobId, ['COMPLETED']);
    const r = await call<{ jobHistoryEntry?: { seq: number; event: string; by?: string }[] }>(bulk, 'getJobHistory', { userSession: '', jobId, offset: 0, limit: 10 });
    const entries = (r.jobHistoryEntry ?? []).map((h) => ({ seq: Number(h.seq), event: h.event, by: h.by }));
    expect(entries.slice(0, 3)).toEqual([
      { seq: 1, event: 'created', by: 'admin' },
      { seq: 2, event: 'paused', by: 'admin' },
      { seq: 3, event: 'restarted', by: 'admin' },
    ]);
    expect(entries.at(-1)).toMatchObject({ event: 'all-tasks-ended', by: undefined });
    const page = await call<{ jobHistoryEntry?: { seq: number }[] }>(bulk, 'getJobHistory', { userSession: '', jobId, offset: 1, limit: 1 });
    expect((page.jobHistoryEntry ?? []).map((h) => Number(h.seq))).toEqual([2]);
    expect((await faultOf(call(bulk, 'getJobHistory', { userSession: '', jobId: 'no-such-job', offset: 0, limit: 10 }))).code).toBe('NotFound');
  });
});
