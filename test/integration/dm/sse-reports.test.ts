/**
 * What becomes of a SingleShotExec after it is armed: which Generic Alert
 * counts as its report (seed 000 §6.3), and how its MO leaves the device
 * once the task has ended, reported or not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSyncMl } from '../../../src/dm/codec/index.js';
import type { AlertCommand } from '../../../src/dm/codec/types.js';
import { TypeormDeviceAlertStore } from '../../../src/persistence/alert-store.js';
import { SSE_ALERT } from '../../../src/services/broker/interpret.js';
import { sseNodeUri } from '../../../src/services/broker/plan.js';
import { createHttpTransport, type DmTransport, type SimulatedDevice } from '../../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';
import { CAPABILITY } from '../../support/fixtures.js';
import { waitFor } from '../../support/wait.js';

let rig: DmRig;
const real = createHttpTransport();
/** Per device: the sessions it opened (messages with MsgID 1), and whether the gateway started them. */
const sessions = new Map<string, { server: boolean; at: number }[]>();
const transport: DmTransport = {
  post(url, body, headers) {
    const message = parseSyncMl(body, headers['content-type'] ?? 'application/vnd.syncml.dm+xml').message;
    if (message.header.msgId === 1) {
      const server = message.body.some((c) => c.kind === 'Alert' && c.data === 1200);
      const list = sessions.get(message.header.source.locUri) ?? [];
      list.push({ server, at: Date.now() });
      sessions.set(message.header.source.locUri, list);
    }
    return real.post(url, body, headers);
  },
};
/** The gateway's clock, which a test may move forward (past a report's grace). */
const clock = { offset: 0, now: () => Date.now() + clock.offset };

beforeAll(async () => {
  rig = await startDmRig({ devices: 6, fleet: { transport }, gateway: { clock }, overrides: { taskRetrySeconds: 600 } });
});
afterAll(async () => {
  await rig?.stop();
  real.close();
});

const device = (i: number) => rig.fleet.devices[i] as SimulatedDevice;
const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
const moOf = (taskId: string) => sseNodeUri(CAPABILITY.sseRoot!, taskId);
const statusOf = async (taskId: string) => (await rig.gw.broker.getTask(taskId)).status;
const reaches = (taskId: string, status: string, ms = 15_000) =>
  waitFor(async () => ((await statusOf(taskId)) === status ? true : undefined), ms, `${taskId} to be ${status}`);
const events = async (taskId: string) => (await rig.gw.broker.getTaskHistory(taskId)).map((h) => h.event);
const sessionsOf = (i: number) => sessions.get(device(i).devId) ?? [];

async function arm(i: number, atTime: string): Promise<string> {
  const taskId = await rig.gw.broker.doOperation(
    { caller: 'test', operation: 'doOperation' },
    {
      operation: { name: 'SCHEDULED_EXEC', targetUri: './FUMO/fw1/Update', atTime, commands: [] },
      phoneNumber: device(i).phoneNumber!,
      bOptin: false,
      acceptDevicePolicy: 30,
      testCycle: false,
    },
  );
  await reaches(taskId, 'SCHEDULED');
  await rig.fleet.idle();
  return taskId;
}

function report(taskId: string, alertType: string, source: string, format = 'int'): AlertCommand {
  return {
    kind: 'Alert',
    cmdId: 0,
    data: 1226,
    correlator: `sse-${taskId}`,
    items: [{ source: { locUri: source }, meta: { type: alertType, format }, data: '200' }],
  };
}

