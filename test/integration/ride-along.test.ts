/**
 * Writes riding on a task move (ride-along.ts) at the store: on PostgreSQL the first task move of the work that
 * commits by itself writes the device's contact in its statement; a move inside a unit of work does not
 * (its rollback would take the contact along), nor one after the work ended, nor a failed one (its
 * claim is given back, so the contact is still written). On SQLite the directory writes it after the work.
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DeviceContactPatch } from '../../src/domain/registry.js';
import { NO_TASKS_COUNTED, type Job } from '../../src/domain/tasks.js';
import { contactRider } from '../../src/persistence/registry-stores.js';
import { rideAlong } from '../../src/persistence/ride-along.js';
import type { DeviceAlert } from '../../src/dm/server/ports.js';
import { AlertLog } from '../../src/persistence/alert-store.js';
import { RegistryDmDeviceDirectory } from '../../src/persistence/dm-device-directory.js';
import { TypeormTransactor } from '../../src/persistence/transactor.js';
import { SecretBox } from '../../src/security/secret-box.js';
import { CAPABILITY, deviceRecordN, queryTaskN } from '../support/fixtures.js';
import { freshDatabase } from '../support/fresh-database.js';
import { POSTGRES_SKIP_MESSAGE, postgresUrl } from '../support/postgres.js';

const pgUrl = await postgresUrl();
if (!pgUrl) console.warn(POSTGRES_SKIP_MESSAGE);
const T0 = 1_700_000_000_000;

const backends = [
  { name: 'sqlite', available: true },
  { name: 'postgres', available: pgUrl !== undefined },
] as const;

for (const backend of backends) {
  describe.skipIf(!backend.available)(`a contact riding on a task move, ${backend.name}`, () => {
    let tx: TypeormTransactor;
    let directory: RegistryDmDeviceDirectory;
    let cleanup: () => Promise<void>;
    let n = 0;

    beforeAll(async () => {
      const db = await freshDatabase(backend.name, pgUrl);
      cleanup = db.cleanup;
      tx = new TypeormTransactor(db.ds, new SecretBox(crypto.randomBytes(32)));
      directory = new RegistryDmDeviceDirectory(tx, 'gw', backend.name === 'postgres');
      await tx.stores.capabilities.insert({ ...CAPABILITY, dmVersion: '1.2' }, T0);
      const job: Job = { jobId: 'job-c', status: 'RUNNING', operationName: 'QUERY', options: {}, createdBy: 't', createdAt: new Date(T0), updatedAt: new Date(T0), total: 0, ...NO_TASKS_COUNTED };
      await tx.run((s) => s.jobs.insert(job, 'created'));
    });
    afterAll(async () => {
      await cleanup?.();
    });

    /** A new device with one QUEUED task of job-c. */
    async function deviceWithTask(): Promise<{ deviceId: string; taskId: string }> {
      n += 1;
      const device = deviceRecordN(n, T0);
      await tx.stores.devices.insert(device);
      const task = queryTaskN(n, `t-${n}`, T0, { jobId: 'job-c', jobSeq: n });
      await tx.run((s) => s.tasks.insert(task, 'created'));
      const deviceId = device.deviceId;
      return { deviceId, taskId: task.taskId };
    }

    const patch = (nonce: string): DeviceContactPatch => ({
      lastContact: new Date(T0 + 5_000),
      state: 'ACTIVE',
      clientNonce: nonce,
      devInfo: { devId: 'x', mod: 'M9', reportedAt: T0 + 5_000 },
    });

    async function expectContact(deviceId: string, nonce: string): Promise<void> {
      const d = await tx.stores.devices.get(deviceId);
      expect(d).toMatchObject({ state: 'ACTIVE', lastContact: new Date(T0 + 5_000), credentials: { clientNonce: nonce }, devInfo: { mod: 'M9' } });
    }

    it('is written by the move, once, and the move still moves and logs', async () => {
      const { deviceId, taskId } = await deviceWithTask();
      const result = await directory.recordContactAround(deviceId, patch('bm9uY2Ux'), async () => {
        const first = await tx.stores.tasks.transition(taskId, 'NOTIFYING', { event: 'notifying' }, T0 + 1);
        const second = await tx.stores.tasks.transition(taskId, 'IN_SESSION', { event: 'session-started' }, T0 + 2);
        return [first.moved, second.moved];
      });
      expect(result).toEqual([true, true]);
      await expectContact(deviceId, 'bm9uY2Ux');
      expect((await tx.stores.tasks.history(taskId)).map((h) => h.event)).toEqual(['created', 'notifying', 'session-started']);
    });

    it('is written alone when no move commits by itself: none, one in a unit of work, one after the work', async () => {
      const none = await deviceWithTask();
      await directory.recordContactAround(none.deviceId, patch('bm9uY2Uy'), async () => undefined);
      await expectContact(none.deviceId, 'bm9uY2Uy');

      const inUnit = await deviceWithTask();
      const { carried } = await rideAlong(contactRider(inUnit.deviceId, patch('bm9uY2Uz')), () =>
        tx.run((s) => s.tasks.transition(inUnit.taskId, 'NOTIFYING', { event: 'notifying' }, T0 + 1)),
      );
      expect(carried).toBe(false);

      const late = await deviceWithTask();
      let after: Promise<unknown> | undefined;
      const ride = await rideAlong(contactRider(late.deviceId, patch('bm9uY2U0')), async () => {
        after = new Promise((r) => setTimeout(r, 20)).then(() => tx.stores.tasks.transition(late.taskId, 'NOTIFYING', { event: 'notifying' }, T0 + 1));
      });
      await after;
      expect(ride.carried).toBe(false);
      expect(await tx.stores.devices.get(late.deviceId)).toMatchObject({ state: 'REGISTERED', credentials: { clientNonce: 'Y2xpZW50' } });
    });

    it("carries a Generic Alert's record with the message's contact, and corrects it when the consumer did not handle it", async () => {
      const log = new AlertLog(tx, backend.name === 'postgres');
      const records = vi.spyOn(tx.stores.alerts, 'record');
      const contacts = vi.spyOn(tx.stores.devices, 'recordContact');
      const alert = (deviceId: string, at: number): DeviceAlert => ({ deviceId, at, alertType: 'org.openmobilealliance.dm.sse.report', mark: 'informational', correlator: 'c-1', data: '200' });
      const rides = backend.name === 'postgres';

      const both = await deviceWithTask();
      const handled = await directory.recordContactAround(both.deviceId, patch('bm9uY2U3'), () =>
        log.recordAround(alert(both.deviceId, T0 + 10), async () => (await tx.stores.tasks.transition(both.taskId, 'NOTIFYING', { event: 'notifying' }, T0 + 1)).moved),
      );
      expect(handled).toBe(true);
      // On PostgreSQL neither is written by itself (SQLite's stores are made per call: no spy sees them).
      if (rides) {
        expect(records).not.toHaveBeenCalled();
        expect(contacts).not.toHaveBeenCalled();
      }
      await expectContact(both.deviceId, 'bm9uY2U3');
      expect(await tx.stores.alerts.forDevice(both.deviceId)).toEqual([expect.objectContaining({ at: T0 + 10, correlator: 'c-1', data: '200', handled: true })]);

      const refused = await deviceWithTask();
      await log.recordAround(alert(refused.deviceId, T0 + 11), async () => {
        await tx.stores.tasks.transition(refused.taskId, 'NOTIFYING', { event: 'notifying' }, T0 + 1);
        return false;
      });
      const none = await deviceWithTask();
      await log.recordAround(alert(none.deviceId, T0 + 12), async () => true);
      expect(await tx.stores.alerts.forDevice(refused.deviceId)).toEqual([expect.objectContaining({ at: T0 + 11, handled: false })]);
      expect(await tx.stores.alerts.forDevice(none.deviceId)).toEqual([expect.objectContaining({ at: T0 + 12, handled: true })]);
      vi.restoreAllMocks();
    });

    it('is still written when the move carrying it fails', async () => {
      const { deviceId, taskId } = await deviceWithTask();
      await expect(
        directory.recordContactAround(deviceId, patch('bm9uY2U1'), async () => {
          // A history code that is no integer makes the move statement fail on PostgreSQL.
          await tx.stores.tasks.transition(taskId, 'NOTIFYING', { event: 'notifying', code: 'x' as unknown as number }, T0 + 1).catch(() => undefined);
          throw new Error('the message failed after');
        }),
      ).rejects.toThrow('the message failed after');
      // The failed move gave its claim back, and the work's failure wrote nothing: as a recordContact after it.
      expect(await tx.stores.devices.get(deviceId)).toMatchObject({ state: 'REGISTERED' });
      await directory.recordContactAround(deviceId, patch('bm9uY2U2'), async () => {
        await tx.stores.tasks.transition(taskId, 'NOTIFYING', { event: 'notifying', code: 'x' as unknown as number }, T0 + 1).catch(() => undefined);
      });
      await expectContact(deviceId, 'bm9uY2U2');
    });
  });
}
