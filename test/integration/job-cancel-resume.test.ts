/**
 * cancelJob is resumable: its commit (the job CANCELLED, its tasks still
 * waiting) is the durable record, and the cancel pass that ends those tasks
 * is queued again by a worker that starts after a crash, or by a running
 * worker's sweep. And the deterministic-id queue jobs that must be queued
 * again (cancel pass, job deadline, bootstrap) do not stay behind when they
 * fail, where their id would swallow the next add.
 */
import crypto from 'node:crypto';
import { Queue, UnrecoverableError } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { type Gateway, startGateway } from '../../src/main/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { BullTaskJobs, startTaskWorker, TASK_QUEUE, type TaskProcessors } from '../../src/queue/task-jobs.js';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { postgresUrl } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { bullPrefix } from '../../src/queue/redis-keys.js';

const pgUrl = await postgresUrl();

const ctx = { caller: 'admin', operation: 'test' };
const DEVICES = 4;

describe('cancelJob after a crash', () => {
  const started: { close(): Promise<void> }[] = [];
  const apis = new Map<string, TestGateway>();
  afterAll(async () => {
    for (const g of started.reverse()) await g.close();
    for (const g of apis.values()) await g.stop();
  });

  /** An API-only gateway (no worker) with devices and a job whose tasks wait for a start an hour away. */
  async function apiWithWaitingJob(database: 'sqlite' | 'postgres' = 'sqlite'): Promise<{ api: TestGateway; jobId: string }> {
    let api = apis.get(database);
    if (!api) {
      api = await startTestGateway({ overrides: { role: 'api' }, ...(database === 'postgres' ? { postgresUrl: pgUrl! } : {}) });
      apis.set(database, api);
    }
    const base = Math.floor(Math.random() * 1e6) * 10;
    await api.deviceManager.createDeviceCapability(ctx, { ...CAPABILITY, dmVersion: '1.2' }).catch(() => undefined);
    const targets: string[] = [];
    for (let i = 0; i < DEVICES; i++) {
      const deviceId = imeiN(base + i);
      await api.deviceManager.createDeviceInstance(ctx, { deviceId, phoneNumber: phoneN(base + i), capabilityOid: CAPABILITY.oid });
      targets.push(deviceId);
    }
    const jobId = await api.bulk.createDeployments(
      ctx,
      { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] },
      targets,
      { startAt: new Date(Date.now() + 3600_000) },
    );
    return { api, jobId };
  }

  /** cancelJob commits, then the process dies before its cancel pass runs: no queue job is left. */
  async function cancelAndLoseThePass(gw: TestGateway, jobId: string): Promise<void> {
    await gw.bulk.cancelJob(ctx, jobId);
    const queue = new Queue(TASK_QUEUE, { connection: { url: gw.config.redisUrl! }, prefix: bullPrefix(gw.config.queuePrefix) });
    try {
      await queue.remove(`cancel-job-${jobId}`);
      expect(await queue.getJob(`cancel-job-${jobId}`)).toBeUndefined();
    } finally {
      await queue.close();
    }
    const job = await gw.bulk.getJobById(jobId);
    expect(job).toMatchObject({ status: 'CANCELLED', queued: DEVICES, cancelled: 0 });
  }

  async function worker(gw: TestGateway, taskRetrySeconds = 300): Promise<Gateway> {
    const g = await startGateway({ ...gw.config, role: 'worker', port: 0, taskRetrySeconds });
    started.push(g);
    return g;
  }

  const allCancelled = (gw: Gateway, jobId: string) =>
    waitFor(async () => {
      const job = await gw.bulk.getJobById(jobId);
      return job.cancelled === DEVICES ? job : undefined;
    }, 15_000, `the tasks of ${jobId} to end CANCELLED`);

  async function restartAfterCrash(database: 'sqlite' | 'postgres'): Promise<void> {
    const { api, jobId } = await apiWithWaitingJob(database);
    await cancelAndLoseThePass(api, jobId);
    const w = await worker(api);
    expect(await allCancelled(w, jobId)).toMatchObject({ status: 'CANCELLED', queued: 0, notifying: 0, cancelled: DEVICES });
    const tasks = await w.bulk.getTasks(jobId, undefined, { offset: 0, limit: 100 });
    expect(tasks.map((t) => t.status)).toEqual(Array(DEVICES).fill('CANCELLED'));
  }

  it('a worker started after the crash ends the waiting tasks of the cancelled job CANCELLED', () => restartAfterCrash('sqlite'));
  it.skipIf(!pgUrl)('on PostgreSQL too', () => restartAfterCrash('postgres'));

  it('a running worker\'s sweep queues a lost cancel pass again', async () => {
    const { api, jobId } = await apiWithWaitingJob();
    await worker(api, 5);
    // cancelJob's commit with nothing after it (a worker is running, so its queue job could not be
    // taken back in time): the state change alone.
    await api.dataSource.query(`UPDATE "job" SET "status" = 'CANCELLED' WHERE "job_id" = ?`, [jobId]);
    expect(await allCancelled(api, jobId)).toMatchObject({ status: 'CANCELLED', queued: 0, cancelled: DEVICES });
  });
});

describe('deterministic-id queue jobs that fail', () => {
  const redisUrl = inject('redisUrl');
  let jobs: BullTaskJobs | undefined;
  let connection: Redis | undefined;
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    await jobs?.close();
    connection?.disconnect();
  });

  it.each([
    ['cancel-job', (j: BullTaskJobs, id: string) => j.cancelJob(id)],
    ['job-deadline', (j: BullTaskJobs, id: string) => j.jobDeadline(id, new Date(1_700_000_000_000))],
    ['bootstrap', (j: BullTaskJobs, id: string) => j.bootstrap(id)],
  ] as const)('a failed %s job does not keep its id from being queued again', async (_name, add) => {
    const prefix = `test-fail-${crypto.randomBytes(4).toString('hex')}`;
    connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    jobs = new BullTaskJobs(connection, prefix);
    const runs: string[] = [];
    const failed: string[] = [];
    const run = async (id: string) => {
      runs.push(id);
      // The first run fails for good (the pass's attempts all used up).
      if (runs.length === 1) throw new UnrecoverableError('the first run fails');
    };
    const processors: TaskProcessors = {
      notify: run,
      notifyBatch: async () => [],
      expire: run,
      bootstrap: run,
      dispatch: run,
      cancelJob: run,
      jobDeadline: run,
      wake: run,
    };
    const w = startTaskWorker(connection, prefix, processors, createLogger('silent'), 1);
    w.on('failed', (job) => failed.push(job?.id ?? ''));
    stop = () => w.close();
    await add(jobs, 'j1');
    await waitFor(() => failed.length === 1 || undefined, 10_000, 'the first run to fail');
    await add(jobs, 'j1');
    await waitFor(() => runs.length === 2 || undefined, 10_000, 'the job queued again to run');
    expect(runs).toEqual(['j1', 'j1']);
  });
});
