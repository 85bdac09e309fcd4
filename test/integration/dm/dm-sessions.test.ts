/**
 * The simulated device against the real DM endpoint over HTTP: each auth
 * type and each encoding, queued commands with their statuses and results
 * routed back to whoever asked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandOutcome } from '../../../src/dm/server/ports.js';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';
import { waitFor } from '../../support/wait.js';

const combos = [
  ['md5', 'xml'],
  ['md5', 'wbxml'],
  ['basic', 'xml'],
  ['basic', 'wbxml'],
  ['hmac', 'xml'],
  ['hmac', 'wbxml'],
] as const;

describe.each(combos)('a %s device speaking %s', (authType, encoding) => {
  let rig: DmRig;
  const outcomes: CommandOutcome[] = [];

  beforeAll(async () => {
    rig = await startDmRig({ authType, encoding });
    rig.gw.dmEvents.onRequests('t-', { outcome: async (o) => void outcomes.push(o) });
  });
  afterAll(() => rig?.stop());

  it('authenticates (after the first challenge) and the registry records the contact and DevInfo', async () => {
    const device = rig.fleet.devices[0]!;
    const report = await device.runSession();
    expect(report).toMatchObject({ outcome: 'ok', initiator: 'client' });
    const stored = await rig.gw.deviceManager.getDeviceInstanceByDeviceID(device.devId);
    expect(stored.state).toBe('ACTIVE');
    expect(stored.lastContact).toBeInstanceOf(Date);
    expect(stored.devInfo).toMatchObject({ man: expect.any(String), mod: expect.any(String), dmV: '1.2' });
    // The first session fetched DevDetail (the model was unknown).
    expect(stored.devInfo?.detail).toMatchObject({ fwV: expect.any(String) });
  });

  it('sends a queued Get in the next session and routes the value back', async () => {
    const device = rig.fleet.devices[0]!;
    await rig.gw.deviceCommands.submit(device.devId, {
      requestId: `t-get-${authType}-${encoding}`,
      commands: [{ verb: 'Get', uri: './DevInfo/Mod' }],
    });
    expect((await device.runSession()).outcome).toBe('ok');
    const o = await waitFor(() => outcomes.find((x) => x.requestId === `t-get-${authType}-${encoding}`));
    expect(o).toMatchObject({ outcome: 'completed', deviceId: device.devId });
    expect(o.results[0]).toMatchObject({ verb: 'Get', uri: './DevInfo/Mod', status: 200, data: expect.any(String) });
    expect(await rig.gw.deviceCommands.pending(device.devId)).toEqual([]);
  });

  it('answers each command with its DM status (404 for a missing node, 418 for an existing one)', async () => {
    const device = rig.fleet.devices[0]!;
    const id = `t-codes-${authType}-${encoding}`;
    await rig.gw.deviceCommands.submit(device.devId, {
      requestId: id,
      commands: [
        { verb: 'Replace', uri: './Nowhere/Leaf', data: 'x', format: 'chr' },
        { verb: 'Add', uri: './DevInfo/Man', data: 'x', format: 'chr' },
        { verb: 'Add', uri: './Custom/Color', data: 'blue', format: 'chr' },
        { verb: 'Get', uri: './Custom/Color' },
      ],
    });
    await device.runSession();
    const o = await waitFor(() => outcomes.find((x) => x.requestId === id));
    expect(o.results.map((r) => r.status)).toEqual([404, 418, 200, 200]);
    expect(o.results[3]?.data).toBe('blue');
  });
});
