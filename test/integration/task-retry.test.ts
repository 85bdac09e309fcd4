/**
 * What brings work back after its triggers were lost: the stalled-task query
 * (on SQLite and PostgreSQL) that the worker processes' sweeper runs, and the
 * notify job ids of released tasks (a task released again after its job was
 * paused must get a job of its own).
 */
import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NO_TASKS_COUNTED, type Job, type Task, type TaskStatus } from '../../src/domain/tasks.js';
import { TypeormTransactor } from '../../src/persistence/transactor.js';
import { createLogger } from '../../src/observability/logger.js';
import { BullTaskJobs, startTaskWorker, type TaskProcessors } from '../../src/queue/task-jobs.js';
import { SecretBox } from '../../src/security/secret-box.js';
import { imeiN, phoneN } from '../support/fixtures.js';
import { freshDatabase } from '../support/fresh-database.js';
import { postgresUrl } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';

const pgUrl = await postgresUrl();
const T0 = 1_700_000_000_000;
const RETRY = 30_000;
/** No longest wait: the doubling alone. */
const NO_CAP = Number.MAX_SAFE_INTEGER;

const backends = [
  { name: 'sqlite', available: true },
  { name: 'postgres', available: pgUrl !== undefined },
] as const;


const task = (name: string, n: number, status: TaskStatus, jobId?: string): Task => ({
  taskId: name,
  ...(jobId && { jobId, jobSeq: n }),
  deviceId: imeiN(n),
  phoneNumber: phoneN(n),
  operation: { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] },
  status,
  results: [],
  bOptin: false,
  acceptDevicePolicy: 30,
  testCycle: false,
  createdBy: 'test',
  createdAt: new Date(T0),
  updatedAt: new Date(T0),
});

const job: Job = {
  jobId: 'job-r',
  status: 'RUNNING',
  operationName: 'QUERY',
  options: {},
  createdBy: 'test',
  createdAt: new Date(T0),
  updatedAt: new Date(T0),
  total: 2,
  ...NO_TASKS_COUNTED,
};

for (const backend of backends) {
  describe.skipIf(!backend.available)(`stalled tasks on ${backend.name}`, () => {
    let tx: TypeormTransactor;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      let ds: DataSource;
      ({ ds, cleanup } = await freshDatabase(backend.name, pgUrl));
      tx = new TypeormTransactor(ds, new SecretBox(crypto.randomBytes(32)));
      await tx.run(async (s) => {
        await s.jobs.insert(job, 'created');
        await s.tasks.insert(task('single', 1, 'QUEUED'), 'created');
        await s.tasks.insert(task('held', 2, 'QUEUED', 'job-r'), 'created');
        await s.tasks.insert(task('released', 3, 'QUEUED', 'job-r'), 'created');
        await s.jobs.markReleased(['released'], T0 + 100);
        for (const [name, n] of [['notifying', 4], ['in-session', 5], ['armed', 6], ['done', 7], ['old', 8]] as const) {
          await s.tasks.insert(task(name, n, 'QUEUED'), 'created');
        }
        await s.tasks.transition('notifying', 'NOTIFYING', { event: 'notifying' }, T0 + 50);
        await s.tasks.transition('in-session', 'IN_SESSION', { event: 'session-started' }, T0 + 70);
        await s.tasks.transition('armed', 'IN_SESSION', { event: 'session-started' }, T0 + 5);
        await s.tasks.transition('armed', 'SCHEDULED', { event: 'armed' }, T0 + 10);
        await s.tasks.transition('done', 'FAILED', { event: 'rejected' }, T0 + 10);
        // Moved last long after it was created: its next retry waits as long again.
        await s.tasks.transition('old', 'NOTIFYING', { event: 'notifying' }, T0 + 10 * RETRY);
      });
    });
    afterAll(() => cleanup?.());

    it('finds the tasks waiting for their device that have not moved for the retry interval, oldest first', async () => {
      expect(await tx.stores.tasks.stalled(T0 + RETRY + 1, RETRY, NO_CAP, 100)).toEqual([{ taskId: 'single', since: T0 }]);
      expect(await tx.stores.tasks.stalled(T0 + RETRY + 200, RETRY, NO_CAP, 100)).toEqual([
        { taskId: 'single', since: T0 },
        { taskId: 'notifying', since: T0 + 50 },
        { taskId: 'in-session', since: T0 + 70 },
        // A job's task counts from its release; one not released (held back by the job) is not waiting.
        { taskId: 'released', since: T0 + 100 },
      ]);
      expect(await tx.stores.tasks.stalled(T0 + RETRY + 200, RETRY, NO_CAP, 2)).toHaveLength(2);
    });

    it('waits longer before retrying a task that had waited long before it last moved', async () => {
      const ids = async (now: number) => (await tx.stores.tasks.stalled(now, RETRY, NO_CAP, 100)).map((t) => t.taskId);
      expect(await ids(T0 + 11 * RETRY + 1)).not.toContain('old');
      expect(await ids(T0 + 20 * RETRY + 1)).toContain('old');
    });

    it('waits at most the longest wait (TASK_RETRY_MAX_SECONDS), however long the task had waited', async () => {
      const ids = async (now: number) => (await tx.stores.tasks.stalled(now, RETRY, 3 * RETRY, 100)).map((t) => t.taskId);
      expect(await ids(T0 + 12 * RETRY)).not.toContain('old');
      expect(await ids(T0 + 13 * RETRY + 1)).toContain('old');
      // Never sooner than the retry interval itself.
      expect(await tx.stores.tasks.stalled(T0 + 10 * RETRY + RETRY / 2, RETRY, 1, 100)).not.toContainEqual(expect.objectContaining({ taskId: 'old' }));
    });
  });
}

