/**
 * A scheduled rollout over a fleet that behaves like a real network (seeded):
 * every message waits 20–200 ms, 5% of messages are lost at the transport
 * (half never arrive, half lose their answer), 10% of devices start offline
 * and come online each at its own moment, and 10% drop their first
 * Package#0. The gateway must still end every task in a state that matches
 * what each device really did, with counters equal to its tasks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/simulator/cli.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { countersAsStatuses, getJob, type JobData, taskCounts } from '../support/jobs.js';
import { call, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

const DEVICES = 300;
const TARGET = './Ext/Sim/Reboot';
const END_STATES = new Set(['COMPLETED', 'FAILED', 'MISSED', 'CANCELLED', 'EXPIRED']);

let rig: DmRig;
let bulk: SoapClient;

beforeAll(async () => {
  rig = await startDmRig({
    devices: DEVICES,
    overrides: { taskRetrySeconds: 5 },
    fleet: {
      random: seededRandom(4),
      latencyMs: { minMs: 20, maxMs: 200 },
      failShare: 0.05,
      offlineShare: 0.1,
      comeOnlineWithinMs: 20_000,
      ignoreFirstNotificationShare: 0.1,
      maxConcurrentSessions: 256,
      profile: { alertRetryMs: 1_000 },
    },
  });
  bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
}, 120_000);
afterAll(() => rig?.stop());

/**
 * Tasks whose end state disagrees with the device's own record: COMPLETED
 * iff the device ran the target exactly once; any other end state iff it never did.
 */
async function mismatches(r: DmRig, jobId: string, expected: number): Promise<string[]> {
  const tasks = (await r.gw.dataSource.query('SELECT device_id AS id, status, result_code AS code FROM task WHERE job_id = ?', [jobId])) as {
    id: string;
    status: string;
    code: number | null;
  }[];
  const out: string[] = tasks.length === expected ? [] : [`${tasks.length} tasks, not ${expected}`];
  for (const t of tasks) {
    const ran = r.fleet.get(t.id)!.executionCount(TARGET);
    if (!END_STATES.has(t.status)) out.push(`${t.id}: still ${t.status} (ran ${ran}×)`);
    else if (t.status === 'COMPLETED' && ran !== 1) out.push(`${t.id}: COMPLETED but ran ${ran}×`);
    else if (t.status !== 'COMPLETED' && ran > 0) out.push(`${t.id}: ${t.status} (${t.code}) but ran ${ran}×`);
  }
  return out;
}

const utcSeconds = (ms: number) => `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;

describe('a scheduled rollout over a lossy, slow, partly offline fleet', () => {
  it('ends every task in the state matching what its device did, with counters equal to its tasks', async () => {
    const atTime = Date.now() + 10_000;
    const jobId = (
      await call<{ jobId: string }>(bulk, 'createDeployments', {
        userSession: '',
        operation: { name: 'SCHEDULED_EXEC', targetUri: TARGET, atTime: utcSeconds(atTime) },
        targets: rig.fleet.devices.map((d) => d.devId),
        options: { notificationsPerSecond: 100 },
      })
    ).jobId;
    const job = await waitFor(
      async () => {
        const j = await getJob(bulk, jobId);
        return j.status.startsWith('COMPLETED') || j.status === 'FAILED' ? j : undefined;
      },
      150_000,
      'the job to end',
    );
    const stats = rig.fleet.stats();
    // The network did what it was told to: the test would prove nothing otherwise.
    expect(stats.messagesLost).toBeGreaterThan(10);
    expect(stats.notificationsDropped).toBeGreaterThan(10);
    expect(stats.online).toBe(DEVICES);

    expect(await mismatches(rig, jobId, DEVICES)).toEqual([]);
    expect(job.completed).toBeGreaterThan(DEVICES * 0.8);
    expect(await taskCounts(bulk, jobId)).toEqual(countersAsStatuses(job as JobData));
  }, 200_000);
});

describe('a scheduled rollout with a deadline, over a fleet whose offline devices come online before and after it', () => {
  const N = 200;
  let late: DmRig;
  let lateBulk: SoapClient;
  beforeAll(async () => {
    late = await startDmRig({
      devices: N,
      imeiStart: '35100000000000',
      overrides: { taskRetrySeconds: 5 },
      fleet: {
        random: seededRandom(9),
        latencyMs: { minMs: 20, maxMs: 200 },
        failShare: 0.05,
        offlineShare: 0.3,
        comeOnlineWithinMs: 40_000,
        ignoreFirstNotificationShare: 0.1,
        maxConcurrentSessions: 256,
        profile: { alertRetryMs: 1_000 },
      },
    });
    lateBulk = await soapClient(late.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
  }, 120_000);
  afterAll(() => late?.stop());

  it('expires the tasks of devices that came too late, and no such device runs the target afterwards', async () => {
    const jobId = (
      await call<{ jobId: string }>(lateBulk, 'createDeployments', {
        userSession: '',
        operation: { name: 'SCHEDULED_EXEC', targetUri: TARGET, atTime: utcSeconds(Date.now() + 8_000) },
        targets: late.fleet.devices.map((d) => d.devId),
        options: { notificationsPerSecond: 100, deadline: new Date(Date.now() + 20_000).toISOString() },
      })
    ).jobId;
    const job = await waitFor(
      async () => {
        const j = await getJob(lateBulk, jobId);
        return j.status.startsWith('COMPLETED') || j.status === 'FAILED' ? j : undefined;
      },
      150_000,
      'the job to end',
    );
    // Every late device comes online, checks in and settles before the fleet's record is read.
    await waitFor(async () => (late.fleet.stats().online === N ? true : undefined), 60_000, 'every device online');
    await new Promise((r) => setTimeout(r, 3_000));
    await late.fleet.idle(50, 60_000);
    expect(job.expired).toBeGreaterThan(5);
    expect(job.completed).toBeGreaterThan(N / 2);
    expect(await mismatches(late, jobId, N)).toEqual([]);
    expect(await taskCounts(lateBulk, jobId)).toEqual(countersAsStatuses(await getJob(lateBulk, jobId)));
  }, 200_000);
});
