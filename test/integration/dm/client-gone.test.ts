/**
 * A DM message served after its client hung up (under overload the gateway
 * may reach a message long after the device's timeout): the reply can reach
 * nobody, so no queued request goes into it. The request stays queued and
 * unsent, and the device's next session takes it as a plain request, not as
 * one lost with a dead session (which would cost a SingleShotExec a probe).
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandOutcome } from '../../../src/dm/server/ports.js';
import { RedisDeviceRequestQueue } from '../../../src/queue/device-request-queue.js';
import { dmLockKey } from '../../../src/queue/dm-session-store.js';
import { createHttpTransport, type DmTransport } from '../../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';
import { waitFor } from '../../support/wait.js';

describe('a DM message whose client closed the connection before it was served', () => {
  let rig: DmRig;
  const real = createHttpTransport();
  const outcomes: CommandOutcome[] = [];
  /** While set, the device's next message is sent and its connection closed after this many ms. */
  let hangUpAfterMs: number | undefined;
  const transport: DmTransport = {
    post(url, body, headers) {
      if (hangUpAfterMs === undefined) return real.post(url, body, headers);
      const after = hangUpAfterMs;
      hangUpAfterMs = undefined;
      return new Promise((_resolve, reject) => {
        const req = http.request(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } });
        req.on('error', reject);
        req.end(body);
        setTimeout(() => req.destroy(new Error(`no answer within ${after} ms`)), after);
      });
    },
  };

  beforeAll(async () => {
    rig = await startDmRig({ devices: 1, imeiStart: '35000000003000', fleet: { transport } });
    rig.gw.dmEvents.onRequests('gone-', { outcome: async (o) => void outcomes.push(o) });
  });
  afterAll(async () => {
    await rig?.stop();
    real.close();
  });

  it('takes no queued request into the session; the next session sends it, not as lost', async () => {
    const device = rig.fleet.devices[0]!;
    // A first session settles the nonces: the next one authenticates in its first message.
    expect((await device.runSession()).outcome).toBe('ok');
    const before = (await rig.gw.deviceManager.getDeviceInstanceByDeviceID(device.devId)).lastContact!.getTime();
    await rig.gw.deviceCommands.submit(device.devId, { requestId: 'gone-1', commands: [{ verb: 'Get', uri: './DevInfo/Man' }] });

    // Another message of the device holds its lock: this one waits for it, and its client gives up meanwhile.
    const lock = dmLockKey(rig.gw.config.queuePrefix, device.devId);
    expect(await rig.gw.redis.set(lock, 'another-message', 'PX', 10_000, 'NX')).toBe('OK');
    hangUpAfterMs = 200;
    const session = device.runSession();
    await new Promise((r) => setTimeout(r, 600));
    await rig.gw.redis.del(lock);
    expect((await session).outcome).not.toBe('ok');
    // Served once the lock was free: authenticated (the contact is recorded), but nothing went out in it.
    await waitFor(async () => (await rig.gw.deviceManager.getDeviceInstanceByDeviceID(device.devId)).lastContact!.getTime() > before || undefined);
    await waitFor(async () => ((await rig.gw.redis.exists(lock)) === 0 ? true : undefined));
    const queue = new RedisDeviceRequestQueue(rig.gw.redis, rig.gw.config.queuePrefix);
    const pending = await queue.pendingWithSent(device.devId);
    expect(pending.requests.map((r) => r.requestId)).toEqual(['gone-1']);
    expect([...pending.sentIn]).toEqual([]);

    // The next session sends it and the device answers: completed, never reported lost.
    expect((await device.runSession()).outcome).toBe('ok');
    await waitFor(() => outcomes.find((o) => o.requestId === 'gone-1'));
    expect(outcomes.map((o) => [o.requestId, o.outcome])).toEqual([['gone-1', 'completed']]);
    expect((await queue.pendingWithSent(device.devId)).requests).toEqual([]);
  });
});
