/**
 * Task moves and notes made at once outside units of work on PostgreSQL go out together
 * (move-batches.ts, statement-batcher.ts): one statement, one transaction, for those that waited for
 * the process's lane. Which moves shared a
 * transaction is read from the rows themselves (xmin: the transaction that wrote the row version), so
 * these tests see the batching the server saw.
 */
import crypto from 'node:crypto';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DeviceAlert } from '../../src/dm/server/ports.js';
import { type Job, NO_TASKS_COUNTED } from '../../src/domain/tasks.js';
import { AlertLog } from '../../src/persistence/alert-store.js';
import { RegistryDmDeviceDirectory } from '../../src/persistence/dm-device-directory.js';
import { MAX_MOVE_BATCH, MOVE_LANES } from '../../src/persistence/move-batches.js';
import { TypeormTransactor } from '../../src/persistence/transactor.js';
import { SecretBox } from '../../src/security/secret-box.js';
import { CAPABILITY, deviceRecordN, queryTaskN } from '../support/fixtures.js';
import { freshDatabase } from '../support/fresh-database.js';
import { POSTGRES_SKIP_MESSAGE, postgresUrl } from '../support/postgres.js';

const pgUrl = await postgresUrl();
if (!pgUrl) console.warn(POSTGRES_SKIP_MESSAGE);
const T0 = 1_700_000_000_000;

