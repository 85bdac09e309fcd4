/**
 * A job's counters on PostgreSQL as the job row plus delta rows
 * (src/persistence/job-counters.ts): exact under concurrent moves from
 * several connection pools (processes) while folds run, a job finished when
 * its last two tasks end in concurrent units of work, and finished by the
 * fold when the process that ended its last task died before looking.
 */
import crypto from 'node:crypto';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job, Task, TaskStatus } from '../../src/domain/tasks.js';
import { openDatabase } from '../../src/persistence/data-source.js';
import { foldJobCounters } from '../../src/persistence/job-store.js';
import { MAX_MOVE_BATCH } from '../../src/persistence/move-batches.js';
import { TypeormTaskStore } from '../../src/persistence/task-store.js';
import { TypeormTransactor } from '../../src/persistence/transactor.js';
import { SecretBox } from '../../src/security/secret-box.js';
import { imeiN, phoneN } from '../support/fixtures.js';
import { dropSchema, newSchemaName, POSTGRES_SKIP_MESSAGE, postgresUrl } from '../support/postgres.js';

const pgUrl = await postgresUrl();
if (!pgUrl) console.warn(POSTGRES_SKIP_MESSAGE);

const sealer = new SecretBox(crypto.randomBytes(32));
const AT = 1_700_000_000_000;

function job(jobId: string, total: number): Job {
  return {
    jobId,
    status: 'RUNNING',
    operationName: 'SCHEDULED_EXEC',
    options: {},
    createdBy: 'bulk',
    createdAt: new Date(AT),
    updatedAt: new Date(AT),
    total,
    ...{ queued: 0, notifying: 0, inSession: 0, scheduled: 0, inProgress: 0, completed: 0, failed: 0, missed: 0, cancelled: 0, expired: 0 },
  };
}

function task(jobId: string, n: number): Task {
  return {
    taskId: `${jobId}-t${n}`,
    jobId,
    jobSeq: n,
    deviceId: imeiN(n),
    phoneNumber: phoneN(n),
    operation: { name: 'SCHEDULED_EXEC', commands: [], targetUri: './FUMO/fw1/Update', atTime: '2030-01-01T00:00:00Z' },
    status: 'QUEUED',
    results: [],
    bOptin: false,
    acceptDevicePolicy: 10,
    testCycle: false,
    createdBy: 'bulk',
    createdAt: new Date(AT),
    updatedAt: new Date(AT),
  };
}

const COUNTER_OF: Record<TaskStatus, keyof Job> = {
  QUEUED: 'queued',
  NOTIFYING: 'notifying',
  IN_SESSION: 'inSession',
  SCHEDULED: 'scheduled',
  IN_PROGRESS: 'inProgress',
  COMPLETED: 'completed',
  FAILED: 'failed',
  MISSED: 'missed',
  CANCELLED: 'cancelled',
  EXPIRED: 'expired',
};

