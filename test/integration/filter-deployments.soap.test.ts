/**
 * createDeployments by DeploymentOptions.targetFilter over 20,000 imported
 * devices, on SQLite and PostgreSQL: the job gets exactly one task per
 * matching device (capability, phone and id prefixes, all devices), in device
 * id order, each with its first history row; written in chunks that another
 * writer may take over at any chunk without a duplicate or a gap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import { TypeormTransactor } from '../../src/persistence/transactor.js';
import { SecretBox } from '../../src/security/secret-box.js';
import { TargetExpander } from '../../src/services/bulk/filter-expansion.js';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { CSV_HEADER } from '../support/csv.js';
import { getJob } from '../support/jobs.js';
import { POSTGRES_SKIP_MESSAGE, postgresUrl } from '../support/postgres.js';
import { call, faultOf, soapClient, type SoapClient } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

const DEVICES = 20_000;
const OTHER = { ...CAPABILITY, oid: 'acme-x2-1.0', model: 'X2', sseRoot: undefined };
/** Even devices are X1 (with a SingleShotExec root), odd ones X2 (without). */
const capabilityOf = (i: number) => (i % 2 === 0 ? CAPABILITY.oid : OTHER.oid);
const pgUrl = await postgresUrl();
if (!pgUrl) console.warn(POSTGRES_SKIP_MESSAGE);
const QUERY = { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Mod' }] } };
const LATER = () => new Date(Date.now() + 3600_000).toISOString();

describe.each([
  ['SQLite', undefined],
  ['PostgreSQL', pgUrl],
] as const)('createDeployments by filter on %s', (name, url) => {
  let gw: TestGateway;
  let bulk: SoapClient;
  const skip = name === 'PostgreSQL' && !url;

  beforeAll(async () => {
    if (skip) return;
    // Chunks of 1,500 devices: a 20,000-device filter takes 14 chunks, so chunk boundaries are exercised.
    gw = await startTestGateway({ ...(url ? { postgresUrl: url } : {}), overrides: { role: 'api', expansionChunkDevices: 1_500 } });
    const dm = await soapClient(gw.url, 'DeviceManager', { kind: 'text', ...ADMIN });
    bulk = await soapClient(gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
    await call(dm, 'createDeviceCapability', { userSession: '', capability: CAPABILITY });
    await call(dm, 'createDeviceCapability', { userSession: '', capability: OTHER });
    const lines = [CSV_HEADER];
    for (let i = 0; i < DEVICES; i++) lines.push(`${imeiN(i)},${phoneN(i)},${capabilityOf(i)},,,,`);
    const r = await call<{ importResult: { imported: number } }>(dm, 'importDeviceInstances', { userSession: '', csv: lines.join('\n') });
    expect(Number(r.importResult.imported)).toBe(DEVICES);
  }, 120_000);
  afterAll(() => gw?.stop());

  async function tasksOf(jobId: string): Promise<{ deviceId: string; seq: number; history: number }[]> {
    const rows = (await gw.dataSource.query(
      'SELECT t.device_id AS "deviceId", t.job_seq AS seq, (SELECT COUNT(*) FROM task_history h WHERE h.task_id = t.task_id) AS history ' +
        `FROM task t WHERE t.job_id = ${url ? '$1' : '?'} ORDER BY t.job_seq`,
      [jobId],
    )) as { deviceId: string; seq: number | string; history: number | string }[];
    return rows.map((r) => ({ deviceId: r.deviceId, seq: Number(r.seq), history: Number(r.history) }));
  }

  async function expectTasksFor(jobId: string, devices: number[]): Promise<void> {
    const tasks = await tasksOf(jobId);
    // Device id order (imeiN sorts as its number), sequence 1..n without a gap, one history row each.
    expect(tasks.map((t) => t.deviceId)).toEqual(devices.map(imeiN));
    expect(tasks.map((t) => t.seq)).toEqual(devices.map((_, k) => k + 1));
    expect(tasks.every((t) => t.history === 1)).toBe(true);
    const job = await getJob(bulk, jobId);
    expect(job).toMatchObject({ status: 'CREATED', total: devices.length, queued: devices.length });
  }

  const range = (from: number, to: number, keep: (i: number) => boolean = () => true) =>
    Array.from({ length: to - from }, (_, k) => from + k).filter(keep);

  it.skipIf(skip)('targets every registered device with allDevices', { timeout: 60_000 }, async () => {
    const started = Date.now();
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', {
      userSession: '',
      operation: QUERY,
      options: { startAt: LATER(), targetFilter: { allDevices: true } },
    });
    console.info(`${name}: createDeployments over ${DEVICES} devices by filter took ${Date.now() - started} ms`);
    await expectTasksFor(jobId, range(0, DEVICES));
    const history = await call<{ jobHistoryEntry: { event: string; detail?: string }[] }>(bulk, 'getJobHistory', {
      userSession: '',
      jobId,
      offset: 0,
      limit: 10,
    });
    expect(history.jobHistoryEntry.map((h) => h.event)).toEqual(['created', 'targets-expanded']);
    expect(history.jobHistoryEntry[1]!.detail).toContain(`${DEVICES} task(s)`);
  });

  it.skipIf(skip)('targets exactly the devices matching capability and phone prefix', { timeout: 60_000 }, async () => {
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', {
      userSession: '',
      operation: QUERY,
      options: { startAt: LATER(), targetFilter: { capabilityOid: OTHER.oid, phoneNumberPrefix: '+15550001' } },
    });
    await expectTasksFor(jobId, range(1000, 2000, (i) => i % 2 === 1));
  });

  it.skipIf(skip)('takes a device id prefix exactly, its IMEI scheme in any case', { timeout: 60_000 }, async () => {
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', {
      userSession: '',
      operation: QUERY,
      options: { startAt: LATER(), targetFilter: { make: 'Acme', deviceIdPrefix: 'imei:3500000001' } },
    });
    await expectTasksFor(jobId, range(10_000, 20_000));
  });

  it.skipIf(skip)('leaves out devices whose model cannot take a SCHEDULED_EXEC, and says so', { timeout: 60_000 }, async () => {
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', {
      userSession: '',
      operation: { name: 'SCHEDULED_EXEC', targetUri: './Sim/Run', atTime: '2099-01-01T00:00:00Z' },
      options: {
        startAt: LATER(),
        firstWaveSize: 100,
        waveSize: 150,
        waveIntervalSeconds: 60,
        targetFilter: { phoneNumberPrefix: '+15550000' },
      },
    });
    await expectTasksFor(jobId, range(0, 1000, (i) => i % 2 === 0));
    // Spaced schedules: each wave's tasks carry its AtTime (chunks stop at wave ends).
    const atTimes = (await gw.dataSource.query(
      `SELECT job_seq AS seq, operation, correlator FROM task WHERE job_id = ${url ? '$1' : '?'} AND job_seq IN (1, 100, 101, 250, 251, 500) ORDER BY job_seq`,
      [jobId],
    )) as { seq: number; operation: string; correlator: string }[];
    expect(atTimes.map((r) => (JSON.parse(r.operation) as { atTime: string }).atTime)).toEqual([
      '2099-01-01T00:00:00Z',
      '2099-01-01T00:00:00Z',
      '2099-01-01T00:01:00Z',
      '2099-01-01T00:01:00Z',
      '2099-01-01T00:02:00Z',
      '2099-01-01T00:03:00Z',
    ]);
    expect(atTimes[0]!.correlator).toBe(`sse-${jobId}-1`);
    const history = await call<{ jobHistoryEntry: { event: string; detail?: string }[] }>(bulk, 'getJobHistory', {
      userSession: '',
      jobId,
      offset: 0,
      limit: 10,
    });
    expect(history.jobHistoryEntry.find((h) => h.event === 'targets-rejected')?.detail).toContain(`500 device(s) of capability ${OTHER.oid}`);
  });

  it.skipIf(skip)('refuses a filter with no condition, and a filter beside targets', async () => {
    expect(
      (await faultOf(call(bulk, 'createDeployments', { userSession: '', operation: QUERY, options: { targetFilter: {} } }))).code,
    ).toBe('InvalidArgument');
    expect(
      (
        await faultOf(
          call(bulk, 'createDeployments', {
            userSession: '',
            operation: QUERY,
            targets: [imeiN(1)],
            options: { targetFilter: { allDevices: true } },
          }),
        )
      ).code,
    ).toBe('InvalidArgument');
    expect(
      (
        await faultOf(
          call(bulk, 'createDeployments', { userSession: '', operation: QUERY, options: { targetFilter: { phoneNumberPrefix: '1555' } } }),
        )
      ).code,
    ).toBe('InvalidArgument');
  });

  it.skipIf(skip)('is finished, without a duplicate or a gap, by writers taking turns after its first writer died', { timeout: 60_000 }, async () => {
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', {
      userSession: '',
      operation: QUERY,
      options: { startAt: LATER(), targetFilter: { capabilityOid: CAPABILITY.oid } },
    });
    // Rewind the job to what a writer that died after 3 chunks leaves: its cursor and tasks as they stood.
    const first = await tasksOf(jobId);
    const kept = first.filter((t) => t.seq <= 2_250);
    const q = (s: string) => (url ? s.replace(/\?/g, (() => { let n = 0; return () => `$${++n}`; })()) : s);
    await gw.dataSource.transaction(async (em) => {
      await em.query(q('DELETE FROM task_history WHERE task_id IN (SELECT task_id FROM task WHERE job_id = ? AND job_seq > ?)'), [jobId, 2_250]);
      await em.query(q('DELETE FROM task WHERE job_id = ? AND job_seq > ?'), [jobId, 2_250]);
      await em.query(q('UPDATE job SET total = ?, queued = ? WHERE job_id = ?'), [2_250, 2_250, jobId]);
      await em.query(q('UPDATE job_expansion SET after_device_id = ?, next_seq = ?, done = 0 WHERE job_id = ?'), [
        kept[kept.length - 1]!.deviceId,
        2_251,
        jobId,
      ]);
    });
    // Two writers at once, chunks of different sizes, each going to the end: they take turns on the cursor.
    // (Their own transactor over the gateway's database, which is idle meanwhile.)
    const tx = new TypeormTransactor(gw.dataSource, new SecretBox(crypto.randomBytes(32)));
    const a = new TargetExpander({ tx, clock: { now: () => Date.now() }, rangeSize: 700 });
    const b = new TargetExpander({ tx, clock: { now: () => Date.now() }, rangeSize: 1_100 });
    await Promise.all([a.finish(jobId), b.finish(jobId)]);
    await expectTasksFor(jobId, range(0, DEVICES, (i) => i % 2 === 0));
  });
});

