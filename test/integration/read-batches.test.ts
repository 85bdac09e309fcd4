/**
 * Reads made at once outside units of work on PostgreSQL go out together while one is in flight
 * (statement-batcher.ts): a DM message's device read (dm-device-directory.ts) and a report's task
 * read in context (task-store.ts). The statements are counted where pg hands them out: every
 * statement outside a unit of work takes a connection from the pool (its `acquire` event).
 */
import crypto from 'node:crypto';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Job, NO_TASKS_COUNTED } from '../../src/domain/tasks.js';
import { RegistryDmDeviceDirectory } from '../../src/persistence/dm-device-directory.js';
import { TypeormTransactor } from '../../src/persistence/transactor.js';
import { SecretBox } from '../../src/security/secret-box.js';
import { CAPABILITY, deviceRecordN, queryTaskN } from '../support/fixtures.js';
import { freshDatabase } from '../support/fresh-database.js';
import { POSTGRES_SKIP_MESSAGE, postgresUrl } from '../support/postgres.js';

const pgUrl = await postgresUrl();
if (!pgUrl) console.warn(POSTGRES_SKIP_MESSAGE);
const T0 = 1_700_000_000_000;

interface CountingPool {
  on(event: 'acquire', listener: () => void): void;
  off(event: 'acquire', listener: () => void): void;
}

describe.skipIf(!pgUrl)('reads coalesced while one is in flight (PostgreSQL)', () => {
  let ds: DataSource;
  let tx: TypeormTransactor;
  let cleanup: () => Promise<void>;
  const deviceIds: string[] = [];
  const taskIds: string[] = [];

  beforeAll(async () => {
    const db = await freshDatabase('postgres', pgUrl);
    ds = db.ds;
    cleanup = db.cleanup;
    tx = new TypeormTransactor(db.ds, new SecretBox(crypto.randomBytes(32)));
    await tx.stores.capabilities.insert({ ...CAPABILITY, dmVersion: '1.2' }, T0);
    const job: Job = { jobId: 'job-reads', status: 'RUNNING', operationName: 'QUERY', options: {}, createdBy: 't', createdAt: new Date(T0), updatedAt: new Date(T0), total: 30, ...NO_TASKS_COUNTED };
    await tx.run((s) => s.jobs.insert(job, 'created'));
    for (let i = 1; i <= 30; i++) {
      const device = deviceRecordN(i, T0);
      await tx.stores.devices.insert(device);
      deviceIds.push(device.deviceId);
      const task = queryTaskN(i, `job-reads-t${i}`, T0, { jobId: 'job-reads', jobSeq: i });
      await tx.run((s) => s.tasks.insert(task, 'created'));
      taskIds.push(task.taskId);
    }
  });
  afterAll(async () => {
    await cleanup?.();
  });

  /** Runs `work` and counts the statements it sent through the pool. */
  async function counted<T>(work: () => Promise<T>): Promise<{ result: T; statements: number }> {
    const pool = (ds.driver as unknown as { master: CountingPool }).master;
    let statements = 0;
    const count = () => {
      statements++;
    };
    pool.on('acquire', count);
    try {
      return { result: await work(), statements };
    } finally {
      pool.off('acquire', count);
    }
  }

  it("reads devices asked for at once in two statements, each caller getting its own device's account", async () => {
    const directory = new RegistryDmDeviceDirectory(tx, 'gw', true);
    await directory.get(deviceIds[0]!); // the capability's DM version, cached from here on
    const asked = [...deviceIds, 'IMEI:000000000000000', deviceIds[3]!];
    const { result, statements } = await counted(() => Promise.all(asked.map((id) => directory.get(id))));
    // The first goes out alone at once; the 31 that arrived meanwhile go together when it returns.
    expect(statements).toBe(2);
    for (const [i, id] of asked.entries()) {
      if (id === 'IMEI:000000000000000') expect(result[i]).toBeUndefined();
      else {
        const expected = await tx.stores.devices.get(id);
        expect(result[i]?.auth).toMatchObject({ deviceId: id, clientPassword: expected!.credentials.clientPassword, serverId: 'gw' });
      }
    }
  });

  it('a read that waited sees what was written before it was asked for', async () => {
    const directory = new RegistryDmDeviceDirectory(tx, 'gw', true);
    const held = directory.get(deviceIds[5]!);
    await directory.recordContact(deviceIds[6]!, { lastContact: new Date(T0 + 5), state: 'ACTIVE', clientNonce: 'after-write' });
    const [, seen] = await Promise.all([held, directory.get(deviceIds[6]!)]);
    expect(seen?.auth.clientNonce).toBe('after-write');
  });

  it('reads tasks in context asked for at once in two statements, each with its own task and job status', async () => {
    const { result, statements } = await counted(() => Promise.all([...taskIds, 'no-such-task'].map((id) => tx.stores.tasks.getInContext(id))));
    expect(statements).toBe(2);
    for (const [i, id] of taskIds.entries()) {
      expect(result[i]?.task.taskId).toBe(id);
      expect(result[i]?.task.status).toBe('QUEUED');
      expect(result[i]?.jobStatus).toBe('RUNNING');
    }
    expect(result[taskIds.length]).toBeUndefined();
  });

  it('reads inside a unit of work on its own connection, never batched with others', async () => {
    const outside = Promise.all(taskIds.slice(0, 5).map((id) => tx.stores.tasks.getInContext(id)));
    const inside = tx.run(async (s) => {
      const read = [];
      for (const id of taskIds.slice(5, 10)) read.push(await s.tasks.getInContext(id));
      return read;
    });
    const [a, b] = await Promise.all([outside, inside]);
    expect(a.map((c) => c?.task.taskId)).toEqual(taskIds.slice(0, 5));
    expect(b.map((c) => c?.task.taskId)).toEqual(taskIds.slice(5, 10));
  });
});
