/**
 * A firmware rollout to 1,000 simulated devices, 5% of whose downloads fail
 * (seeded): maxConcurrentDownloads holds on the content server's own count,
 * the error threshold pauses the job on a wave's final results before the
 * next wave goes out, and the job's counters equal its tasks' at the end.
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/simulator/cli.js';
import { makeSimulatedPackage } from '../../src/simulator/mo/package.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { CAPABILITY } from '../support/fixtures.js';
import { countersAsStatuses, getJob, type JobData, taskCounts } from '../support/jobs.js';
import { call, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

const DEVICES = 1000;
const CAP = 50;
const FIRMWARE = makeSimulatedPackage({ kind: 'firmware', name: 'acme-x1', version: '3.0', size: 32 * 1024 });

let rig: DmRig;
let bulk: SoapClient;
let contentId: string;

beforeAll(async () => {
  rig = await startDmRig({
    devices: DEVICES,
    overrides: { longOperationSeconds: 120, taskRetrySeconds: 600 },
    fleet: {
      fumoRoot: './FUMO',
      delivery: { installMs: 50, failureShares: { downloadFailed: 0.05 } },
      random: seededRandom(14),
      maxConcurrentSessions: 128,
    },
  });
  bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
  const session = await rig.gw.auth.login(ADMIN.username, ADMIN.password);
  const sha256 = crypto.createHash('sha256').update(FIRMWARE).digest('hex');
  contentId = (
    await call<{ contentId: string }>(bulk, 'createContent', {
      userSession: '',
      content: { name: 'acme-x1', version: '3.0', kind: 'firmware', sha256, size: FIRMWARE.length, capabilityOids: { oid: [CAPABILITY.oid] } },
    })
  ).contentId;
  const r = await fetch(`${rig.gw.url}/content/${contentId}`, { method: 'PUT', headers: { authorization: `Bearer ${session}` }, body: FIRMWARE });
  expect(r.status).toBe(201);
}, 120_000);
afterAll(() => rig?.stop());

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${rig.gw.url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
}

const rows = (sql: string, params: unknown[]) => rig.gw.dataSource.query(sql, params) as Promise<Record<string, unknown>[]>;

describe('a firmware rollout over 1,000 devices', () => {
  it('keeps downloads within maxConcurrentDownloads, pauses on a wave failing beyond the threshold, and ends with counters equal to its tasks', async () => {
    const jobId = (
      await call<{ jobId: string }>(bulk, 'createDeployments', {
        userSession: '',
        operation: { name: 'FIRMWARE_UPDATE', contentId },
        targets: rig.fleet.devices.map((d) => d.devId),
        options: { firstWaveSize: 200, waveSize: 400, errorThresholdPercent: 1, maxConcurrentDownloads: CAP },
      })
    ).jobId;
    // The gateway's own accounting, sampled: released and not ended never exceeds the cap. One
    // statement, so the sample is one snapshot (a job read plus a task count could count a task
    // released between them beside one that ended between them).
    let heldPeak = 0;
    const held = async (_j: JobData) => {
      const [r] = await rows(
        "SELECT count(*) AS n FROM task WHERE job_id = ? AND released_at IS NOT NULL AND status IN ('QUEUED', 'NOTIFYING', 'IN_SESSION', 'IN_PROGRESS')",
        [jobId],
      );
      heldPeak = Math.max(heldPeak, Number(r!.n));
    };
    const until = (statuses: string[]) =>
      waitFor(async () => {
        const j = await getJob(bulk, jobId);
        await held(j);
        return statuses.includes(j.status) ? j : undefined;
      }, 100_000, `job to reach ${statuses.join('/')}`);

    // Wave 1 (200 devices, ~5% failing) trips the 1% threshold once its final results are in.
    const paused = await until(['PAUSED']);
    expect(paused.completed + paused.failed).toBe(200);
    expect(paused.failed).toBeGreaterThan(2);
    expect(paused.queued).toBe(DEVICES - 200);
    const [released] = await rows('SELECT count(*) AS n, max(job_seq) AS last FROM task WHERE job_id = ? AND released_at IS NOT NULL', [jobId]);
    expect({ n: Number(released!.n), last: Number(released!.last) }).toEqual({ n: 200, last: 200 });
    const tripped = (await rows("SELECT detail FROM job_history WHERE job_id = ? AND event = 'error-threshold' ORDER BY seq", [jobId]))[0];
    expect(String(tripped?.detail)).toMatch(new RegExp(`^wave 1: ${paused.failed} of 200 failed`));

    // Each restart accepts the wave at hand; the job goes on wave by wave to its end.
    let job = paused;
    while (job.status === 'PAUSED') {
      await call(bulk, 'restartJob', { userSession: '', jobId });
      job = await until(['PAUSED', 'COMPLETED', 'COMPLETED_WITH_ERRORS']);
    }
    expect(job.status).toBe('COMPLETED_WITH_ERRORS');
    expect(job.completed + job.failed).toBe(DEVICES);
    expect(job.failed).toBeGreaterThan(20);
    expect(job.failed).toBeLessThan(90);
    expect(await taskCounts(bulk, jobId)).toEqual(countersAsStatuses(job));
    // Every failure is a failed download the device reported (503), each success a device now on 3.0.
    const codes = await rows('SELECT result_code AS code, count(*) AS n FROM task WHERE job_id = ? AND status = ? GROUP BY result_code', [jobId, 'FAILED']);
    expect(codes.map((c) => Number(c.code))).toEqual([503]);
    expect(rig.fleet.devices.filter((d) => d.firmwareVersion === '3.0').length).toBe(job.completed);

    // The content server's own count: never more than the cap in flight at once.
    const peak = await metric('dmwsi_downloads_in_flight_peak');
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(CAP);
    expect(await metric('dmwsi_downloads_in_flight')).toBe(0);
    expect(await metric('dmwsi_downloads_completed_total')).toBeGreaterThanOrEqual(job.completed);
    // Sampled while polling: at or near the cap, which bound the rollout, never above it.
    expect(heldPeak).toBeLessThanOrEqual(CAP);
    expect(heldPeak).toBeGreaterThanOrEqual(CAP - 10);
  }, 300_000);
});
