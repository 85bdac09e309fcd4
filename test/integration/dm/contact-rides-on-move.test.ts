/**
 * On PostgreSQL a DM message's contact write (last contact, nonces, DevInfo, state) rides on the task
 * move the message makes, in one statement: a message that moves a task writes no contact of its own.
 * The device's account ends as it would with separate writes: its next sessions authenticate on the
 * nonces the last one left, and what it reported is stored. SQLite writes the contact by itself.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TaskStatus } from '../../../src/domain/tasks.js';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';
import { POSTGRES_SKIP_MESSAGE, postgresUrl } from '../../support/postgres.js';
import { waitFor } from '../../support/wait.js';

const pgUrl = await postgresUrl();
if (!pgUrl) console.warn(POSTGRES_SKIP_MESSAGE);

const backends = [
  { name: 'sqlite', url: undefined, available: true, rides: false },
  { name: 'postgres', url: pgUrl, available: pgUrl !== undefined, rides: true },
] as const;

for (const backend of backends) {
  describe.skipIf(!backend.available)(`a DM message's contact on ${backend.name}`, () => {
    let rig: DmRig;
    const ctx = { caller: 'test', operation: 'contact' };

    beforeAll(async () => {
      rig = await startDmRig({ devices: 1, imeiStart: '35000000006000', ...(backend.url ? { postgresUrl: backend.url } : {}) });
    });
    afterAll(async () => {
      vi.restoreAllMocks();
      await rig?.stop();
    });

    async function query(): Promise<{ status: TaskStatus; messages: number }> {
      const d = rig.fleet.devices[0]!;
      const before = d.describe().sessions as number | undefined;
      const taskId = await rig.gw.broker.doOperation(ctx, {
        operation: { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] },
        phoneNumber: d.phoneNumber!,
        bOptin: false,
        acceptDevicePolicy: 30,
        testCycle: false,
      });
      const task = await waitFor(async () => {
        const t = await rig.gw.broker.getTask(taskId);
        return t.status === 'COMPLETED' || t.status === 'FAILED' ? t : undefined;
      });
      await rig.fleet.idle();
      expect(d.describe().sessions).not.toBe(before);
      return { status: task.status, messages: (d.describe().lastSession as { report: { messages: number } }).report.messages };
    }

    it('is written with the task moves, and leaves the account as separate writes would', async () => {
      const writes = vi.spyOn(rig.gw.dmDevices, 'recordContact');
      const first = await query();
      expect(first.status).toBe('COMPLETED');
      const afterFirst = await rig.gw.dmDevices.get(rig.fleet.devices[0]!.devId);
      expect(afterFirst?.state).toBe('ACTIVE');
      expect(afterFirst?.devInfo?.detail).toBeDefined();

      writes.mockClear();
      // A warm device: Pkg1 on the nonce the last session left (no challenge), the Get's results.
      const second = await query();
      expect(second).toEqual({ status: 'COMPLETED', messages: 2 });
      // Its Pkg1 records the contact (a new client nonce) and moves the task to IN_SESSION; on
      // PostgreSQL in one statement, so no contact write of its own. (The results add no contact.)
      expect(writes).toHaveBeenCalledTimes(backend.rides ? 0 : 1);
      const third = await query();
      expect(third).toEqual({ status: 'COMPLETED', messages: 2 });
      const row = await rig.gw.dmDevices.get(rig.fleet.devices[0]!.devId);
      expect(row?.auth.clientNonce).not.toBe(afterFirst?.auth.clientNonce);
      expect(row?.devInfo).toMatchObject({ devId: rig.fleet.devices[0]!.devId, detail: afterFirst?.devInfo?.detail });
    });
  });
}
