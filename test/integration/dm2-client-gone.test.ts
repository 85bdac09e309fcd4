/**
 * DM 2.0 as DM 1.2 (test/integration/dm/client-gone.test.ts): a package
 * served after its client hung up (under overload the gateway may reach it
 * long after the device's timeout) carries no queued request, since nobody
 * reads its Package#2. The request stays queued and unsent, and the device's
 * next session takes it as a plain request, not as one lost with a dead session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandOutcome } from '../../src/dm/server/ports.js';
import { RedisDeviceRequestQueue } from '../../src/queue/device-request-queue.js';
import { dmLockKey } from '../../src/queue/dm-session-store.js';
import { type Dm2Rig, startDm2Rig } from '../support/dm2-rig.js';
import { waitFor } from '../support/wait.js';

describe('a DM 2.0 package whose client closed the connection before it was served', () => {
  let rig: Dm2Rig;
  const outcomes: CommandOutcome[] = [];

  beforeAll(async () => {
    // Every post gives up after 1 s: the package held behind the lock below outlives its client.
    rig = await startDm2Rig({ devices: 1, fleet: { httpTimeoutMs: 1000 } });
    rig.gw.dmEvents.onRequests('gone2-', { outcome: async (o) => void outcomes.push(o) });
  });
  afterAll(() => rig?.stop());

  it('takes no queued request into the package; the next session sends it, not as lost', async () => {
    const device = rig.fleet.devices[0]!;
    // A first session settles the device's registry entry (DevInfo, DevDetail) and its digest nonce.
    expect((await device.runSession('client')).ok).toBe(true);
    await rig.gw.deviceCommands.submit(device.deviceId, { requestId: 'gone2-1', commands: [{ verb: 'Get', uri: './DevInfo/Man' }] });

    // Another message of the device holds its lock: this one waits for it, and its client gives up meanwhile.
    const lock = dmLockKey(rig.gw.config.queuePrefix, device.deviceId);
    expect(await rig.gw.redis.set(lock, 'another-message', 'PX', 10_000, 'NX')).toBe('OK');
    const session = device.runSession('client');
    await new Promise((r) => setTimeout(r, 1500));
    await rig.gw.redis.del(lock);
    const report = await session;
    expect(report.ok).toBe(false);
    expect(report.error).toMatch(/within 1000 ms/);
    // Served once the lock was free, with nothing sent in it: the request is queued, unsent.
    await waitFor(async () => ((await rig.gw.redis.exists(lock)) === 0 ? true : undefined));
    const queue = new RedisDeviceRequestQueue(rig.gw.redis, rig.gw.config.queuePrefix);
    await new Promise((r) => setTimeout(r, 200));
    const pending = await queue.pendingWithSent(device.deviceId);
    expect(pending.requests.map((r) => r.requestId)).toEqual(['gone2-1']);
    expect([...pending.sentIn]).toEqual([]);

    // The next session sends it and the device answers: completed, never reported lost.
    expect((await device.runSession('client')).ok).toBe(true);
    await waitFor(() => outcomes.find((o) => o.requestId === 'gone2-1'));
    expect(outcomes.map((o) => [o.requestId, o.outcome])).toEqual([['gone2-1', 'completed']]);
    expect((await queue.pendingWithSent(device.deviceId)).requests).toEqual([]);
  });
});
