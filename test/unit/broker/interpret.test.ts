import { describe, expect, it } from 'vitest';
import type { CommandOutcome, DeviceAlert } from '../../../src/dm/server/ports.js';
import type { Task } from '../../../src/domain/tasks.js';
import { guardRejects } from '../../../src/dm/server/guard.js';
import { parseScheduleTime, validateOperation, validatePolicy } from '../../../src/domain/operation-validation.js';
import { interpretRun, interpretScheduleReport, SSE_ALERT, SSE_EXECFAILED_ALERT, scheduleReportMismatch } from '../../../src/services/broker/interpret.js';
import { parseRequestId, requestIdFor, runRequest, sseNodeUri } from '../../../src/services/broker/plan.js';

const alert = (alertType: string, data: string): DeviceAlert => ({
  deviceId: 'IMEI:1',
  at: 0,
  alertType,
  data,
  mark: 'informational',
  correlator: 'sse-x',
});

describe('SingleShotExec report codes (seed 000 §6.3.4)', () => {
  it.each([
    ['200', 'COMPLETED'],
    ['250', 'COMPLETED'],
    ['299', 'COMPLETED'],
    ['401', 'MISSED'],
    ['400', 'FAILED'],
    ['402', 'FAILED'],
    ['450', 'FAILED'],
    ['499', 'FAILED'],
    ['300', 'FAILED'],
    ['junk', 'FAILED'],
  ])('maps result code %s to %s', (code, status) => {
    const d = interpretScheduleReport(alert(SSE_ALERT, code));
    expect(d.to).toBe(status);
    if (/^\d+$/.test(code)) expect(d.change.resultCode).toBe(Number(code));
  });

  it('maps execfailed to FAILED with the target status', () => {
    expect(interpretScheduleReport(alert(SSE_EXECFAILED_ALERT, '500'))).toMatchObject({
      to: 'FAILED',
      change: { event: 'target-exec-failed', resultCode: 500 },
    });
  });
});

