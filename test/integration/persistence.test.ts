/**
 * The registry stores against both databases: SQLite (a fresh file) and
 * PostgreSQL (a fresh schema), with migrations applied as in production.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DmwsiError } from '../../src/domain/errors.js';
import { openDatabase } from '../../src/persistence/data-source.js';
import { TypeormTaskStore } from '../../src/persistence/task-store.js';
import { TypeormTransactor } from '../../src/persistence/transactor.js';
import { inListSize } from '../../src/persistence/registry-stores.js';
import { SecretBox } from '../../src/security/secret-box.js';
import { NO_TASKS_COUNTED, type Job, type Task } from '../../src/domain/tasks.js';
import type { DeviceRecord } from '../../src/services/ports.js';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { freshDatabase } from '../support/fresh-database.js';
import { POSTGRES_SKIP_MESSAGE, postgresUrl } from '../support/postgres.js';

const pgUrl = await postgresUrl();
if (!pgUrl) console.warn(POSTGRES_SKIP_MESSAGE);

const sealer = new SecretBox(crypto.randomBytes(32));
const cap = { ...CAPABILITY, dmVersion: '1.2' as const };

function deviceRecord(n: number, patch: Partial<DeviceRecord> = {}): DeviceRecord {
  const at = new Date(1_700_000_000_000 + n);
  return {
    deviceId: imeiN(n),
    phoneNumber: phoneN(n),
    capabilityOid: cap.oid,
    authType: 'md5',
    state: 'REGISTERED',
    attributes: { n: String(n) },
    credentials: {
      clientUsername: `u${n}`,
      clientPassword: `client-${n}-secret`,
      serverPassword: `server-${n}-secret`,
      clientNonce: 'Y2xpZW50',
      serverNonce: 'c2VydmVy',
    },
    createdAt: at,
    updatedAt: at,
    ...patch,
  };
}

const backends = [
  { name: 'sqlite', available: true },
  { name: 'postgres', available: pgUrl !== undefined },
] as const;


for (const backend of backends) {
  describe.skipIf(!backend.available)(`registry stores on ${backend.name}`, () => {
    let ds: DataSource;
    let tx: TypeormTransactor;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ ds, cleanup } = await freshDatabase(backend.name, pgUrl));
      tx = new TypeormTransactor(ds, sealer);
      await tx.stores.capabilities.insert(cap, Date.now());
    });
    afterAll(() => cleanup?.());

    it('runs every migration and records it', async () => {
      const rows = await ds.query('SELECT name FROM migrations');
      expect(rows.map((r: { name: string }) => r.name)).toContain('InitialSchema1763900000000');
      if (backend.name === 'sqlite') {
        const [mode] = await ds.query('PRAGMA journal_mode');
        expect(mode.journal_mode).toBe('wal');
      }
    });

    it('keeps a capability’s fumoDelivery (migration FumoDelivery) and reads its absence as absent', async () => {
      await tx.stores.capabilities.insert({ ...cap, oid: 'fumo-inline', model: 'FumoInline', fumoDelivery: 'inline' }, 1);
      expect(await tx.stores.capabilities.get('fumo-inline')).toMatchObject({ fumoDelivery: 'inline' });
      expect(await tx.stores.capabilities.get(cap.oid)).not.toHaveProperty('fumoDelivery');
    });

    it('stores a device with its secrets sealed and reads it back equal', async () => {
      const d = deviceRecord(1, { lastContact: new Date(1_700_000_123_456), devInfo: { man: 'Acme' } });
      await tx.stores.devices.insert(d);
      expect(await tx.stores.devices.get(d.deviceId)).toEqual(d);
      expect(await tx.stores.devices.getByPhone(d.phoneNumber)).toEqual(d);
      const [raw] = await ds.query(`SELECT secrets FROM device_instance WHERE device_id = '${d.deviceId}'`);
      expect(raw.secrets).not.toContain('client-1-secret');
    });

    it('reads a device’s capability in one statement, and none for an unknown device', async () => {
      const d = deviceRecord(3);
      await tx.stores.devices.insert(d);
      expect(await tx.stores.capabilities.ofDevice(d.deviceId)).toEqual(await tx.stores.capabilities.get(cap.oid));
      expect(await tx.stores.capabilities.ofDevice(imeiN(99_999))).toBeUndefined();
    });

    it('reads a device’s capability and the MO roots found on it in one statement', async () => {
      const d = deviceRecord(4, { devInfo: { man: 'Acme', moRoots: { fumo: './FwUpdate' } } });
      await tx.stores.devices.insert(d);
      expect(await tx.stores.capabilities.rootsOfDevice(d.deviceId)).toEqual({
        capability: await tx.stores.capabilities.get(cap.oid),
        found: { fumo: './FwUpdate' },
      });
      await tx.stores.devices.insert(deviceRecord(5));
      expect(await tx.stores.capabilities.rootsOfDevice(imeiN(5))).toEqual({ capability: await tx.stores.capabilities.get(cap.oid) });
      expect(await tx.stores.capabilities.rootsOfDevice(imeiN(99_999))).toBeUndefined();
    });

    it('records a contact’s dev_info over the stored one: its keys replace, keys it lacks stay, keys it names undefined go', async () => {
      const d = deviceRecord(6, {
        devInfo: { devId: 'old', man: 'Acme', lang: 'en', moRoots: { fumo: './FwUpdate' }, detail: { fwV: '1', swV: 'a' }, reportedAt: 1 },
      });
      await tx.stores.devices.insert(d);
      // What a session learned: DevInfo without Lang, a new DevDetail; the MO roots stored by another writer stay.
      expect(
        await tx.stores.devices.recordContact(d.deviceId, {
          lastContact: new Date(1_700_000_200_000),
          devInfo: { devId: 'new', lang: undefined, detail: { fwV: '2' }, reportedAt: 2 },
        }),
      ).toBe(true);
      const stored = await tx.stores.devices.get(d.deviceId);
      expect(stored?.devInfo).toEqual({ devId: 'new', man: 'Acme', moRoots: { fumo: './FwUpdate' }, detail: { fwV: '2' }, reportedAt: 2 });
      expect(stored?.lastContact).toEqual(new Date(1_700_000_200_000));
      // A device with no dev_info yet gets the patch as it is.
      await tx.stores.devices.insert(deviceRecord(7));
      await tx.stores.devices.recordContact(imeiN(7), { devInfo: { man: 'Beta' } });
      expect((await tx.stores.devices.get(imeiN(7)))?.devInfo).toEqual({ man: 'Beta' });
    });

    it.skipIf(backend.name !== 'postgres')('updates an imported device’s contact in place: its page has room (migration HotRowUpdates)', async () => {
      // An import fills pages; a contact that finds no room moves the row and writes all its indexes.
      const batch = Array.from({ length: 120 }, (_, i) => deviceRecord(2_000 + i));
      await tx.stores.devices.upsertMany(batch);
      const pages = async () => {
        const rows: { deviceId: string; page: string }[] = await ds.query(
          'SELECT device_id AS "deviceId", split_part(trim(ctid::text, \'()\'), \',\', 1) AS "page" FROM device_instance WHERE device_id = ANY($1)',
          [batch.map((d) => d.deviceId)],
        );
        return new Map(rows.map((r) => [r.deviceId, r.page]));
      };
      const before = await pages();
      for (const d of batch) {
        await tx.stores.devices.recordContact(d.deviceId, { lastContact: new Date(1_700_000_300_000), devInfo: { man: 'Acme', mod: 'X1', lang: 'en' } });
      }
      const after = await pages();
      const stayed = batch.filter((d) => before.get(d.deviceId) === after.get(d.deviceId)).length;
      expect(stayed).toBe(batch.length);
    });

    it('turns a duplicate device id or phone number into AlreadyExists', async () => {
      const dup = tx.stores.devices.insert(deviceRecord(1, { phoneNumber: phoneN(50) }));
      await expect(dup).rejects.toMatchObject({ code: 'AlreadyExists' });
      const phone = tx.stores.devices.insert(deviceRecord(2, { phoneNumber: phoneN(1) }));
      await expect(phone).rejects.toBeInstanceOf(DmwsiError);
    });

    it('turns a duplicate capability line into AlreadyExists', async () => {
      await expect(tx.stores.capabilities.insert({ ...cap, oid: 'x' }, 1)).rejects.toMatchObject({ code: 'AlreadyExists' });
    });

    it('upserts a batch: inserts new devices and updates known ones, keeping created_at', async () => {
      const batch = [deviceRecord(1, { phoneNumber: phoneN(60) }), deviceRecord(3), deviceRecord(4)];
      await tx.stores.devices.upsertMany(batch);
      const got = await tx.stores.devices.getMany(batch.map((b) => b.deviceId));
      expect(got.size).toBe(3);
      expect(got.get(imeiN(1))?.phoneNumber).toBe(phoneN(60));
      const owners = await tx.stores.devices.ownersOfPhones([phoneN(60), phoneN(3), '+10']);
      expect(Object.fromEntries(owners)).toEqual({ [phoneN(60)]: imeiN(1), [phoneN(3)]: imeiN(3) });
    });

    it('finds job targets by id, phone number and capability, without their secrets', async () => {
      const byId = await tx.stores.devices.targetsById([imeiN(1), imeiN(3), imeiN(99)]);
      expect(Object.fromEntries(byId)).toEqual({
        [imeiN(1)]: { deviceId: imeiN(1), phoneNumber: phoneN(60), capabilityOid: cap.oid },
        [imeiN(3)]: { deviceId: imeiN(3), phoneNumber: phoneN(3), capabilityOid: cap.oid },
      });
      // Nine values: padded to an IN list of 16 with the last one; each device still comes once.
      const nine = [imeiN(3), ...Array.from({ length: 7 }, (_, i) => imeiN(90 + i)), imeiN(1)];
      expect([...(await tx.stores.devices.targetsById(nine)).keys()].sort()).toEqual([imeiN(1), imeiN(3)].sort());
      expect([3, 8, 9, 16, 1000].map(inListSize)).toEqual([8, 8, 16, 16, 1024]);
      const byPhone = await tx.stores.devices.targetsByPhone([phoneN(4), '+10']);
      expect([...byPhone.keys()]).toEqual([phoneN(4)]);
      const page = await tx.stores.devices.targetsByCapabilities([cap.oid, 'none'], imeiN(1), 2);
      expect(page.map((t) => t.deviceId)).toEqual([imeiN(3), imeiN(4)]);
      expect(await tx.stores.devices.targetsByCapabilities(['none'], '', 10)).toEqual([]);
    });

    it('rolls back a whole unit of work when one step fails', async () => {
      await expect(
        tx.run(async (s) => {
          await s.devices.insert(deviceRecord(10));
          await s.devices.insert(deviceRecord(10));
        }),
      ).rejects.toMatchObject({ code: 'AlreadyExists' });
      expect(await tx.stores.devices.get(imeiN(10))).toBeUndefined();
    });

    it('pages devices in id order and counts open tasks', async () => {
      const page = await tx.stores.devices.list({ offset: 1, limit: 2 });
      expect(page.map((d) => d.deviceId)).toEqual([imeiN(3), imeiN(4)]);
      await ds.query(
        `INSERT INTO task (task_id, device_id, operation_name, operation, status, created_by, created_at, updated_at)
         VALUES ('a', '${imeiN(3)}', 'QUERY', '{}', 'SCHEDULED', 'x', 1, 1), ('b', '${imeiN(3)}', 'QUERY', '{}', 'COMPLETED', 'x', 1, 1)`,
      );
      expect(await tx.stores.devices.openTaskCount(imeiN(3))).toBe(1);
    });

    it('refuses to change or remove an audit row, even in SQL', async () => {
      await tx.stores.audit.record({ caller: 'a', operation: 'op', target: 'x', outcome: 'ok' }, 7);
      await expect(ds.query("UPDATE audit_log SET caller = 'mallory'")).rejects.toThrow(/cannot be changed/);
      await expect(ds.query('DELETE FROM audit_log')).rejects.toThrow(/cannot be (changed or )?removed/);
    });

    it('appends audit rows and users', async () => {
      await tx.stores.audit.record({ caller: 'a', operation: 'op', target: 't', outcome: 'ok' }, 5);
      await tx.stores.users.save(
        { username: 'u', role: 'care', passwordHash: 'h', passwordSealed: 's', disabled: false, failedLogins: 0 },
        5,
      );
      await tx.stores.users.recordFailure('u', 3, 99, 6);
      expect(await tx.stores.users.get('u')).toMatchObject({ role: 'care', failedLogins: 3, lockedUntil: 99 });
      expect(await tx.stores.users.count()).toBe(1);
    });
  });
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`task and job stores on ${backend.name}`, () => {
    let ds: DataSource;
    let tx: TypeormTransactor;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ ds, cleanup } = await freshDatabase(backend.name, pgUrl));
      tx = new TypeormTransactor(ds, sealer);
    });
    afterAll(() => cleanup?.());

    const task = (n: number, jobId?: string): Task => ({
      taskId: `task-${n}`,
      ...(jobId && { jobId, jobSeq: n }),
      deviceId: imeiN(n),
      phoneNumber: phoneN(n),
      operation: { name: 'SCHEDULED_EXEC', commands: [], targetUri: './FUMO/fw1/Update', atTime: '2030-01-01T00:00:00Z' },
      status: 'QUEUED',
      correlator: `sse:task-${n}`,
      results: [],
      bOptin: true,
      acceptDevicePolicy: 10,
      testCycle: false,
      deadline: new Date(1_800_000_000_000),
      createdBy: 'care',
      createdAt: new Date(1_700_000_000_000),
      updatedAt: new Date(1_700_000_000_000),
    });

    it('moves a task, writes one history row per change, and keeps its job’s counters and state', async () => {
      const at = 1_700_000_000_000;
      const job: Job = {
        jobId: 'job-1',
        status: 'RUNNING',
        operationName: 'SCHEDULED_EXEC',
        options: {},
        createdBy: 'bulk',
        createdAt: new Date(at),
        updatedAt: new Date(at),
        total: 2,
        ...NO_TASKS_COUNTED,
      };
      await tx.run(async (s) => {
        await s.jobs.insert(job, 'created');
        await s.tasks.insert(task(1, 'job-1'), 'created', 'first');
        await s.tasks.insert(task(2, 'job-1'), 'created');
      });
      expect(await tx.stores.tasks.get('task-1')).toEqual(task(1, 'job-1'));
      expect(await tx.stores.tasks.get('task-9')).toBeUndefined();
      // The task in context, in one read: its job's status, its device's MO roots (task-2's device is not registered).
      await tx.stores.capabilities.insert(cap, at);
      await tx.stores.devices.insert(deviceRecord(1, { devInfo: { man: 'Acme', moRoots: { scomo: './SCOMO' } } }));
      expect(await tx.stores.tasks.getInContext('task-1')).toEqual({
        task: task(1, 'job-1'),
        jobStatus: 'RUNNING',
        roots: { capability: await tx.stores.capabilities.get(cap.oid), found: { scomo: './SCOMO' } },
      });
      expect(await tx.stores.tasks.getInContext('task-1')).toEqual({ task: task(1, 'job-1'), jobStatus: 'RUNNING', roots: await tx.stores.capabilities.rootsOfDevice(imeiN(1)) });
      expect(await tx.stores.tasks.getInContext('task-2')).toEqual({ task: task(2, 'job-1'), jobStatus: 'RUNNING' });
      expect(await tx.stores.tasks.getInContext('task-9')).toBeUndefined();

      const r = await tx.run((s) => s.tasks.transition('task-1', 'SCHEDULED', { event: 'armed', from: ['QUEUED'] }, at + 1));
      expect(r.moved).toBe(false); // QUEUED -> SCHEDULED is no move
      await tx.run((s) => s.tasks.transition('task-1', 'IN_SESSION', { event: 'session-started' }, at + 2));
      await tx.run((s) => s.tasks.note('task-1', { event: 'notification-delivered', detail: 'http: 200' }, at + 3));
      const armed = await tx.run((s) => s.tasks.transition('task-1', 'SCHEDULED', { event: 'armed', dmStatus: 202, from: ['IN_SESSION'] }, at + 4));
      expect(armed).toMatchObject({ moved: true, task: { status: 'SCHEDULED', dmStatus: 202, updatedAt: new Date(at + 4) } });
      const done = await tx.run((s) =>
        s.tasks.transition('task-1', 'COMPLETED', { event: 'reported', resultCode: 200, results: [{ uri: './x', value: 'v' }] }, at + 5),
      );
      expect(done.task).toMatchObject({ status: 'COMPLETED', resultCode: 200, dmStatus: 202, correlator: 'sse:task-1', results: [{ uri: './x', value: 'v' }] });
      expect(await tx.stores.tasks.get('task-1')).toEqual(done.task);
      const history = await tx.stores.tasks.history('task-1');
      expect(history.map((h) => [h.seq, h.fromStatus, h.toStatus, h.event, h.code])).toEqual([
        [1, undefined, 'QUEUED', 'created', undefined],
        [2, 'QUEUED', 'IN_SESSION', 'session-started', undefined],
        [3, 'IN_SESSION', 'IN_SESSION', 'notification-delivered', undefined],
        [4, 'IN_SESSION', 'SCHEDULED', 'armed', 202],
        [5, 'SCHEDULED', 'COMPLETED', 'reported', 200],
      ]);
      expect(await tx.stores.jobs.get('job-1')).toMatchObject({ status: 'RUNNING', queued: 1, inSession: 0, scheduled: 0, completed: 1 });

      // The last task's end finishes the job.
      await tx.run((s) => s.tasks.transition('task-2', 'FAILED', { event: 'rejected', dmStatus: 500 }, at + 6));
      expect(await tx.stores.jobs.get('job-1')).toMatchObject({ status: 'COMPLETED_WITH_ERRORS', queued: 0, completed: 1, failed: 1 });
    });

    it.skipIf(backend.name !== 'postgres')('moves a job’s task in one round trip and notes one in one (PostgreSQL)', async () => {
      const at = 1_700_000_050_000;
      const job: Job = {
        jobId: 'job-rt',
        status: 'RUNNING',
        operationName: 'SCHEDULED_EXEC',
        options: {},
        createdBy: 'bulk',
        createdAt: new Date(at),
        updatedAt: new Date(at),
        total: 1,
        ...{ queued: 0, notifying: 0, inSession: 0, scheduled: 0, inProgress: 0, completed: 0, failed: 0, missed: 0, cancelled: 0, expired: 0 },
      };
      await tx.run(async (s) => {
        await s.jobs.insert(job, 'created');
        await s.tasks.insert(task(70, 'job-rt'), 'created');
      });
      // Every statement is a round trip to the server: count them on the unit of work's own connection.
      const qr = ds.createQueryRunner();
      await qr.startTransaction();
      const connection = (await qr.connect()) as { query: (...args: unknown[]) => unknown };
      const statements = vi.spyOn(connection, 'query');
      const store = new TypeormTaskStore(qr.manager);
      await store.transition('task-70', 'NOTIFYING', { event: 'notifying' }, at + 1);
      const moveTrips = statements.mock.calls.length;
      await store.note('task-70', { event: 'notification-delivered', detail: 'http: 200' }, at + 2);
      const noteTrips = statements.mock.calls.length - moveTrips;
      await qr.commitTransaction();
      await qr.release();
      expect([moveTrips, noteTrips]).toEqual([1, 1]);
      const history = await tx.stores.tasks.history('task-70');
      expect(history.map((h) => [h.seq, h.fromStatus, h.toStatus, h.event, h.detail])).toEqual([
        [1, undefined, 'QUEUED', 'created', undefined],
        [2, 'QUEUED', 'NOTIFYING', 'notifying', undefined],
        [3, 'NOTIFYING', 'NOTIFYING', 'notification-delivered', 'http: 200'],
      ]);
      expect(await tx.stores.jobs.get('job-rt')).toMatchObject({ queued: 0, notifying: 1 });
    });

    it('counts IN_PROGRESS tasks on their job, which completes only when they end', async () => {
      const at = 1_700_000_100_000;
      const job: Job = {
        jobId: 'job-lop',
        status: 'RUNNING',
        operationName: 'EXEC',
        options: {},
        createdBy: 'bulk',
        createdAt: new Date(at),
        updatedAt: new Date(at),
        total: 1,
        ...NO_TASKS_COUNTED,
      };
      const t = { ...task(40, 'job-lop'), taskId: 'task-lop', correlator: 'exec-task-lop' };
      await tx.run(async (s) => {
        await s.jobs.insert(job, 'created');
        await s.tasks.insert(t, 'created');
      });
      await tx.run((s) => s.tasks.transition('task-lop', 'IN_SESSION', { event: 'session-started' }, at + 1));
      await tx.run((s) => s.tasks.transition('task-lop', 'IN_PROGRESS', { event: 'exec-accepted', dmStatus: 202 }, at + 2));
      expect(await tx.stores.jobs.get('job-lop')).toMatchObject({ status: 'RUNNING', inSession: 0, inProgress: 1 });
      // The stalled-task sweep wakes devices of waiting tasks; an IN_PROGRESS one waits for its alert instead.
      const stalled = await tx.stores.tasks.stalled(at + 1e12, 1000, Number.MAX_SAFE_INTEGER, 1000);
      expect(stalled.map((x) => x.taskId)).not.toContain('task-lop');
      const missed = await tx.run((s) => s.tasks.transition('task-lop', 'MISSED', { event: 'x' }, at + 3));
      expect(missed.moved).toBe(false); // IN_PROGRESS ends COMPLETED, FAILED, CANCELLED or EXPIRED
      await tx.run((s) => s.tasks.transition('task-lop', 'COMPLETED', { event: 'operation-succeeded', resultCode: 200 }, at + 4));
      expect(await tx.stores.jobs.get('job-lop')).toMatchObject({ status: 'COMPLETED', inProgress: 0, completed: 1 });
      const history = await tx.stores.jobs.history('job-lop');
      expect(history.map((h) => [h.seq, h.event, h.by])).toEqual([
        [1, 'created', 'bulk'],
        [2, 'all-tasks-ended', undefined],
      ]);
      expect((await tx.stores.jobs.history('job-lop', { offset: 1, limit: 5 })).map((h) => h.seq)).toEqual([2]);
      await tx.run((s) => s.jobs.transition('job-lop', 'CANCELLED', { event: 'cancelled', by: 'ops' }, at + 5));
      expect((await tx.stores.jobs.history('job-lop', { offset: 2, limit: 1 }))[0]).toMatchObject({ seq: 3, event: 'cancelled', by: 'ops' });
    });

    it('reads, moves and notes many tasks in one call each, every task as a call of its own would', async () => {
      const at = 1_700_000_200_000;
      const job: Job = {
        jobId: 'job-many',
        status: 'RUNNING',
        operationName: 'SCHEDULED_EXEC',
        options: {},
        createdBy: 'bulk',
        createdAt: new Date(at),
        updatedAt: new Date(at),
        total: 4,
        ...NO_TASKS_COUNTED,
      };
      const ids = ['task-60', 'task-61', 'task-62', 'task-63'];
      await tx.run(async (s) => {
        await s.jobs.insert(job, 'created');
        for (const [i, id] of ids.entries()) await s.tasks.insert({ ...task(60 + i, 'job-many'), taskId: id }, 'created');
        // Cancelled meanwhile: a move from QUEUED leaves it as it is.
        await s.tasks.transition('task-63', 'CANCELLED', { event: 'cancelled' }, at + 1);
      });
      const found = await tx.stores.tasks.getInContextMany([...ids, 'task-none']);
      expect([...found.keys()].sort()).toEqual(ids);
      for (const id of ids) expect(found.get(id)).toEqual(await tx.stores.tasks.getInContext(id));

      const moved = await tx.stores.tasks.transitionMany([...ids, 'task-none'], 'NOTIFYING', { event: 'notifying', from: ['QUEUED'] }, at + 2);
      expect(moved.size).toBe(5);
      for (const id of ids.slice(0, 3)) {
        expect(moved.get(id)).toMatchObject({ moved: true, task: { status: 'NOTIFYING', updatedAt: new Date(at + 2) } });
      }
      expect(moved.get('task-63')).toMatchObject({ moved: false, task: { status: 'CANCELLED' } });
      expect(moved.get('task-none')).toEqual({ moved: false, task: undefined });
      expect(await tx.stores.jobs.get('job-many')).toMatchObject({ total: 4, queued: 0, notifying: 3, cancelled: 1 });
      // Run again (a batch after a crash): nothing is QUEUED any more, so nothing moves or counts twice.
      const again = await tx.stores.tasks.transitionMany(ids, 'NOTIFYING', { event: 'notifying', from: ['QUEUED'] }, at + 3);
      expect([...again.values()].every((r) => !r.moved)).toBe(true);
      expect(await tx.stores.jobs.get('job-many')).toMatchObject({ queued: 0, notifying: 3, cancelled: 1 });

      await tx.stores.tasks.noteMany(
        [
          { taskId: 'task-60', change: { event: 'notification-delivered', detail: 'http: 200, it\'s "quoted", {braced}' } },
          { taskId: 'task-61', change: { event: 'notification-failed', code: 503, detail: 'http: 503' } },
          { taskId: 'task-none', change: { event: 'notification-delivered' } },
        ],
        at + 4,
      );
      await expect(
        tx.stores.tasks.noteMany([{ taskId: 'task-62', change: { event: 'a' } }, { taskId: 'task-62', change: { event: 'b' } }], at + 5),
      ).rejects.toThrow(/one note per task/);
      const rows = async (id: string) => (await tx.stores.tasks.history(id)).map((h) => [h.seq, h.fromStatus, h.toStatus, h.event, h.code, h.detail, h.at.getTime()]);
      expect(await rows('task-60')).toEqual([
        [1, undefined, 'QUEUED', 'created', undefined, undefined, 1_700_000_000_000],
        [2, 'QUEUED', 'NOTIFYING', 'notifying', undefined, undefined, at + 2],
        [3, 'NOTIFYING', 'NOTIFYING', 'notification-delivered', undefined, 'http: 200, it\'s "quoted", {braced}', at + 4],
      ]);
      expect((await rows('task-61')).at(-1)).toEqual([3, 'NOTIFYING', 'NOTIFYING', 'notification-failed', 503, 'http: 503', at + 4]);
      expect(await rows('task-62')).toHaveLength(2);
      expect(await tx.stores.tasks.get('task-60')).toMatchObject({ status: 'NOTIFYING', updatedAt: new Date(at + 4) });

      // To an end state: the job ends with its last task, as with moves one by one.
      await tx.stores.tasks.transitionMany(ids, 'CANCELLED', { event: 'cancelled', from: ['NOTIFYING'] }, at + 6);
      await vi.waitFor(async () => expect(await tx.stores.jobs.get('job-many')).toMatchObject({ status: 'COMPLETED_WITH_ERRORS', notifying: 0, cancelled: 4 }));
    });

    it('pages a device’s tasks newest first, single and job tasks alike', async () => {
      const at = 1_700_000_200_000;
      const mine = (n: number, offset: number, jobId?: string): Task => ({
        ...task(50, jobId),
        taskId: `dev-task-${n}`,
        correlator: `sse:dev-task-${n}`,
        ...(jobId ? { jobSeq: n } : {}),
        createdAt: new Date(at + offset),
        updatedAt: new Date(at + offset),
      });
      await tx.run(async (s) => {
        await s.tasks.insert(mine(1, 0), 'created');
        await s.tasks.insert(mine(2, 10, 'job-1'), 'created');
        await s.tasks.insert(mine(3, 20), 'created');
        await s.tasks.insert({ ...task(51), taskId: 'other-device', correlator: 'sse:other-device' }, 'created');
      });
      const all = await tx.stores.tasks.forDevice(imeiN(50), { offset: 0, limit: 10 });
      expect(all.map((t) => [t.taskId, t.jobId])).toEqual([
        ['dev-task-3', undefined],
        ['dev-task-2', 'job-1'],
        ['dev-task-1', undefined],
      ]);
      expect((await tx.stores.tasks.forDevice(imeiN(50), { offset: 1, limit: 1 })).map((t) => t.taskId)).toEqual(['dev-task-2']);
    });

    it('replaces a device’s software inventory with each reading and keeps when it was read', async () => {
      await tx.stores.capabilities.insert(cap, 1).catch(() => undefined);
      const device = deviceRecord(60);
      await tx.stores.devices.insert(device);
      expect(await tx.stores.inventory.get(device.deviceId)).toEqual({ components: [] });
      const first = [
        { componentId: 'b', name: 'Maps', version: '1.0', state: 'ACTIVE' as const },
        { componentId: 'a', name: 'Mail', version: '3.2', state: 'INACTIVE' as const },
      ];
      expect(await tx.run((s) => s.inventory.record(device.deviceId, first, 1_700_000_300_000))).toBe(true);
      expect(await tx.stores.inventory.get(device.deviceId)).toEqual({ components: [first[1], first[0]], at: new Date(1_700_000_300_000) });
      await tx.run((s) => s.inventory.record(device.deviceId, [], 1_700_000_400_000));
      expect(await tx.stores.inventory.get(device.deviceId)).toEqual({ components: [], at: new Date(1_700_000_400_000) });
      expect(await tx.run((s) => s.inventory.record(imeiN(61), first, 1))).toBe(false);
      const long = { componentId: 'c'.repeat(300), name: 'n'.repeat(300), version: 'v'.repeat(200), state: 'ACTIVE' as const };
      await tx.run((s) => s.inventory.record(device.deviceId, [long], 1_700_000_450_000));
      expect((await tx.stores.inventory.get(device.deviceId)).components).toEqual([
        { componentId: 'c'.repeat(255), name: 'n'.repeat(255), version: 'v'.repeat(128), state: 'ACTIVE' },
      ]);
      await tx.run((s) => s.inventory.record(device.deviceId, first, 1_700_000_500_000));
      await tx.run((s) => s.devices.delete(device.deviceId));
      await tx.stores.devices.insert(device);
      expect(await tx.stores.inventory.get(device.deviceId)).toEqual({ components: [] });
    });
  });
}

describe('PostgreSQL availability', () => {
  it('reports whether the PostgreSQL half of this suite ran', () => {
    // Visible in the test output either way, so a skipped half is never silent.
    console.info(pgUrl ? `PostgreSQL tests ran against ${pgUrl.replace(/\/\/[^@]*@/, '//')}` : POSTGRES_SKIP_MESSAGE);
    expect(true).toBe(true);
  });
});

describe('SQLite page cache', () => {
  it('is sized by sqliteCacheMib (SQLITE_CACHE_MIB), the library default without it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-db-'));
    const sized = await openDatabase({ url: `sqlite:${path.join(dir, 'a.sqlite')}`, sqliteCacheMib: 64 });
    const plain = await openDatabase({ url: `sqlite:${path.join(dir, 'b.sqlite')}` });
    try {
      expect(await sized.query('PRAGMA cache_size')).toEqual([{ cache_size: -64 * 1024 }]);
      // better-sqlite3's build default (16 MB today), whatever it is.
      expect(await plain.query('PRAGMA cache_size')).not.toEqual([{ cache_size: -64 * 1024 }]);
    } finally {
      await sized.destroy();
      await plain.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
