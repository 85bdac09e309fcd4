/**
 * Rollouts whose results come later than the session: waves settle on final
 * results (IN_PROGRESS, and with waveIntervalSeconds SCHEDULED, do not
 * settle), the error threshold counts those results, and waveIntervalSeconds
 * spaces a scheduled rollout's waves so the threshold acts before a later
 * wave is armed. Over SOAP with a simulated fleet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enableLongExec } from '../../src/simulator/long-exec.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { countersAsStatuses, getJob, jobReaches, taskCounts } from '../support/jobs.js';
import { call, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

let rig: DmRig;
let bulk: SoapClient;

beforeAll(async () => {
  rig = await startDmRig({ devices: 20, fleet: { latencyMs: 10 } });
  bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
});
afterAll(() => rig?.stop());

const devices = (from: number, n: number) => rig.fleet.devices.slice(from, from + n);

async function create(operation: unknown, targets: string[], options: Record<string, unknown> = {}) {
  return (await call<{ jobId: string }>(bulk, 'createDeployments', { userSession: '', operation, targets, options })).jobId;
}

async function countersMatch(jobId: string) {
  expect(await taskCounts(bulk, jobId)).toEqual(countersAsStatuses(await getJob(bulk, jobId)));
}

const rows = (sql: string, params: unknown[]) => rig.gw.dataSource.query(sql, params) as Promise<Record<string, unknown>[]>;

async function history(jobId: string) {
  return (await rows('SELECT event, detail FROM job_history WHERE job_id = ? ORDER BY seq', [jobId])) as { event: string; detail: string | null }[];
}

const releasedSeqs = async (jobId: string) =>
  (await rows('SELECT job_seq AS seq FROM task WHERE job_id = ? AND released_at IS NOT NULL ORDER BY job_seq', [jobId])).map((r) => Number(r.seq));

const utcSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

describe('waves of long operations', () => {
  it('waits for the final results of a wave and pauses on its failures beyond the threshold; the next wave is never released', async () => {
    const uri = './Ext/Sim/Install';
    const [a, b, ...rest] = devices(0, 6);
    enableLongExec(a!, { uri, afterMs: 1500, resultCode: 500 });
    enableLongExec(b!, { uri, afterMs: 1500, resultCode: 410 });
    for (const d of rest) enableLongExec(d, { uri, afterMs: 100 });
    const jobId = await create(
      { name: 'EXEC', awaitResult: true, commands: { command: [{ verb: 'Exec', uri }] } },
      devices(0, 6).map((d) => d.devId),
      { firstWaveSize: 2, waveSize: 2, errorThresholdPercent: 50 },
    );
    // Both devices accept (202): the wave is IN_PROGRESS, not settled, and nothing more goes out.
    await waitFor(async () => ((await getJob(bulk, jobId)).inProgress === 2 ? true : undefined), 15_000, 'wave 1 in progress');
    expect(await releasedSeqs(jobId)).toEqual([1, 2]);
    const paused = await jobReaches(bulk, jobId, ['PAUSED'], 20_000);
    expect(paused).toMatchObject({ failed: 2, queued: 4, inProgress: 0 });
    const tripped = (await history(jobId)).find((h) => h.event === 'error-threshold');
    expect(tripped?.detail).toMatch(/wave 1: 2 of 2 failed/);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await releasedSeqs(jobId)).toEqual([1, 2]);
    await countersMatch(jobId);
    await call(bulk, 'cancelJob', { userSession: '', jobId });
  });
});

describe('waveIntervalSeconds', () => {
  it('gives wave k the AtTime + (k − 1) × interval and arms it only once the previous wave has reported', async () => {
    const target = './Ext/Sim/Run';
    const fleet = devices(6, 4);
    for (const d of fleet) d.addExecTarget(target);
    const atTime = Date.now() + 3000;
    const jobId = await create({ name: 'SCHEDULED_EXEC', targetUri: target, atTime: utcSeconds(atTime) }, fleet.map((d) => d.devId), {
      firstWaveSize: 2,
      waveSize: 1,
      waveIntervalSeconds: 2,
    });
    const done = await jobReaches(bulk, jobId, ['COMPLETED'], 30_000);
    expect(done.completed).toBe(4);
    const tasks = (await rows('SELECT job_seq AS seq, operation, released_at AS released FROM task WHERE job_id = ? ORDER BY job_seq', [jobId])).map(
      (r) => ({ seq: Number(r.seq), atTime: (JSON.parse(String(r.operation)) as { atTime: string }).atTime, released: Number(r.released) }),
    );
    const second = Math.floor(atTime / 1000) * 1000;
    expect(tasks.map((t) => Date.parse(t.atTime))).toEqual([second, second, second + 2000, second + 4000]);
    const reportedAt = async (seq: number) =>
      Number((await rows("SELECT max(h.at) AS at FROM task_history h JOIN task t ON t.task_id = h.task_id WHERE t.job_id = ? AND t.job_seq = ? AND h.to_status = 'COMPLETED'", [jobId, seq]))[0]!.at);
    // Wave 2 (task 3) armed after both wave-1 reports; wave 3 (task 4) after wave 2's. A release is
    // stamped with the time its dispatcher tick began, which may precede the report it waited for
    // by the tick's own length; a release that did not wait would come seconds earlier.
    const TICK_MS = 1000;
    expect(tasks[2]!.released).toBeGreaterThanOrEqual(Math.max(await reportedAt(1), await reportedAt(2)) - TICK_MS);
    expect(tasks[3]!.released).toBeGreaterThanOrEqual((await reportedAt(3)) - TICK_MS);
    // Each device ran its schedule at its wave's time, not before.
    expect(await reportedAt(3)).toBeGreaterThanOrEqual(second + 2000);
    expect(await reportedAt(4)).toBeGreaterThanOrEqual(second + 4000);
    await countersMatch(jobId);
  });

  it('lets the error threshold stop a scheduled rollout: a wave whose schedules failed pauses the job before the next wave is armed', async () => {
    const target = './Ext/Sim/Run2';
    const fleet = devices(10, 4);
    for (const d of fleet) d.addExecTarget(target);
    // The first wave's devices arm their schedules, then fail running them (execfailed, 500).
    for (const d of fleet.slice(0, 2)) d.tree.failExec(target, 500);
    const jobId = await create({ name: 'SCHEDULED_EXEC', targetUri: target, atTime: utcSeconds(Date.now() + 2000) }, fleet.map((d) => d.devId), {
      firstWaveSize: 2,
      waveSize: 2,
      waveIntervalSeconds: 3,
      errorThresholdPercent: 10,
    });
    const paused = await jobReaches(bulk, jobId, ['PAUSED'], 30_000);
    expect(paused).toMatchObject({ failed: 2, queued: 2, scheduled: 0 });
    expect(await releasedSeqs(jobId)).toEqual([1, 2]);
    expect((await history(jobId)).map((h) => h.event)).toContain('error-threshold');
    for (const d of fleet.slice(2)) expect(d.executionCount(target)).toBe(0);
    await countersMatch(jobId);
    await call(bulk, 'cancelJob', { userSession: '', jobId });
  });

  it('is refused for an operation other than SCHEDULED_EXEC, and out of range', async () => {
    const query = { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Mod' }] } };
    const ids = devices(0, 1).map((d) => d.devId);
    await expect(create(query, ids, { waveIntervalSeconds: 60 })).rejects.toThrow(/waveIntervalSeconds.*SCHEDULED_EXEC/);
    const sse = { name: 'SCHEDULED_EXEC', targetUri: './Ext/Sim/Run', atTime: utcSeconds(Date.now() + 60_000) };
    await expect(create(sse, ids, { waveIntervalSeconds: 0 })).rejects.toThrow(/waveIntervalSeconds/);
    await expect(create(query, ids, { maxConcurrentDownloads: 5 })).rejects.toThrow(/maxConcurrentDownloads.*QUERY/);
  });
});
