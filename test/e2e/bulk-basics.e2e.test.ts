/**
 * Bulk jobs over SOAP with a simulated fleet: targets by id, phone number
 * and filter, counters that equal the per-state task counts, completion,
 * doBulkOperation, and bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { CAPABILITY } from '../support/fixtures.js';
import { countersAsStatuses, getJob, jobReaches, taskCounts } from '../support/jobs.js';
import { call, faultOf, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';

let rig: DmRig;
let bulk: SoapClient;
let broker: SoapClient;
const query = { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Mod' }] } };

beforeAll(async () => {
  rig = await startDmRig({ devices: 12 });
  bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
  broker = await soapClient(rig.gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
});
afterAll(() => rig?.stop());

const dev = (i: number) => rig.fleet.devices[i]!;

describe('createDeployments', () => {
  it('runs a QUERY over ids and phone numbers, reports unknown and duplicate targets, and completes', async () => {
    const targets = [dev(0).devId, dev(1).phoneNumber!, dev(2).devId, dev(0).phoneNumber!, 'IMEI:490154203237518', ''];
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', { userSession: '', operation: query, targets });
    const done = await jobReaches(bulk, jobId, ['COMPLETED', 'COMPLETED_WITH_ERRORS']);
    expect(done).toMatchObject({ status: 'COMPLETED', total: 3, completed: 3 });
    expect(await taskCounts(bulk, jobId)).toEqual(countersAsStatuses(done));
    const history = await rig.gw.dataSource.query('SELECT event, detail FROM job_history WHERE job_id = ? ORDER BY seq', [jobId]);
    expect(history.map((h: { event: string }) => h.event)).toEqual(['created', 'targets-rejected', 'started', 'all-tasks-ended']);
    expect(history[1].detail).toMatch(/2 rejected, 1 duplicate/);
  });

  it('selects devices by a filter on make and model', async () => {
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', {
      userSession: '',
      operation: query,
      targets: [`make=${CAPABILITY.make}&model=${CAPABILITY.model}`],
    });
    const done = await jobReaches(bulk, jobId, ['COMPLETED', 'COMPLETED_WITH_ERRORS']);
    expect(done.total).toBe(12);
    expect(done.completed).toBe(12);
  });

  it('completes at once a job whose filter matches nothing', async () => {
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', {
      userSession: '',
      operation: query,
      targets: ['make=Nobody'],
    });
    expect(await jobReaches(bulk, jobId, ['COMPLETED'])).toMatchObject({ total: 0 });
  });

  it('lists jobs by state and by date, newest first, and pages tasks', async () => {
    const r = await call<{ jobData: { jobId: string; status: string }[] }>(bulk, 'getJobs', { userSession: '', status: 'COMPLETED', offset: 0, limit: 10 });
    expect(r.jobData.length).toBeGreaterThanOrEqual(3);
    const byDate = await call<{ jobData: unknown[] }>(bulk, 'getJobsByDate', {
      userSession: '',
      from: new Date(Date.now() - 3600_000).toISOString(),
      to: new Date(Date.now() + 60_000).toISOString(),
      offset: 0,
      limit: 2,
    });
    expect(byDate.jobData).toHaveLength(2);
  });
});

describe('doBulkOperation', () => {
  it('runs a list of requests as one job', async () => {
    const requests = [0, 1, 2].map((i) => ({
      operation: query,
      phoneNumber: dev(i).phoneNumber,
      bOptin: false,
      acceptDevicePolicy: 30,
      testCycle: false,
    }));
    const { jobId } = await call<{ jobId: string }>(broker, 'doBulkOperation', { userSession: '', requests });
    const done = await jobReaches(bulk, jobId, ['COMPLETED', 'COMPLETED_WITH_ERRORS']);
    expect(done).toMatchObject({ status: 'COMPLETED', total: 3, completed: 3 });
  });

  it('refuses the whole call when one request is bad, creating nothing', async () => {
    const before = await rig.gw.dataSource.query('SELECT count(*) AS n FROM job');
    const requests = [
      { operation: query, phoneNumber: dev(0).phoneNumber, bOptin: false, acceptDevicePolicy: 30, testCycle: false },
      { operation: query, phoneNumber: '+19999999999', bOptin: false, acceptDevicePolicy: 30, testCycle: false },
    ];
    const f = await faultOf(call(broker, 'doBulkOperation', { userSession: '', requests }));
    expect(f.code).toBe('NotFound');
    const after = await rig.gw.dataSource.query('SELECT count(*) AS n FROM job');
    expect(Number(after[0].n)).toBe(Number(before[0].n));
  });
});

describe('bad input', () => {
  it('answers an unknown job with NotFound, and control of a finished job with InvalidState', async () => {
    expect((await faultOf(call(bulk, 'getJobById', { userSession: '', jobId: 'nope' }))).code).toBe('NotFound');
    expect((await faultOf(call(bulk, 'pauseJob', { userSession: '', jobId: 'nope' }))).code).toBe('NotFound');
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', { userSession: '', operation: query, targets: [dev(3).devId] });
    await jobReaches(bulk, jobId, ['COMPLETED']);
    expect((await faultOf(call(bulk, 'cancelJob', { userSession: '', jobId }))).code).toBe('InvalidState');
    expect((await faultOf(call(bulk, 'restartJob', { userSession: '', jobId }))).code).toBe('InvalidState');
    expect((await getJob(bulk, jobId)).status).toBe('COMPLETED');
  });

  it('refuses bad options with InvalidArgument', async () => {
    const f = await faultOf(
      call(bulk, 'createDeployments', { userSession: '', operation: query, targets: [dev(0).devId], options: { waveSize: 0 } }),
    );
    expect(f.code).toBe('InvalidArgument');
  });
});
