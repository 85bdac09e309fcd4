/**
 * A device in service checking in with nothing queued: its session opens and
 * completes in one message. Such a session leaves no state and no
 * (device, SessionID) binding in Redis and gives its open-session place back,
 * while the registry still records the contact and the next nonce.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';
import { openDmSessionsKey } from '../../../src/queue/dm-session-store.js';

describe('a one-message check-in session', () => {
  let rig: DmRig;

  beforeAll(async () => {
    rig = await startDmRig({ devices: 1, imeiStart: '35000000002000', overrides: { dmMaxSessions: 10 } });
  });
  afterAll(() => rig?.stop());

  const sessionKeys = () => rig.gw.redis.keys(`${rig.gw.config.queuePrefix}:dm:session:*`);
  const bindingKeys = (devId: string) => rig.gw.redis.keys(`${rig.gw.config.queuePrefix}:dm:sid:{${devId}}:*`);

  it('stores no session state, frees its place, and still records the contact and the next nonce', async () => {
    const device = rig.fleet.devices[0]!;
    // The first session: challenge, resend, DevDetail; three messages, its state kept until it lapses.
    expect(await device.runSession()).toMatchObject({ outcome: 'ok', messages: 3 });
    const before = { sessions: await sessionKeys(), bindings: await bindingKeys(device.devId) };
    expect(before.sessions).toHaveLength(1);
    const first = await rig.gw.deviceManager.getDeviceInstanceByDeviceID(device.devId);
    await new Promise((r) => setTimeout(r, 5));

    // One message each: the device's Cred over the nonce the session before handed it was
    // accepted, so that nonce was persisted (else a 401 challenge and a resend).
    for (let i = 0; i < 3; i++) {
      expect(await device.runSession()).toMatchObject({ outcome: 'ok', messages: 1 });
    }
    expect(await sessionKeys()).toEqual(before.sessions);
    expect(await bindingKeys(device.devId)).toEqual(before.bindings);
    expect(await rig.gw.redis.zcard(openDmSessionsKey(rig.gw.config.queuePrefix))).toBe(0);
    const after = await rig.gw.deviceManager.getDeviceInstanceByDeviceID(device.devId);
    expect(after.lastContact!.getTime()).toBeGreaterThan(first.lastContact!.getTime());
  });

  it('keeps the state of a session that continues past its first message', async () => {
    const device = rig.fleet.devices[0]!;
    await rig.gw.deviceCommands.submit(device.devId, { requestId: 'check-in-get', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] });
    const before = await sessionKeys();
    expect(await device.runSession()).toMatchObject({ outcome: 'ok', messages: 2 });
    expect((await sessionKeys()).length).toBe(before.length + 1);
  });
});