describe('a Generic Alert with a task’s correlator', () => {
  it('changes nothing when its type or Source is not the task’s MO: recorded with why, and the device gets 200', async () => {
    const taskId = await arm(0, inSeconds(60));
    const mo = moOf(taskId);
    device(0).queueGenericAlert(report(taskId, 'org.openmobilealliance.dm.firmwareupdate', mo));
    device(0).queueGenericAlert(report(taskId, SSE_ALERT, './SSE/tsomeoneelse'));
    const session = await device(0).runSession();
    expect(session.outcome).toBe('ok');
    expect(session.alertsDelivered).toBe(2);
    expect(device(0).pendingAlerts).toHaveLength(0);

    expect(await statusOf(taskId)).toBe('SCHEDULED');
    const history = await rig.gw.broker.getTaskHistory(taskId);
    const ignored = history.filter((h) => h.event === 'report-ignored');
    expect(ignored.map((h) => h.detail)).toEqual([expect.stringMatching(/alert type/), expect.stringMatching(/not the task's MO/)]);
    expect(ignored.every((h) => h.fromStatus === 'SCHEDULED' && h.toStatus === 'SCHEDULED')).toBe(true);
    const alerts = await new TypeormDeviceAlertStore(rig.gw.dataSource.manager).forDevice(device(0).devId);
    expect(alerts.map((a) => a.handled)).toEqual([false, false]);
    expect(device(0).tree.exists(mo)).toBe(true);

    // A report naming the executed node under the MO (as many clients do), Format chr: the task's.
    device(0).queueGenericAlert(report(taskId, SSE_ALERT, `${mo}/Go`, 'chr'));
    expect((await device(0).runSession()).alertsDelivered).toBe(1);
    expect(await statusOf(taskId)).toBe('COMPLETED');
  });
});

describe('the MO of an ended task', () => {
  it('is deleted in the session that reports the schedule: no other session, no wake', { timeout: 30_000 }, async () => {
    const taskId = await arm(1, inSeconds(3));
    const before = sessionsOf(1).length;
    await reaches(taskId, 'COMPLETED', 15_000);
    await waitFor(async () => ((await events(taskId)).includes('schedule-removed') ? true : undefined), 5000, 'the Delete');
    await rig.fleet.idle();
    expect(device(1).tree.exists(moOf(taskId))).toBe(false);
    expect(device(1).executionCount('./FUMO/fw1/Update')).toBe(1);
    await new Promise((r) => setTimeout(r, 1000));
    expect(sessionsOf(1).length).toBe(before + 1);
  });

  it('is deleted from a device that never reported, woken for it once its task expired', { timeout: 30_000 }, async () => {
    const taskId = await arm(2, inSeconds(60));
    const before = sessionsOf(2).length;
    // AtTime and the report's grace have passed, as far as the gateway knows; the device is not due yet.
    clock.offset = (60 + rig.gw.config.reportGraceSeconds + 5) * 1000;
    try {
      await rig.gw.broker.processExpire(taskId);
      expect(await statusOf(taskId)).toBe('EXPIRED');
      await waitFor(() => (device(2).tree.exists(moOf(taskId)) ? undefined : true), 15_000, 'the MO to be deleted');
      await rig.fleet.idle();
    } finally {
      clock.offset = 0;
    }
    expect(sessionsOf(2).slice(before).map((s) => s.server)).toEqual([true]);
    expect(await events(taskId)).toEqual(expect.arrayContaining(['no-report', 'cleanup-wake', 'schedule-removed']));
    expect(await statusOf(taskId)).toBe('EXPIRED');
  });

  it('wakes the devices of a rollout’s expired tasks within its notificationsPerSecond', { timeout: 45_000 }, async () => {
    const atTime = inSeconds(60);
    const ctx = { caller: 'test', operation: 'createDeployments' };
    const jobId = await rig.gw.bulk.createDeployments(
      ctx,
      { name: 'SCHEDULED_EXEC', targetUri: './FUMO/fw1/Update', atTime, commands: [] },
      [3, 4, 5].map((i) => device(i).devId),
      { notificationsPerSecond: 1 },
    );
    const tasks = await waitFor(async () => {
      const armed = await rig.gw.bulk.getTasks(jobId, 'SCHEDULED', { offset: 0, limit: 10 });
      return armed.length === 3 ? armed : undefined;
    }, 20_000, 'three armed tasks');
    await rig.fleet.idle();
    const wakes: number[] = [];
    // Moved on for the rest of the test: the budget is counted in the gateway's seconds.
    clock.offset = (60 + rig.gw.config.reportGraceSeconds + 5) * 1000;
    try {
      await Promise.all(tasks.map((t) => rig.gw.broker.processExpire(t.taskId)));
      await waitFor(() => (tasks.every((t) => !rig.fleet.devices.find((d) => d.devId === t.deviceId)!.tree.exists(moOf(t.taskId))) ? true : undefined), 20_000, 'every MO deleted');
      for (const t of tasks) {
        for (const h of await rig.gw.broker.getTaskHistory(t.taskId)) if (h.event === 'cleanup-wake') wakes.push(h.at.getTime());
      }
    } finally {
      clock.offset = 0;
    }
    expect(wakes).toHaveLength(3);
    // One notification a second at most: three wakes take three different seconds, so they span more than one.
    expect(Math.max(...wakes) - Math.min(...wakes)).toBeGreaterThan(1000);
  });
});
