/**
 * Rollout options of createDeployments, end to end over SOAP with a
 * simulated fleet: waves, notification rate, concurrent-session cap,
 * error-threshold auto-pause, start time, deadline, and pause, restart and
 * cancel at each stage. Afterwards the job's counters equal its tasks'.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { countersAsStatuses, getJob, jobReaches, taskCounts } from '../support/jobs.js';
import { call, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

let rig: DmRig;
let bulk: SoapClient;
const query = { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Mod' }] } };
const failing = { name: 'UPDATE', commands: { command: [{ verb: 'Replace', uri: './Nowhere/Leaf', value: 'x', format: 'chr' }] } };

beforeAll(async () => {
  rig = await startDmRig({ devices: 40, fleet: { latencyMs: 30 } });
  bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
});
afterAll(() => rig?.stop());

const ids = (from: number, n: number) => rig.fleet.devices.slice(from, from + n).map((d) => d.devId);

async function create(operation: unknown, targets: string[], options: Record<string, unknown> = {}) {
  return (await call<{ jobId: string }>(bulk, 'createDeployments', { userSession: '', operation, targets, options })).jobId;
}

async function countersMatch(jobId: string) {
  const job = await getJob(bulk, jobId);
  expect(await taskCounts(bulk, jobId)).toEqual(countersAsStatuses(job));
  expect(Object.values(countersAsStatuses(job)).reduce((a, b) => a + b, 0)).toBe(job.total);
}

const rows = (sql: string, params: unknown[]) => rig.gw.dataSource.query(sql, params) as Promise<Record<string, number>[]>;

describe('rollout options', () => {
  it('releases wave by wave: a wave starts only once the previous one has settled', async () => {
    const jobId = await create(query, ids(0, 10), { firstWaveSize: 2, waveSize: 4 });
    await jobReaches(bulk, jobId, ['COMPLETED']);
    const tasks = await rows(
      `SELECT t.job_seq AS seq, t.released_at AS released,
              (SELECT max(h.at) FROM task_history h WHERE h.task_id = t.task_id) AS settled
       FROM task t WHERE t.job_id = ? ORDER BY t.job_seq`,
      [jobId],
    );
    const waves = [tasks.slice(0, 2), tasks.slice(2, 6), tasks.slice(6, 10)];
    for (let w = 1; w < waves.length; w++) {
      const firstRelease = Math.min(...waves[w]!.map((t) => Number(t.released)));
      const lastSettle = Math.max(...waves[w - 1]!.map((t) => Number(t.settled)));
      expect(firstRelease).toBeGreaterThanOrEqual(lastSettle);
    }
    await countersMatch(jobId);
  });

  it('keeps to the notifications-per-second budget', async () => {
    const jobId = await create(query, ids(10, 12), { notificationsPerSecond: 4 });
    await jobReaches(bulk, jobId, ['COMPLETED']);
    const released = await rows('SELECT released_at AS at FROM task WHERE job_id = ?', [jobId]);
    const perSecond = new Map<number, number>();
    for (const r of released) perSecond.set(Math.floor(Number(r.at) / 1000), (perSecond.get(Math.floor(Number(r.at) / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(4);
    expect(perSecond.size).toBeGreaterThanOrEqual(3);
    await countersMatch(jobId);
  });

  it('never has more devices in session than the cap', async () => {
    const jobId = await create(query, ids(22, 10), { maxConcurrentSessions: 2 });
    let peak = 0;
    const done = waitFor(async () => {
      const j = await getJob(bulk, jobId);
      peak = Math.max(peak, j.notifying + j.inSession);
      return j.status === 'COMPLETED' ? j : undefined;
    }, 30_000, 'completion');
    await done;
    expect(peak).toBeLessThanOrEqual(2);
    expect(peak).toBeGreaterThan(0);
    await countersMatch(jobId);
  });

  it('pauses itself when a wave fails more than the threshold, saying why; restart goes on', async () => {
    const jobId = await create(failing, ids(0, 6), { firstWaveSize: 2, waveSize: 2, errorThresholdPercent: 50 });
    await jobReaches(bulk, jobId, ['PAUSED']);
    const history = await rows('SELECT event, detail FROM job_history WHERE job_id = ? ORDER BY seq', [jobId]);
    expect(history.map((h) => h.event)).toContain('error-threshold');
    expect(String(history.find((h) => String(h.event) === 'error-threshold')?.detail)).toMatch(/wave 1: 2 of 2/);
    const paused = await getJob(bulk, jobId);
    expect(paused).toMatchObject({ failed: 2, queued: 4 });
    await call(bulk, 'pauseJob', { userSession: '', jobId }); // idempotent
    await call(bulk, 'restartJob', { userSession: '', jobId });
    // Wave 2 fails too: the job pauses again at the next boundary.
    await waitFor(async () => ((await getJob(bulk, jobId)).failed === 4 && (await getJob(bulk, jobId)).status === 'PAUSED' ? true : undefined), 20_000, 'second pause');
    await call(bulk, 'cancelJob', { userSession: '', jobId });
    const cancelled = await jobReaches(bulk, jobId, ['CANCELLED']);
    await waitFor(async () => ((await getJob(bulk, jobId)).queued === 0 ? true : undefined), 10_000, 'tasks cancelled');
    expect(cancelled.total).toBe(6);
    await countersMatch(jobId);
  });

  it('waits for the start time', async () => {
    const startAt = new Date(Date.now() + 2000);
    const jobId = await create(query, ids(32, 3), { startAt: startAt.toISOString() });
    expect((await getJob(bulk, jobId)).status).toBe('CREATED');
    await jobReaches(bulk, jobId, ['COMPLETED']);
    const released = await rows('SELECT min(released_at) AS first FROM task WHERE job_id = ?', [jobId]);
    expect(Number(released[0]!.first)).toBeGreaterThanOrEqual(startAt.getTime());
  });

  it('expires the tasks whose devices never come before the deadline', async () => {
    const offline = rig.fleet.devices.slice(35, 37);
    for (const d of offline) d.setOnline(false);
    try {
      const jobId = await create(query, [...offline.map((d) => d.devId), rig.fleet.devices[37]!.devId], {
        deadline: new Date(Date.now() + 2500).toISOString(),
      });
      const done = await jobReaches(bulk, jobId, ['COMPLETED_WITH_ERRORS'], 20_000);
      expect(done).toMatchObject({ expired: 2, completed: 1 });
      await countersMatch(jobId);
    } finally {
      for (const d of offline) d.setOnline(true);
    }
  });

  it('pauses a running job (no new notifications) and restarts it to the end', async () => {
    const jobId = await create(query, ids(0, 12), { notificationsPerSecond: 3 });
    await waitFor(async () => ((await getJob(bulk, jobId)).completed >= 2 ? true : undefined), 10_000, 'some progress');
    await call(bulk, 'pauseJob', { userSession: '', jobId });
    await new Promise((r) => setTimeout(r, 1200));
    const a = await rows("SELECT count(*) AS n FROM task WHERE job_id = ? AND status <> 'QUEUED'", [jobId]);
    await new Promise((r) => setTimeout(r, 1500));
    const b = await rows("SELECT count(*) AS n FROM task WHERE job_id = ? AND status <> 'QUEUED'", [jobId]);
    expect(Number(b[0]!.n)).toBe(Number(a[0]!.n));
    expect(Number(a[0]!.n)).toBeLessThan(12);
    await call(bulk, 'restartJob', { userSession: '', jobId });
    await jobReaches(bulk, jobId, ['COMPLETED'], 20_000);
    await countersMatch(jobId);
  });

  it('cancels a job before it starts: every task CANCELLED, no device contacted', async () => {
    const targets = rig.fleet.devices.slice(20, 25);
    const before = targets.map((d) => d.sessions);
    const jobId = await create(query, ids(20, 5), { startAt: new Date(Date.now() + 60_000).toISOString() });
    await call(bulk, 'cancelJob', { userSession: '', jobId });
    const j = await waitFor(async () => {
      const x = await getJob(bulk, jobId);
      return x.cancelled === 5 ? x : undefined;
    }, 10_000, 'cancellation');
    expect(j.status).toBe('CANCELLED');
    await new Promise((r) => setTimeout(r, 500));
    expect(targets.map((d) => d.sessions)).toEqual(before);
    await countersMatch(jobId);
  });

  it('cancels a job with armed schedules: the MOs are deleted and never run', async () => {
    const devices = rig.fleet.devices.slice(25, 29);
    const atTime = new Date(Date.now() + 6000).toISOString().replace(/\.\d+Z$/, 'Z');
    const jobId = await create({ name: 'SCHEDULED_EXEC', targetUri: './FUMO/fw1/Update', atTime }, devices.map((d) => d.devId));
    await waitFor(async () => ((await getJob(bulk, jobId)).scheduled === 4 ? true : undefined), 15_000, 'all armed');
    await call(bulk, 'cancelJob', { userSession: '', jobId });
    await waitFor(async () => ((await getJob(bulk, jobId)).cancelled === 4 ? true : undefined), 15_000, 'all cancelled');
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(atTime) - Date.now()) + 1000));
    for (const d of devices) expect(d.executionCount('./FUMO/fw1/Update')).toBe(0);
    await countersMatch(jobId);
  });
});
