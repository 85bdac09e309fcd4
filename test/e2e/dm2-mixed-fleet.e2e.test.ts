/**
 * One operation model, two protocols: a bulk job over a fleet of half DM 1.2
 * and half DM 2.0 devices completes with the same states and results for
 * both, and the job's counters equal its per-state task counts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dm2Rig, startDm2Rig } from '../support/dm2-rig.js';
import { countersAsStatuses, jobReaches, taskCounts } from '../support/jobs.js';
import { call, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';

let rig: Dm2Rig;
let bulk: SoapClient;

beforeAll(async () => {
  rig = await startDm2Rig({ devices: 10, devices12: 10 });
  bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
});
afterAll(() => rig?.stop());

const targets = () => [...rig.fleet.devices.map((d) => d.deviceId), ...rig.fleet12!.devices.map((d) => d.devId)];

async function tasksOf(jobId: string) {
  const r = await call<{ taskData?: { deviceId: string; status: string; results?: unknown }[] }>(bulk, 'getTasks', { userSession: '', jobId, offset: 0, limit: 100 });
  return r.taskData ?? [];
}

describe('a mixed DM 1.2 / DM 2.0 fleet', () => {
  it('completes a bulk QUERY on every device, each answered in its own generation', async () => {
    const operation = { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Mod' }] } };
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', { userSession: '', operation, targets: targets() });
    const done = await jobReaches(bulk, jobId, ['COMPLETED', 'COMPLETED_WITH_ERRORS'], 60_000);
    expect(done).toMatchObject({ status: 'COMPLETED', total: 20, completed: 20 });
    expect(await taskCounts(bulk, jobId)).toEqual(countersAsStatuses(done));
    const values = new Map((await tasksOf(jobId)).map((t) => [t.deviceId, JSON.stringify(t.results)]));
    for (const d of rig.fleet.devices) expect(values.get(d.deviceId)).toContain('SimPhone-2');
    for (const d of rig.fleet12!.devices) expect(values.get(d.devId)).toContain('SimPhone-1');
    for (const d of rig.fleet.devices) expect(d.sessions.some((s) => s.commands.includes('GET'))).toBe(true);
  });

  it('completes a bulk EXEC on every device', async () => {
    const operation = { name: 'EXEC', commands: { command: [{ verb: 'Exec', uri: './Ext/Sim/Reboot' }] } };
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', { userSession: '', operation, targets: targets() });
    const done = await jobReaches(bulk, jobId, ['COMPLETED', 'COMPLETED_WITH_ERRORS'], 60_000);
    expect(done).toMatchObject({ status: 'COMPLETED', total: 20, completed: 20 });
    expect(await taskCounts(bulk, jobId)).toEqual(countersAsStatuses(done));
    for (const d of rig.fleet.devices) expect(d.executionCount('./Ext/Sim/Reboot')).toBe(1);
    for (const d of rig.fleet12!.devices) expect(d.executionCount('./Ext/Sim/Reboot')).toBe(1);
  });
});