describe('createDeployments by filter past the call budget', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ overrides: { expansionChunkDevices: 500, expansionCallSeconds: 0 } });
  });
  afterAll(() => gw?.stop());

  it('answers after its first chunk, the worker writes the rest, and the sweep resumes a job whose tick was lost', { timeout: 60_000 }, async () => {
    const dm = await soapClient(gw.url, 'DeviceManager', { kind: 'text', ...ADMIN });
    const bulk = await soapClient(gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
    await call(dm, 'createDeviceCapability', { userSession: '', capability: CAPABILITY });
    const lines = [CSV_HEADER];
    for (let i = 0; i < 5_000; i++) lines.push(`${imeiN(i)},${phoneN(i)},${CAPABILITY.oid},,,,`);
    await call(dm, 'importDeviceInstances', { userSession: '', csv: lines.join('\n') });
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', {
      userSession: '',
      operation: QUERY,
      options: { startAt: LATER(), targetFilter: { allDevices: true } },
    });
    const first = await getJob(bulk, jobId);
    expect(first.status).toBe('CREATED');
    expect(first.total).toBeLessThan(5_000);
    const all = await waitFor(async () => {
      const j = await getJob(bulk, jobId);
      return j.total === 5_000 ? j : undefined;
    }, 30_000, 'every task written');
    expect(all).toMatchObject({ status: 'CREATED', queued: 5_000 });
    const rows = (await gw.dataSource.query('SELECT COUNT(DISTINCT device_id) AS n, MAX(job_seq) AS hi FROM task WHERE job_id = ?', [jobId])) as {
      n: number;
      hi: number;
    }[];
    expect(rows[0]).toEqual({ n: 5_000, hi: 5_000 });

    // A job left half written with no tick queued (its writer and its tick lost): the stalled-work
    // sweep's resumeExpansions finds its cursor standing still and queues the tick that finishes it.
    await gw.dataSource.transaction(async (em) => {
      await em.query('DELETE FROM task_history WHERE task_id IN (SELECT task_id FROM task WHERE job_id = ? AND job_seq > 1000)', [jobId]);
      await em.query('DELETE FROM task WHERE job_id = ? AND job_seq > 1000', [jobId]);
      await em.query('UPDATE job SET total = 1000, queued = 1000 WHERE job_id = ?', [jobId]);
      await em.query("UPDATE job_expansion SET after_device_id = ?, next_seq = 1001, done = 0, updated_at = 0 WHERE job_id = ?", [imeiN(999), jobId]);
    });
    expect(await gw.bulk.resumeExpansions(60_000)).toBe(1);
    await waitFor(async () => ((await getJob(bulk, jobId)).total === 5_000 ? true : undefined), 30_000, 'the rest written by the tick');
    const again = (await gw.dataSource.query('SELECT COUNT(DISTINCT device_id) AS n, COUNT(*) AS tasks FROM task WHERE job_id = ?', [jobId])) as {
      n: number;
      tasks: number;
    }[];
    expect(again[0]).toEqual({ n: 5_000, tasks: 5_000 });
    expect(await gw.bulk.resumeExpansions(0)).toBe(0);
  });

  it('stops writing a filter job cancelled while half written, once and for all', { timeout: 60_000 }, async () => {
    const bulk = await soapClient(gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
    const { jobId } = await call<{ jobId: string }>(bulk, 'createDeployments', {
      userSession: '',
      operation: QUERY,
      options: { startAt: LATER(), targetFilter: { allDevices: true } },
    });
    await waitFor(async () => ((await getJob(bulk, jobId)).total === 5_000 ? true : undefined), 30_000, 'every task written');
    // Half written, its writer gone; then cancelled.
    await gw.dataSource.transaction(async (em) => {
      await em.query('DELETE FROM task_history WHERE task_id IN (SELECT task_id FROM task WHERE job_id = ? AND job_seq > 1000)', [jobId]);
      await em.query('DELETE FROM task WHERE job_id = ? AND job_seq > 1000', [jobId]);
      await em.query('UPDATE job SET total = 1000, queued = 1000 WHERE job_id = ?', [jobId]);
      await em.query("UPDATE job_expansion SET after_device_id = ?, next_seq = 1001, done = 0, updated_at = 0 WHERE job_id = ?", [imeiN(999), jobId]);
    });
    await call(bulk, 'cancelJob', { userSession: '', jobId });
    expect(await gw.bulk.resumeExpansions(60_000)).toBe(1);
    const history = await waitFor(async () => {
      const h = await gw.bulk.getJobHistory(jobId, { offset: 0, limit: 20 });
      return h.some((e) => e.event === 'targets-stopped') ? h : undefined;
    }, 30_000, 'targets-stopped');
    expect(history.find((e) => e.event === 'targets-stopped')?.detail).toContain('1000 task(s) written, no more');
    expect(await gw.bulk.resumeExpansions(0)).toBe(0);
    const job = await waitFor(async () => {
      const j = await getJob(bulk, jobId);
      return j.cancelled === 1000 ? j : undefined;
    }, 30_000, 'the written tasks cancelled');
    expect(job).toMatchObject({ status: 'CANCELLED', total: 1000, queued: 0 });
  });
});