describe('notify jobs of released tasks (BullMQ)', () => {
  let redis: Redis;
  let jobs: BullTaskJobs;
  const prefix = `test-retry-${crypto.randomBytes(4).toString('hex')}`;

  beforeAll(() => {
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    jobs = new BullTaskJobs(redis, prefix);
  });
  afterAll(async () => {
    await jobs.queue.obliterate({ force: true });
    await jobs.close();
    await redis.quit();
  });

  it('adds one job per release: a retried tick adds nothing, a release after a pause adds a new one', async () => {
    await jobs.notifyMany(['t1', 't2'], T0);
    await jobs.notifyMany(['t1', 't2'], T0);
    await jobs.notifyMany(['t1'], T0 + 5000);
    const waiting = await jobs.queue.getJobs(['waiting', 'delayed']);
    expect(waiting.map((j) => j.id).sort()).toEqual([`notify-batch-t1-r${T0}`, `notify-batch-t1-r${T0 + 5000}`]);
    expect(waiting.find((j) => j.id === `notify-batch-t1-r${T0}`)?.data).toMatchObject({ taskIds: ['t1', 't2'], releasedAt: T0 });
  });

  it("notifies every task of a release; a task whose try failed gets a notify job of its own, run as a retry", async () => {
    const batchPrefix = `test-batch-${crypto.randomBytes(4).toString('hex')}`;
    const batchJobs = new BullTaskJobs(redis, batchPrefix);
    const calls: string[] = [];
    const notify = async (taskId: string, retry: boolean) => {
      calls.push(`${taskId}${retry ? ' retry' : ''}`);
    };
    // The processor's bulk path: b2's try fails.
    const notifyBatch = async (taskIds: string[]) => {
      calls.push(...taskIds);
      return taskIds.filter((id) => id === 'b2').map((taskId) => ({ taskId, reason: 'notification failed' }));
    };
    const none = async () => undefined;
    const processors: TaskProcessors = { notify, notifyBatch, expire: none, bootstrap: none, wake: none, dispatch: none, cancelJob: none, jobDeadline: none };
    const worker = startTaskWorker(redis, batchPrefix, processors, createLogger('silent'), 2);
    try {
      await batchJobs.notifyMany(['b1', 'b2', 'b3'], T0);
      const retryJob = await waitFor(async () => (await batchJobs.queue.getJob(`notify-b2-r${T0}`)) ?? undefined, 10_000, 'the failed task to get its own job');
      expect(retryJob.data).toMatchObject({ taskId: 'b2', retry: true });
      expect(await retryJob.isDelayed()).toBe(true);
      expect([...calls].sort()).toEqual(['b1', 'b2', 'b3']);
      await waitFor(async () => (await batchJobs.queue.getJobState(`notify-batch-b1-r${T0}`)) === 'completed' || undefined, 10_000, 'the batch to complete');
      await retryJob.promote();
      await waitFor(() => calls.includes('b2 retry') || undefined, 10_000, 'the retry to run');
    } finally {
      await worker.close();
      await batchJobs.queue.obliterate({ force: true });
      await batchJobs.close();
    }
  });
});