describe.skipIf(!pgUrl)('job counters as delta rows (PostgreSQL)', () => {
  const schema = newSchemaName();
  /** Three data sources, each its own pool: three gateway processes. */
  const sources: DataSource[] = [];
  let txs: TypeormTransactor[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) sources.push(await openDatabase({ url: pgUrl!, schema, poolSize: 6 }));
    txs = sources.map((ds) => new TypeormTransactor(ds, sealer));
  });
  afterAll(async () => {
    for (const ds of sources) await ds.destroy();
    if (pgUrl) await dropSchema(pgUrl, schema);
  });

  async function createJob(jobId: string, total: number): Promise<void> {
    await txs[0]!.run(async (s) => {
      await s.jobs.insert(job(jobId, total), 'created');
      await s.jobs.insertTasks(
        jobId,
        Array.from({ length: total }, (_, i) => task(jobId, i + 1)),
        AT,
      );
    });
  }

  async function perState(jobId: string): Promise<Record<string, number>> {
    const rows: { status: TaskStatus; n: string }[] = await sources[0]!.query('SELECT status, COUNT(*) AS n FROM task WHERE job_id = $1 GROUP BY status', [jobId]);
    return Object.fromEntries(rows.map((r) => [COUNTER_OF[r.status], Number(r.n)]));
  }

  function countersOf(j: Job): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of Object.values(COUNTER_OF)) if ((j[k] as number) !== 0) out[k] = j[k] as number;
    return out;
  }

  it('keeps the counters equal to the task counts while three processes move tasks and fold at once, and ends the job once', async () => {
    const jobId = 'job-race';
    const total = 120;
    await createJob(jobId, total);
    const path: TaskStatus[] = ['NOTIFYING', 'IN_SESSION', 'SCHEDULED'];
    let moving = true;
    // Folds from every process while the moves run.
    const folds = sources.map(async (ds) => {
      while (moving) {
        await foldJobCounters(ds, Date.now());
        await new Promise((r) => setTimeout(r, 3));
      }
    });
    const snapshots: { job: Job; state: Record<string, number> }[] = [];
    const moves = Array.from({ length: total }, async (_, i) => {
      const taskId = `${jobId}-t${i + 1}`;
      for (const [step, to] of [...path, i % 7 === 0 ? 'FAILED' : 'COMPLETED'].entries()) {
        const tx = txs[(i + step) % txs.length]!;
        const r = await tx.run((s) => s.tasks.transition(taskId, to as TaskStatus, { event: `e-${to}` }, AT + step + 1));
        expect(r.moved).toBe(true);
      }
    });
    // Mid-run reads: every read adds up to the job's total (one snapshot, whatever folds ran).
    const reads = (async () => {
      for (let k = 0; k < 30; k++) {
        const j = await txs[k % 3]!.stores.jobs.get(jobId);
        snapshots.push({ job: j!, state: {} });
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await Promise.all([...moves, reads]);
    moving = false;
    await Promise.all(folds);

    for (const { job: j } of snapshots) {
      const sum = Object.values(countersOf(j)).reduce((a, b) => a + b, 0);
      expect(sum).toBe(total);
    }
    const done = (await txs[1]!.stores.jobs.get(jobId))!;
    expect(countersOf(done)).toEqual(await perState(jobId));
    expect(done).toMatchObject({ status: 'COMPLETED_WITH_ERRORS', completed: total - Math.ceil(total / 7), failed: Math.ceil(total / 7) });
    const ends = (await txs[2]!.stores.jobs.history(jobId)).filter((h) => h.event === 'all-tasks-ended');
    expect(ends).toHaveLength(1);

    // Folding the rest leaves no delta row and the same counters.
    await foldJobCounters(sources[0]!, Date.now());
    const [{ n }] = await sources[0]!.query('SELECT COUNT(*) AS n FROM job_counter_delta WHERE job_id = $1', [jobId]);
    expect(Number(n)).toBe(0);
    expect(countersOf((await txs[0]!.stores.jobs.get(jobId))!)).toEqual(await perState(jobId));
  });

  it('moves a task once when three processes move it from the same state at once (the one-statement move)', async () => {
    const jobId = 'job-contended';
    await createJob(jobId, 1);
    const taskId = `${jobId}-t1`;
    const steps: [TaskStatus, TaskStatus][] = [
      ['QUEUED', 'NOTIFYING'],
      ['NOTIFYING', 'IN_SESSION'],
      ['IN_SESSION', 'SCHEDULED'],
      ['SCHEDULED', 'COMPLETED'],
    ];
    for (const [from, to] of steps) {
      const results = await Promise.all(
        Array.from({ length: 9 }, (_, k) => txs[k % 3]!.run((s) => s.tasks.transition(taskId, to, { event: `e-${to}`, from: [from] }, AT + k))),
      );
      expect(results.filter((r) => r.moved)).toHaveLength(1);
      // The losers see the row as the winner left it.
      for (const r of results.filter((x) => !x.moved)) expect(r.task?.status).toBe(to);
    }
    const history = await txs[0]!.stores.tasks.history(taskId);
    expect(history.map((h) => [h.seq, h.fromStatus, h.toStatus])).toEqual([
      [1, undefined, 'QUEUED'],
      [2, 'QUEUED', 'NOTIFYING'],
      [3, 'NOTIFYING', 'IN_SESSION'],
      [4, 'IN_SESSION', 'SCHEDULED'],
      [5, 'SCHEDULED', 'COMPLETED'],
    ]);
    expect(await txs[1]!.stores.tasks.get(taskId)).toMatchObject({ status: 'COMPLETED' });
    const j = (await txs[2]!.stores.jobs.get(jobId))!;
    expect(countersOf(j)).toEqual({ completed: 1 });
    expect(j.status).toBe('COMPLETED');
  });

  it('finishes a job whose last two tasks end in two units of work that commit together', async () => {
    const jobId = 'job-last-two';
    await createJob(jobId, 2);
    // Both moves are made before either unit of work commits: neither sees the other's.
    let arrived = 0;
    let release!: () => void;
    const bothMoved = new Promise<void>((r) => {
      release = r;
    });
    const end = (tx: TypeormTransactor, taskId: string) =>
      tx.run(async (s) => {
        const r = await s.tasks.transition(taskId, 'COMPLETED', { event: 'reported' }, AT + 9);
        if (++arrived === 2) release();
        await bothMoved;
        return r.moved;
      });
    expect(await Promise.all([end(txs[0]!, `${jobId}-t1`), end(txs[1]!, `${jobId}-t2`)])).toEqual([true, true]);
    expect(await txs[2]!.stores.jobs.get(jobId)).toMatchObject({ status: 'COMPLETED', completed: 2, queued: 0 });
  });

  it('looks at the job’s end only after a move that may have ended its last open task (more open than connections: no look)', async () => {
    const jobId = 'job-may-end';
    const [{ max_connections: maxConnections }] = await sources[0]!.query('SHOW max_connections');
    // Moves it cannot see are at most MAX_MOVE_BATCH per connection (move-batches.ts).
    const unseen = Number(maxConnections) * MAX_MOVE_BATCH;
    const total = unseen + 3;
    await createJob(jobId, total);
    // A task store on the data source itself, as the broker's store calls: what it tells its endings.
    const told: boolean[] = [];
    const store = new TypeormTaskStore(sources[0]!.manager, { ended: (_jobId, _at, mayEndJob) => void told.push(mayEndJob !== false) });
    for (let n = 1; n <= total; n++) {
      const r = await store.transition(`${jobId}-t${n}`, 'CANCELLED', { event: 'cancelled' }, AT + n);
      expect(r.moved).toBe(true);
    }
    // Open besides the move's own task: total - n; a look once that is at most max_connections × MAX_MOVE_BATCH.
    expect(told).toEqual(Array.from({ length: total }, (_, i) => total - (i + 1) <= unseen));
    expect(told.filter((t) => !t)).toHaveLength(2);

    // Through the transactor's stores (outside any unit of work), concurrently from three processes: the job ends at once.
    const jobId2 = 'job-may-end-concurrent';
    await createJob(jobId2, total);
    await Promise.all(
      Array.from({ length: total }, (_, i) =>
        txs[i % 3]!.stores.tasks.transition(`${jobId2}-t${i + 1}`, i % 2 ? 'CANCELLED' : 'EXPIRED', { event: 'ended' }, AT + i),
      ),
    );
    expect(await txs[1]!.stores.jobs.get(jobId2)).toMatchObject({ status: 'COMPLETED_WITH_ERRORS', queued: 0 });
    expect((await txs[0]!.stores.jobs.history(jobId2)).map((h) => h.event)).toEqual(['created', 'all-tasks-ended']);
  });

  it('lets the fold finish a job whose last task’s process died between its COMMIT and its look', async () => {
    const jobId = 'job-orphaned-end';
    await createJob(jobId, 1);
    // A task store on a bare transaction: nobody looks after the COMMIT, as when the process died right after it.
    const qr = sources[0]!.createQueryRunner();
    await qr.startTransaction();
    await new TypeormTaskStore(qr.manager).transition(`${jobId}-t1`, 'COMPLETED', { event: 'reported' }, AT + 5);
    await qr.commitTransaction();
    await qr.release();
    expect(await txs[0]!.stores.jobs.get(jobId)).toMatchObject({ status: 'RUNNING', completed: 1, queued: 0 });
    await foldJobCounters(sources[1]!, AT + 6);
    expect(await txs[0]!.stores.jobs.get(jobId)).toMatchObject({ status: 'COMPLETED', completed: 1, queued: 0 });
    expect((await txs[0]!.stores.jobs.history(jobId)).map((h) => h.event)).toEqual(['created', 'all-tasks-ended']);
  });

  it('counts cancelled jobs’ waiting tasks and lists jobs with their deltas', async () => {
    const jobId = 'job-cancelled';
    await createJob(jobId, 3);
    await txs[0]!.run((s) => s.jobs.transition(jobId, 'CANCELLED', { event: 'cancelled', from: ['RUNNING'] }, AT + 1));
    expect(await txs[1]!.stores.jobs.cancelledWithWaitingTasks(10)).toContain(jobId);
    for (const n of [1, 2, 3]) await txs[n - 1]!.run((s) => s.tasks.transition(`${jobId}-t${n}`, 'CANCELLED', { event: 'cancelled' }, AT + 2));
    expect(await txs[1]!.stores.jobs.cancelledWithWaitingTasks(10)).not.toContain(jobId);
    const listed = (await txs[2]!.stores.jobs.list('CANCELLED', { offset: 0, limit: 10 })).find((j) => j.jobId === jobId);
    expect(listed).toMatchObject({ queued: 0, cancelled: 3 });
    const byDate = (await txs[2]!.stores.jobs.listByDate(new Date(AT - 1), new Date(AT + 1), { offset: 0, limit: 50 })).find((j) => j.jobId === jobId);
    expect(byDate).toMatchObject({ queued: 0, cancelled: 3 });
  });
});