describe.skipIf(!pgUrl)('task moves batched while the lane is busy (PostgreSQL)', () => {
  let ds: DataSource;
  let tx: TypeormTransactor;
  let directory: RegistryDmDeviceDirectory;
  let log: AlertLog;
  let cleanup: () => Promise<void>;
  let n = 0;

  beforeAll(async () => {
    const db = await freshDatabase('postgres', pgUrl);
    ds = db.ds;
    cleanup = db.cleanup;
    tx = new TypeormTransactor(db.ds, new SecretBox(crypto.randomBytes(32)));
    directory = new RegistryDmDeviceDirectory(tx, 'gw', true);
    log = new AlertLog(tx, true);
    await tx.stores.capabilities.insert({ ...CAPABILITY, dmVersion: '1.2' }, T0);
  });
  afterAll(async () => {
    await cleanup?.();
  });

  /** A job of `count` QUEUED tasks, each on a device of its own. */
  async function jobWithTasks(jobId: string, count: number): Promise<{ deviceId: string; taskId: string }[]> {
    const job: Job = { jobId, status: 'RUNNING', operationName: 'QUERY', options: {}, createdBy: 't', createdAt: new Date(T0), updatedAt: new Date(T0), total: count, ...NO_TASKS_COUNTED };
    await tx.run((s) => s.jobs.insert(job, 'created'));
    const made: { deviceId: string; taskId: string }[] = [];
    for (let i = 0; i < count; i++) {
      n += 1;
      const device = deviceRecordN(n, T0);
      await tx.stores.devices.insert(device);
      const task = queryTaskN(n, `${jobId}-t${i}`, T0, { jobId, jobSeq: i + 1 });
      await tx.run((s) => s.tasks.insert(task, 'created'));
      const deviceId = device.deviceId;
      made.push({ deviceId, taskId: task.taskId });
    }
    return made;
  }

  /** The transaction that last wrote each row (xmin), by key. */
  async function writers(table: 'task' | 'device_instance', column: 'task_id' | 'device_id', keys: string[]): Promise<Map<string, string>> {
    const rows: { k: string; x: string }[] = await ds.query(`SELECT "${column}" AS k, xmin::text AS x FROM "${table}" WHERE "${column}" = ANY($1)`, [keys]);
    return new Map(rows.map((r) => [r.k, r.x]));
  }

  it('sends moves that waited together: each with its own state check, history, counters, contact and alert', async () => {
    expect(MOVE_LANES).toBe(1);
    const count = MAX_MOVE_BATCH + 4;
    const tasks = await jobWithTasks('job-batch', count);
    const records = vi.spyOn(tx.stores.alerts, 'record');
    const contacts = vi.spyOn(tx.stores.devices, 'recordContact');
    const alert = (deviceId: string, i: number): DeviceAlert => ({ deviceId, at: T0 + 100 + i, alertType: 'org.openmobilealliance.dm.sse.report', mark: 'informational', correlator: `c-${i}`, data: '200' });
    // As DM messages of different devices served at once: each message's contact and alert ride on its move.
    const moved = await Promise.all(
      tasks.map(({ deviceId, taskId }, i) =>
        directory.recordContactAround(deviceId, { lastContact: new Date(T0 + i), state: 'ACTIVE', clientNonce: `nonce-${i}` }, () =>
          log.recordAround(alert(deviceId, i), async () => (await tx.stores.tasks.transition(taskId, 'NOTIFYING', { event: 'notifying', detail: `d${i}` }, T0 + i)).moved),
        ),
      ),
    );
    expect(moved).toEqual(tasks.map(() => true));
    // Every write rode on a move: none was made alone.
    expect(records).not.toHaveBeenCalled();
    expect(contacts).not.toHaveBeenCalled();
    vi.restoreAllMocks();

    for (const [i, { deviceId, taskId }] of tasks.entries()) {
      expect(await tx.stores.devices.get(deviceId)).toMatchObject({ state: 'ACTIVE', lastContact: new Date(T0 + i), credentials: { clientNonce: `nonce-${i}` } });
      expect(await tx.stores.alerts.forDevice(deviceId)).toEqual([expect.objectContaining({ at: T0 + 100 + i, correlator: `c-${i}`, handled: true })]);
      const history = await tx.stores.tasks.history(taskId);
      expect(history.map((h) => [h.seq, h.fromStatus, h.toStatus, h.event, h.detail])).toEqual([
        [1, undefined, 'QUEUED', 'created', undefined],
        [2, 'QUEUED', 'NOTIFYING', 'notifying', `d${i}`],
      ]);
      expect(history[1]!.at).toEqual(new Date(T0 + i));
    }
    expect(await tx.stores.jobs.get('job-batch')).toMatchObject({ queued: 0, notifying: count });

    // The first went out alone; the rest waited for it and went out together, at most MAX_MOVE_BATCH a statement.
    const taskWriters = await writers('task', 'task_id', tasks.map((t) => t.taskId));
    const deviceWriters = await writers('device_instance', 'device_id', tasks.map((t) => t.deviceId));
    const transactions = new Set(taskWriters.values());
    expect(transactions.size).toBeLessThanOrEqual(1 + Math.ceil((count - 1) / MAX_MOVE_BATCH) + 1);
    expect(transactions.size).toBeLessThan(count / 2);
    // Each contact was written in its move's transaction.
    for (const { deviceId, taskId } of tasks) expect(deviceWriters.get(deviceId)).toBe(taskWriters.get(taskId));

    // To an end state at once: the batches look at the job's end, and the job ends.
    const ended = await Promise.all(tasks.map(({ taskId }, i) => tx.stores.tasks.transition(taskId, 'CANCELLED', { event: 'cancelled' }, T0 + 200 + i)));
    expect(ended.every((r) => r.moved && r.task?.status === 'CANCELLED')).toBe(true);
    expect(await tx.stores.jobs.get('job-batch')).toMatchObject({ status: 'COMPLETED_WITH_ERRORS', notifying: 0, cancelled: count });
  });

  it('sends notes that waited together, each with its own time, event, code and detail', async () => {
    const count = MAX_MOVE_BATCH + 4;
    const tasks = await jobWithTasks('job-notes', count);
    await Promise.all([
      ...tasks.map(({ taskId }, i) => tx.stores.tasks.note(taskId, { event: 'notification-delivered', code: 200 + i, detail: `n${i}` }, T0 + 300 + i)),
      tx.stores.tasks.note('no-such-task', { event: 'ignored' }, T0 + 400),
    ]);
    for (const [i, { taskId }] of tasks.entries()) {
      const history = await tx.stores.tasks.history(taskId);
      expect(history.map((h) => [h.seq, h.fromStatus, h.toStatus, h.event, h.code, h.detail, h.at.getTime()])).toEqual([
        [1, undefined, 'QUEUED', 'created', undefined, undefined, T0],
        [2, 'QUEUED', 'QUEUED', 'notification-delivered', 200 + i, `n${i}`, T0 + 300 + i],
      ]);
    }
    const transactions = new Set((await writers('task', 'task_id', tasks.map((t) => t.taskId))).values());
    expect(transactions.size).toBeLessThan(count / 2);
  });

  it('moves a task once when two moves of it from one state wait together', async () => {
    const tasks = await jobWithTasks('job-twice', 6);
    const target = tasks[3]!.taskId;
    const results = await Promise.all([
      ...tasks.map(({ taskId }, i) => tx.stores.tasks.transition(taskId, 'NOTIFYING', { event: 'notifying', detail: `first ${i}`, from: ['QUEUED'] }, T0 + i)),
      tx.stores.tasks.transition(target, 'NOTIFYING', { event: 'notifying', detail: 'second', from: ['QUEUED'] }, T0 + 50),
    ]);
    expect(results.filter((r) => r.moved)).toHaveLength(tasks.length);
    expect(results.at(-1)).toMatchObject({ moved: false, task: { status: 'NOTIFYING' } });
    expect((await tx.stores.tasks.history(target)).map((h) => h.detail ?? h.event)).toEqual(['created', 'first 3']);
    expect(await tx.stores.jobs.get('job-twice')).toMatchObject({ queued: 0, notifying: tasks.length });
  });

  it('makes a failed batch again move by move: only the move that cannot be stored fails', async () => {
    const tasks = await jobWithTasks('job-fails', 8);
    // Two moves giving their tasks one correlator (unique): together they fail their statement.
    const outcomes = await Promise.allSettled(
      tasks.map(({ taskId }, i) =>
        tx.stores.tasks.transition(taskId, 'NOTIFYING', { event: 'notifying', ...(i === 2 || i === 3 ? { correlator: 'same' } : {}) }, T0 + i),
      ),
    );
    // Made again alone, the two race for the correlator: one of them fails, the other and the rest move.
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : []));
    expect(failed).toHaveLength(1);
    const loser = failed[0]!;
    expect([2, 3]).toContain(loser);
    expect(String((outcomes[loser] as PromiseRejectedResult).reason)).toMatch(/duplicate key|unique/i);
    for (const [i, { taskId }] of tasks.entries()) {
      expect((await tx.stores.tasks.get(taskId))?.status).toBe(i === loser ? 'QUEUED' : 'NOTIFYING');
    }
    expect((await tx.stores.tasks.history(tasks[loser]!.taskId)).map((h) => h.event)).toEqual(['created']);
    expect(await tx.stores.jobs.get('job-fails')).toMatchObject({ queued: 1, notifying: 7 });
  });
});
