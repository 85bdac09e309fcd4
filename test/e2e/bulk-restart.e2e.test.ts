/**
 * A gateway restart in the middle of a rate-limited rollout: the job
 * resumes, keeps its rate (unreleased tasks are not notified all at once),
 * completes, and its counters equal its tasks'.
 *
 * A device notified just before the restart may open its session while the
 * gateway is down: the session fails and nothing but the stalled-task sweep
 * wakes it again (the simulated device, like many real clients, does not
 * retry a failed connection by itself). The sweep's wait is set short here
 * so that such a task is woken inside the test's time (under load about one
 * run in four hit that window and waited for the default 300 s).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGateway } from '../../src/main/gateway.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { countersAsStatuses, getJob, jobReaches, taskCounts } from '../support/jobs.js';
import { call, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

let rig: DmRig;
beforeAll(async () => {
  rig = await startDmRig({ devices: 12, overrides: { taskRetrySeconds: 5 } });
});
afterAll(() => rig?.stop());

it('resumes a running job after a restart, at its rate, to the end', { timeout: 120_000 }, async () => {
  const bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
  const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', {
    userSession: '',
    operation: { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Mod' }] } },
    targets: rig.fleet.devices.map((d) => d.devId),
    options: { notificationsPerSecond: 3 },
  });
  await waitFor(async () => ((await getJob(bulk, jobId)).completed >= 2 ? true : undefined), 10_000, 'progress');
  await rig.gw.close();
  const second = await startGateway({ ...rig.gw.config, port: Number(new URL(rig.gw.url).port) });
  try {
    const client = await soapClient(second.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
    const done = await jobReaches(client, jobId, ['COMPLETED'], 90_000);
    expect(done.completed).toBe(12);
    expect(await taskCounts(client, jobId)).toEqual(countersAsStatuses(done));
    const released = (await second.dataSource.query('SELECT released_at AS at FROM task WHERE job_id = ?', [jobId])) as { at: number }[];
    const perSecond = new Map<number, number>();
    for (const r of released) {
      const s = Math.floor(Number(r.at) / 1000);
      perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
    }
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(3);
  } finally {
    await second.close();
  }
});
