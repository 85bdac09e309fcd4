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
const TASK_RETRY_SECONDS = 5;
const NOTIFICATIONS_PER_SECOND = 100;
const AT_TIME_IN_MS = 10_000;
const ALERT_RETRY_MS = 1_000;

/**
 * How long the rollout may take to end, from the fleet's size and the
 * documented retry timings (a guessed 150 s ran out in the full suite on a
 * loaded 2-core box, where the same run takes 30 s alone):
 * - AtTime, and the releases spread at notificationsPerSecond;
 * - the gateway's retry tail: a task that stopped moving gets its device
 *   woken again TASK_RETRY_SECONDS after its last move plus as long as it had
 *   been waiting since its release, so a device that keeps losing its wakes
 *   gets the k-th about 2^k · TASK_RETRY_SECONDS after release. About one
 *   wake in six fails here (a message lost at 5% among the ~3 of an arming
 *   session, a first Package#0 dropped at 10%), so one of 300 devices needs
 *   a 7th wake in about one run of 150 (300 · (1/6)^6): the limit allows 6
 *   (64 · 5 s), and a loaded box that stretches the releases shifts the tail
 *   by as much, which the limit does not cover;
 * - the device's own report retries after AtTime (`alertRetryMs` doubling
 *   up to a minute, ± half): 90 s.
 */
const JOB_END_LIMIT_MS = AT_TIME_IN_MS + (DEVICES / NOTIFICATIONS_PER_SECOND) * 1000 + 2 ** 6 * TASK_RETRY_SECONDS * 1000 + 90_000;
/** Polling the job every 20 ms cost the gateway under test a share of its CPU. */
const POLL_MS = 500;
const END_STATES = new Set(['COMPLETED', 'FAILED', 'MISSED', 'CANCELLED', 'EXPIRED']);

let rig: DmRig;
let bulk: SoapClient;

beforeAll(async () => {
  rig = await startDmRig({
    devices: DEVICES,
    overrides: { taskRetrySeconds: TASK_RETRY_SECONDS },
    fleet: {
      random: seededRandom(4),
      latencyMs: { minMs: 20, maxMs: 200 },
      failShare: 0.05,
      offlineShare: 0.1,
      comeOnlineWithinMs: 20_000,
      ignoreFirstNotificationShare: 0.1,
      maxConcurrentSessions: 256,
      profile: { alertRetryMs: ALERT_RETRY_MS },
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
    const atTime = Date.now() + AT_TIME_IN_MS;
    const jobId = (
      await call<{ jobId: string }>(bulk, 'createDeployments', {
        userSession: '',
        operation: { name: 'SCHEDULED_EXEC', targetUri: TARGET, atTime: utcSeconds(atTime) },
        targets: rig.fleet.devices.map((d) => d.devId),
        options: { notificationsPerSecond: NOTIFICATIONS_PER_SECOND },
      })
    ).jobId;
    let last: JobData | undefined;
    const job = await waitFor(
      async () => {
        last = await getJob(bulk, jobId);
        return last.status.startsWith('COMPLETED') || last.status === 'FAILED' ? last : undefined;
      },
      JOB_END_LIMIT_MS,
      () => `the job to end (${JSON.stringify(last && countersAsStatuses(last))}; fleet ${JSON.stringify(rig.fleet.stats())})`,
      POLL_MS,
    );
    const stats = rig.fleet.stats();
    // The network did what it was told to: the test would prove nothing otherwise.
    expect(stats.messagesLost).toBeGreaterThan(10);
    expect(stats.notificationsDropped).toBeGreaterThan(10);
    expect(stats.online).toBe(DEVICES);

    expect(await mismatches(rig, jobId, DEVICES)).toEqual([]);
    expect(job.completed).toBeGreaterThan(DEVICES * 0.8);
    expect(await taskCounts(bulk, jobId)).toEqual(countersAsStatuses(job as JobData));
  }, JOB_END_LIMIT_MS + 30_000);
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
      POLL_MS,
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
