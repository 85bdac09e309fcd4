/**
 * The vertical slice: a SOAP client calls doOperation; the gateway queues the
 * task on BullMQ, wakes the simulated device over HTTP, runs the commands in
 * its DM session, and records every step as task history.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from '../../src/main/gateway.js';
import type { SimulatedDevice } from '../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { call, faultOf, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

let rig: DmRig;
let broker: SoapClient;
let bulk: SoapClient;

beforeAll(async () => {
  rig = await startDmRig({ devices: 12 });
  broker = await soapClient(rig.gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
  bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
});
afterAll(() => rig?.stop());

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
const device = (i: number) => rig.fleet.devices[i] as SimulatedDevice;

interface TaskData {
  taskId: string;
  status: string;
  resultCode?: number;
  dmStatus?: number;
  results?: { uri: string; value: string }[];
}

async function doOperation(i: number, operation: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const r = await call<{ taskId: string }>(broker, 'doOperation', {
    userSession: '',
    operation,
    phoneNumber: device(i).phoneNumber,
    bOptin: false,
    acceptDevicePolicy: 30,
    testCycle: false,
    ...extra,
  });
  return r.taskId;
}

async function task(taskId: string): Promise<TaskData> {
  const r = await call<{ taskData: TaskData }>(broker, 'getTaskById', { userSession: '', taskId });
  return { ...r.taskData, ...(r.taskData.resultCode !== undefined ? { resultCode: Number(r.taskData.resultCode) } : {}) };
}

const until = (taskId: string, statuses: string[], ms = 20_000) =>
  waitFor(async () => {
    const t = await task(taskId);
    return statuses.includes(t.status) ? t : undefined;
  }, ms, `task ${taskId} to reach ${statuses.join('/')}`);

async function history(taskId: string) {
  const r = await call<{ taskHistoryEntry?: { seq: number; toStatus: string; event: string; code?: number }[] }>(
    bulk,
    'getTaskHistory',
    { userSession: '', taskId },
  );
  return (r.taskHistoryEntry ?? []).map((h) => ({ seq: Number(h.seq), to: h.toStatus, event: h.event, code: h.code === undefined ? undefined : Number(h.code) }));
}

const sse = (atTime: string, targetUri = './FUMO/fw1/Update') => ({ name: 'SCHEDULED_EXEC', targetUri, atTime });

describe('doOperation SCHEDULED_EXEC, end to end', () => {
  it('arms the schedule, which runs once at AtTime, and history records every step', async () => {
    const taskId = await doOperation(0, sse(inSeconds(2)));
    expect((await until(taskId, ['SCHEDULED'])).dmStatus).toBeDefined();
    const done = await until(taskId, ['COMPLETED']);
    expect(done.resultCode).toBe(200);
    expect(device(0).executionCount('./FUMO/fw1/Update')).toBe(1);
    const h = await history(taskId);
    expect(h.map((x) => x.seq)).toEqual(h.map((_, i) => i + 1));
    const states = h.map((x) => x.to).filter((s, i, a) => s !== a[i - 1]);
    expect(states).toEqual(['QUEUED', 'NOTIFYING', 'IN_SESSION', 'SCHEDULED', 'COMPLETED']);
    expect(h.map((x) => x.event)).toEqual(
      expect.arrayContaining(['created', 'notifying', 'notification-delivered', 'session-started', 'schedule-armed', 'schedule-executed']),
    );
    const status = await call<{ status: string }>(broker, 'getStatus', { userSession: '', taskId });
    expect(status.status).toBe('COMPLETED');
    // The MO is removed in the session that reported it.
    await waitFor(async () => (await history(taskId)).some((x) => x.event === 'schedule-removed'), 10_000, 'cleanup');
  });

  it('fails the task with the target status when the target Exec fails (execfailed)', async () => {
    device(1).tree.failExec('./FUMO/fw1/Update', 500);
    const taskId = await doOperation(1, sse(inSeconds(2)));
    await until(taskId, ['SCHEDULED']);
    const t = await until(taskId, ['FAILED']);
    expect(t.resultCode).toBe(500);
    expect((await history(taskId)).map((x) => x.event)).toContain('target-exec-failed');
  });

  it('fails the task with the Go status when the device refuses to arm (target missing)', async () => {
    const taskId = await doOperation(5, sse(inSeconds(2), './Nowhere/Exec'));
    const t = await until(taskId, ['FAILED']);
    expect(t.dmStatus).toBe(404);
    expect((await history(taskId)).map((x) => x.event)).toContain('schedule-refused');
  });

  it('records MISSED when the device was offline at AtTime', async () => {
    const d = device(2);
    const taskId = await doOperation(2, sse(inSeconds(2)));
    await until(taskId, ['SCHEDULED']);
    d.setOnline(false);
    await new Promise((r) => setTimeout(r, 2500));
    d.setOnline(true);
    const t = await until(taskId, ['MISSED']);
    expect(t.resultCode).toBe(401);
    expect(d.executionCount('./FUMO/fw1/Update')).toBe(0);
  });

  it('cancels a SCHEDULED task before AtTime: the MO is deleted and never runs', async () => {
    const d = device(3);
    const taskId = await doOperation(3, sse(inSeconds(4)));
    await until(taskId, ['SCHEDULED']);
    await call(bulk, 'cancelTask', { userSession: '', taskId });
    await until(taskId, ['CANCELLED']);
    await new Promise((r) => setTimeout(r, 4500));
    expect(d.executionCount('./FUMO/fw1/Update')).toBe(0);
    expect((await history(taskId)).map((x) => x.event)).toEqual(expect.arrayContaining(['cancel-requested', 'schedule-removed']));
    expect((await faultOf(call(bulk, 'cancelTask', { userSession: '', taskId }))).code).toBe('InvalidState');
  });

  it('refuses to cancel after AtTime once the schedule has run (InvalidState), and the history stays true', async () => {
    const taskId = await doOperation(6, sse(inSeconds(2)));
    await until(taskId, ['COMPLETED']);
    expect((await faultOf(call(bulk, 'cancelTask', { userSession: '', taskId }))).code).toBe('InvalidState');
    expect(device(6).executionCount('./FUMO/fw1/Update')).toBe(1);
    expect((await history(taskId)).at(-1)?.to).toBe('COMPLETED');
  });

  it('never executes twice when the gateway restarts between arming and reporting', async () => {
    const d = device(4);
    const taskId = await doOperation(4, sse(inSeconds(3)));
    await until(taskId, ['SCHEDULED']);
    // Stop this gateway and start another on the same database and Redis
    // (rig.stop() still cleans up the first one's files afterwards).
    await rig.gw.close();
    const second = await startGateway({ ...rig.gw.config, port: Number(new URL(rig.gw.url).port) });
    try {
      const client = await soapClient(second.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
      const done = await waitFor(async () => {
        const r = await call<{ taskData: TaskData }>(client, 'getTaskById', { userSession: '', taskId });
        return r.taskData.status === 'COMPLETED' ? r.taskData : undefined;
      }, 20_000, 'completion after restart');
      expect(done.status).toBe('COMPLETED');
      expect(d.executionCount('./FUMO/fw1/Update')).toBe(1);
    } finally {
      await second.close();
    }
  });
});