describe('which report belongs to a task (seed 000 §6.3)', () => {
  const mo = './SSE/t0123456789abcde';
  const report = (alertType: string, source: string | undefined): DeviceAlert => ({
    ...alert(alertType, '200'),
    ...(source !== undefined ? { source } : {}),
  });

  it('takes either SingleShotExec type from the MO, written with or without ./, or from a node under it', () => {
    for (const source of [mo, 'SSE/t0123456789abcde', `${mo}/`, `${mo}/Go`]) {
      expect(scheduleReportMismatch(report(SSE_ALERT, source), mo)).toBeUndefined();
    }
    expect(scheduleReportMismatch(report(SSE_EXECFAILED_ALERT, mo), mo)).toBeUndefined();
  });

  it('says why it refuses another alert type, another MO, a missing Source or a task without an MO', () => {
    expect(scheduleReportMismatch(report('org.openmobilealliance.dm.firmwareupdate.devicerequest', mo), mo)).toMatch(/alert type/);
    expect(scheduleReportMismatch(report(`${SSE_ALERT}.other`, mo), mo)).toMatch(/alert type/);
    expect(scheduleReportMismatch(report(SSE_ALERT, './SSE/t0123456789abcdeX'), mo)).toMatch(/not the task's MO/);
    expect(scheduleReportMismatch(report(SSE_ALERT, './FUMO/fw1/Update'), mo)).toMatch(/not the task's MO/);
    expect(scheduleReportMismatch(report(SSE_ALERT, undefined), mo)).toMatch(/no Source/);
    expect(scheduleReportMismatch(report(SSE_ALERT, mo), undefined)).toMatch(/not a SingleShotExec/);
  });
});

describe('acceptDevicePolicy guard', () => {
  const registered = 'IMEI:350000000000006';
  it('lets the registered device through under every policy', () => {
    for (const policy of [10, 20, 30] as const) expect(guardRejects({ registeredDeviceId: registered, policy }, registered)).toBeUndefined();
  });
  it('10: same TAC passes, another TAC fails', () => {
    expect(guardRejects({ registeredDeviceId: registered, policy: 10 }, 'IMEI:350000009999990')).toBeUndefined();
    expect(guardRejects({ registeredDeviceId: registered, policy: 10 }, 'IMEI:490154203237518')).toMatch(/policy 10/);
  });
  it('20: another IMEI fails when an IMEI is registered, passes when none is', () => {
    expect(guardRejects({ registeredDeviceId: registered, policy: 20 }, 'IMEI:490154203237518')).toMatch(/policy 20/);
    expect(guardRejects({ registeredDeviceId: 'MAC:00-11-22-33-44-55', policy: 20 }, 'IMEI:490154203237518')).toBeUndefined();
  });
  it('30: anything passes', () => {
    expect(guardRejects({ registeredDeviceId: registered, policy: 30 }, 'IMEI:490154203237518')).toBeUndefined();
  });
});

describe('operation validation', () => {
  const now = new Date('2026-06-01T00:00:00Z');
  it('accepts UTC and local AtTime and sends ISO-8601 basic to the device', () => {
    expect(parseScheduleTime('2026-06-02T03:04:05Z')).toMatchObject({ deviceText: '20260602T030405Z', utc: true });
    expect(parseScheduleTime('20260602T030405')).toMatchObject({ deviceText: '20260602T030405', utc: false });
    expect(parseScheduleTime('2026-02-30T00:00:00Z')).toBeUndefined();
  });
  it('refuses a past UTC time unless testCycle, and a local time only when past in every zone', () => {
    const op = (atTime: string) => ({ name: 'SCHEDULED_EXEC' as const, commands: [], targetUri: './A/B', atTime });
    expect(() => validateOperation(op('2026-05-31T23:00:00Z'), { now, testCycle: false })).toThrow(/in the past/);
    expect(validateOperation(op('2026-05-31T23:00:00Z'), { now, testCycle: true }).schedule?.utc).toBe(true);
    expect(validateOperation(op('2026-05-31T23:00:00'), { now, testCycle: false }).schedule?.utc).toBe(false);
    expect(() => validateOperation(op('2026-05-31T10:00:00'), { now, testCycle: false })).toThrow(/in the past/);
  });
  it('answers policy 40 NotImplemented', () => {
    expect(() => validatePolicy(40)).toThrow(/not implemented/);
    expect(validatePolicy(10)).toBe(10);
  });
});

describe('deterministic names', () => {
  it('derives request ids and the MO node from the task id', () => {
    expect(parseRequestId(requestIdFor('abc', 'probe', 2))).toEqual({ taskId: 'abc', purpose: 'probe' });
    expect(sseNodeUri('./SSE', 'abc')).toBe(sseNodeUri('./SSE', 'abc'));
    expect(sseNodeUri('./SSE', 'abc')).toMatch(/^\.\/SSE\/t[0-9a-f]{15}$/);
  });
});

describe('an Exec answered 202 (long operations)', () => {
  const task = (awaitResult?: boolean) =>
    ({
      taskId: 't1',
      bOptin: false,
      operation: { name: 'EXEC', commands: [{ verb: 'Exec', uri: './Ext/Install' }], ...(awaitResult !== undefined ? { awaitResult } : {}) },
    }) as unknown as Task;
  const outcome = (status: number): CommandOutcome => ({
    deviceId: 'IMEI:1',
    requestId: 'task:t1:run',
    at: 0,
    outcome: 'completed',
    results: [{ index: 0, verb: 'Exec', uri: './Ext/Install', status }],
  });

  it('with awaitResult waits IN_PROGRESS under the task’s Exec correlator', () => {
    expect(interpretRun(task(true), outcome(202))).toMatchObject({ to: 'IN_PROGRESS', change: { dmStatus: 202, correlator: 'exec-t1' } });
  });

  it('without awaitResult completes with 202, and with it a 200 completes at once', () => {
    expect(interpretRun(task(), outcome(202))).toMatchObject({ to: 'COMPLETED', change: { dmStatus: 202 } });
    expect(interpretRun(task(true), outcome(200))).toMatchObject({ to: 'COMPLETED', change: { dmStatus: 200 } });
  });

  it('sends every Exec of a task with its correlator', () => {
    const request = runRequest({ ...task(true), results: [] } as Task, undefined, undefined);
    expect(request.commands).toEqual([expect.objectContaining({ verb: 'Exec', uri: './Ext/Install', correlator: 'exec-t1' })]);
  });

  it('refuses awaitResult on an operation without an Exec', () => {
    const op = { name: 'QUERY' as const, commands: [{ verb: 'Get' as const, uri: './DevInfo/Mod' }], awaitResult: true };
    expect(() => validateOperation(op, { now: new Date(), testCycle: false })).toThrow(/awaitResult/);
  });
});
