/**
 * DM 2.0 end to end: SOAP doOperation on a device whose capability says
 * dmVersion 2.0; the gateway wakes it, serves it at /dm2 in JSON packages,
 * and the task ends with the same states, results and history as a DM 1.2
 * device's would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dm2SimulatedDevice } from '../../src/simulator/dm2/dm2-device.js';
import { type Dm2Rig, startDm2Rig } from '../support/dm2-rig.js';
import { call, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

let rig: Dm2Rig;
let broker: SoapClient;
let bulk: SoapClient;

beforeAll(async () => {
  rig = await startDm2Rig({ devices: 8 });
  broker = await soapClient(rig.gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
  bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
});
afterAll(() => rig?.stop());

const device = (i: number) => rig.fleet.devices[i] as Dm2SimulatedDevice;

interface TaskData {
  taskId: string;
  status: string;
  resultCode?: number;
  dmStatus?: number;
  results?: { uri: string; value: string }[] | { uri: string; value: string };
}

async function doOperation(i: number, operation: Record<string, unknown>) {
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
  const r = await call<{ taskData: TaskData }>(broker, 'getTaskById', { userSession: '', taskId });
  const t = r.taskData;
  return {
    ...t,
    ...(t.resultCode !== undefined ? { resultCode: Number(t.resultCode) } : {}),
    ...(t.dmStatus !== undefined ? { dmStatus: Number(t.dmStatus) } : {}),
  };
}

const until = (taskId: string, statuses: string[], ms = 20_000) =>
  waitFor(async () => {
    const t = await task(taskId);
    return statuses.includes(t.status) ? t : undefined;
  }, ms, `task ${taskId} to reach ${statuses.join('/')}`);

async function states(taskId: string): Promise<string[]> {
  const r = await call<{ taskHistoryEntry?: { seq: number; toStatus: string }[] }>(bulk, 'getTaskHistory', { userSession: '', taskId });
  const rows = r.taskHistoryEntry ?? [];
  expect(rows.map((h) => Number(h.seq))).toEqual(rows.map((_, i) => i + 1));
  return rows.map((h) => h.toStatus).filter((s, i, a) => s !== a[i - 1]);
}

const resultsOf = (t: TaskData) => (t.results === undefined ? [] : Array.isArray(t.results) ? t.results : [t.results]);

describe('DM 2.0 device driven over SOAP', () => {
  it('QUERY: GET returns the values in the task results', async () => {
    const taskId = await doOperation(0, { name: 'QUERY', commands: [{ command: [{ verb: 'Get', uri: './DevInfo/Mod' }, { verb: 'Get', uri: './DevInfo/DmV' }] }] });
    const t = await until(taskId, ['COMPLETED', 'FAILED']);
    expect(t.status).toBe('COMPLETED');
    expect(resultsOf(t).map((r) => [r.uri, r.value])).toEqual([
      ['./DevInfo/Mod', 'SimPhone-2'],
      ['./DevInfo/DmV', '2.0'],
    ]);
    expect(await states(taskId)).toEqual(['QUEUED', 'NOTIFYING', 'IN_SESSION', 'COMPLETED']);
    await waitFor(() => device(0).sessions.at(-1)?.ok, 5_000, 'the session to end');
    // The first session also asked for DevInfo and DevDetail (the model was unknown): 11 GETs before the task's.
    expect(device(0).sessions.at(-1)?.commands.slice(-4)).toEqual(['GET', 'GET', 'CONT', 'END']);
    const devices = await soapClient(rig.gw.url, 'DeviceManager', { kind: 'text', ...ADMIN });
    const info = (await call<{ deviceInfo: Record<string, unknown> }>(devices, 'getDeviceInfo', { userSession: '', deviceId: device(0).deviceId })).deviceInfo;
    expect(info).toMatchObject({ man: 'DmwsiSim', mod: 'SimPhone-2', dmV: '2.0', fwV: '1.0.0' });
  });

  it('UPDATE: the device HGETs the value from the gateway and stores it', async () => {
    const taskId = await doOperation(1, {
      name: 'UPDATE',
      commands: [{ command: [{ verb: 'Add', uri: './Ext/Sim/Setting', value: 'blue', format: 'chr' }] }],
    });
    expect((await until(taskId, ['COMPLETED', 'FAILED'])).status).toBe('COMPLETED');
    expect(device(1).tree.read('./Ext/Sim/Setting')?.data).toBe('blue');
    await waitFor(() => device(1).sessions.at(-1)?.ok, 5_000, 'the session to end');
    expect(device(1).sessions.at(-1)?.commands.slice(-3)).toEqual(['HGET', 'CONT', 'END']);
  });

  it('DELETE removes the node; a missing node fails the task with the device status', async () => {
    device(2).tree.add('./Ext/Sim/Old', { data: 'x' });
    const ok = await doOperation(2, { name: 'DELETE', commands: [{ command: [{ verb: 'Delete', uri: './Ext/Sim/Old' }] }] });
    expect((await until(ok, ['COMPLETED', 'FAILED'])).status).toBe('COMPLETED');
    expect(device(2).tree.exists('./Ext/Sim/Old')).toBe(false);
    const missing = await doOperation(2, { name: 'DELETE', commands: [{ command: [{ verb: 'Delete', uri: './Ext/Sim/Old' }] }] });
    const t = await until(missing, ['COMPLETED', 'FAILED']);
    expect([t.status, t.dmStatus]).toEqual(['FAILED', 404]);
  });

  it('EXEC, synchronous: the status comes in Package#3', async () => {
    const taskId = await doOperation(3, { name: 'EXEC', commands: [{ command: [{ verb: 'Exec', uri: './Ext/Sim/Reboot' }] }] });
    const t = await until(taskId, ['COMPLETED', 'FAILED']);
    expect([t.status, t.dmStatus]).toEqual(['COMPLETED', 200]);
    expect(device(3).executionCount('./Ext/Sim/Reboot')).toBe(1);
  });

  it('EXEC, asynchronous (awaitResult): 202, IN_PROGRESS, then the Generic Alert to the ServerURI decides', async () => {
    device(4).enableLongExec('./Ext/Sim/Reboot', 300, 200);
    const taskId = await doOperation(4, { name: 'EXEC', awaitResult: true, commands: [{ command: [{ verb: 'Exec', uri: './Ext/Sim/Reboot' }] }] });
    await until(taskId, ['IN_PROGRESS', 'COMPLETED']);
    const t = await until(taskId, ['COMPLETED', 'FAILED']);
    expect([t.status, t.resultCode]).toEqual(['COMPLETED', 200]);
    expect(await states(taskId)).toEqual(['QUEUED', 'NOTIFYING', 'IN_SESSION', 'IN_PROGRESS', 'COMPLETED']);
  });

  it('EXEC, asynchronous, failing: the reported code fails the task', async () => {
    device(5).enableLongExec('./Ext/Sim/Reboot', 100, 500);
    const taskId = await doOperation(5, { name: 'EXEC', awaitResult: true, commands: [{ command: [{ verb: 'Exec', uri: './Ext/Sim/Reboot' }] }] });
    const t = await until(taskId, ['COMPLETED', 'FAILED']);
    expect([t.status, t.resultCode]).toEqual(['FAILED', 500]);
  });

  it('SCHEDULED_EXEC: the SingleShotExec is armed over HGETs and EXEC, runs once at AtTime, and its report completes the task', async () => {
    const atTime = new Date(Date.now() + 2000).toISOString().replace(/\.\d+Z$/, 'Z');
    // Not a FUMO node: the capability declares ./FUMO, and a schedule of a FUMO operation would await its FUMO alert.
    const taskId = await doOperation(6, { name: 'SCHEDULED_EXEC', targetUri: './Ext/Sim/Reboot', atTime });
    await until(taskId, ['SCHEDULED', 'COMPLETED']);
    const t = await until(taskId, ['COMPLETED', 'FAILED', 'MISSED']);
    expect([t.status, t.resultCode]).toEqual(['COMPLETED', 200]);
    expect(device(6).executionCount('./Ext/Sim/Reboot')).toBe(1);
    expect(await states(taskId)).toEqual(['QUEUED', 'NOTIFYING', 'IN_SESSION', 'SCHEDULED', 'COMPLETED']);
  });

  it('wakes DM 2.0 devices with a Package#0 version 2 whose SHA256-DIGEST verifies; a repeated NOTIFICATION-ID opens one session', async () => {
    expect(rig.fleet.notifications.rejected).toBe(0);
    expect(rig.fleet.notifications.sessions).toBeGreaterThan(0);
    const d = device(7);
    const before = d.sessions.length;
    const duplicatesBefore = rig.fleet.notifications.duplicates;
    expect((await rig.gw.deviceCommands.notify(d.deviceId, { sessionId: 0x4242 })).delivered).toBe(true);
    expect((await rig.gw.deviceCommands.notify(d.deviceId, { sessionId: 0x4242 })).delivered).toBe(true);
    await waitFor(() => d.sessions.length > before && d.sessions.at(-1)?.ok, 5000, 'the session');
    await new Promise((r) => setTimeout(r, 300));
    expect(d.sessions.length).toBe(before + 1);
    expect(rig.fleet.notifications.duplicates).toBe(duplicatesBefore + 1);
  });

  it('QUERY on a device without GET: asked again with HPOST, the value goes to the gateway\'s upload store and into the results', async () => {
    const d = device(7);
    d.getSupported = false;
    try {
      const taskId = await doOperation(7, { name: 'QUERY', commands: [{ command: [{ verb: 'Get', uri: './DevInfo/Man' }] }] });
      const t = await until(taskId, ['COMPLETED', 'FAILED']);
      expect(t.status).toBe('COMPLETED');
      expect(resultsOf(t).map((r) => [r.uri, r.value])).toEqual([['./DevInfo/Man', 'DmwsiSim']]);
      await waitFor(() => d.sessions.at(-1)?.ok, 5_000, 'the session to end');
      expect(d.sessions.at(-1)?.commands).toEqual(['GET', 'CONT', 'HPOST', 'CONT', 'END']);
    } finally {
      d.getSupported = true;
    }
  });
});
