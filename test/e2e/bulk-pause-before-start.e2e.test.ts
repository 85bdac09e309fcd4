/**
 * A job paused before its startAt and restarted keeps waiting for startAt:
 * restarting gives back the state it was paused from, not a start.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { getJob, jobReaches } from '../support/jobs.js';
import { call, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';

let rig: DmRig;
beforeAll(async () => {
  rig = await startDmRig({ devices: 3 });
});
afterAll(() => rig?.stop());

it('a job paused and restarted before its startAt starts at startAt, not at the restart', { timeout: 60_000 }, async () => {
  const bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
  const startAt = new Date(Date.now() + 6_000);
  const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', {
    userSession: '',
    operation: { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Mod' }] } },
    targets: rig.fleet.devices.map((d) => d.devId),
    options: { startAt: startAt.toISOString() },
  });
  await call(bulk, 'pauseJob', { userSession: '', jobId });
  await call(bulk, 'restartJob', { userSession: '', jobId });
  const restarted = await getJob(bulk, jobId);
  expect(restarted.status).toBe('CREATED');
  await new Promise((r) => setTimeout(r, 2_000));
  const waiting = await getJob(bulk, jobId);
  expect(waiting.status).toBe('CREATED');
  expect(waiting.queued).toBe(3);
  const done = await jobReaches(bulk, jobId, ['COMPLETED'], 45_000);
  expect(done.completed).toBe(3);
  const [row] = (await rig.gw.dataSource.query('SELECT MIN(released_at) AS at FROM task WHERE job_id = ?', [jobId])) as { at: number }[];
  expect(Number(row!.at)).toBeGreaterThanOrEqual(startAt.getTime() - 50);
});
