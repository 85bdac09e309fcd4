/**
 * A continuing message served by the process that served its session's last message reads no registry
 * row: the DM server keeps the device's account as that message left it (its nonces, DevInfo and state
 * written), for that session's next message only.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CommandOutcome } from '../../../src/dm/server/ports.js';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';
import { waitFor } from '../../support/wait.js';

describe.each(['md5', 'hmac'] as const)('the device account of an open session (%s)', (authType) => {
  let rig: DmRig;
  const outcomes: CommandOutcome[] = [];

  beforeAll(async () => {
    rig = await startDmRig({ devices: 1, authType, imeiStart: authType === 'md5' ? '35000000005000' : '35000000005100' });
    rig.gw.dmEvents.onRequests('dv-', { outcome: async (o) => void outcomes.push(o) });
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await rig?.stop();
  });

  it('is read from the registry once per session, and serves the next messages with its own writes', async () => {
    const d = rig.fleet.devices[0]!;
    const reads = vi.spyOn(rig.gw.dmDevices, 'get');
    for (let i = 1; i <= 3; i++) {
      reads.mockClear();
      const requestId = `dv-${authType}-${i}`;
      await rig.gw.deviceCommands.submit(d.devId, { requestId, commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] }, { notify: false });
      const report = await d.runSession();
      await waitFor(() => outcomes.find((o) => o.requestId === requestId));
      // The first session is the device's first contact: it authenticates after a challenge, and the
      // gateway reads the model's DevDetail: more messages, each after the first served from the view.
      expect(report).toMatchObject({ outcome: 'ok' });
      expect(report.messages).toBeGreaterThanOrEqual(2);
      const opening = i === 1 ? 2 : 1; // the challenged Pkg1 stores no session: its resend opens it
      expect(reads.mock.calls.filter(([id]) => id === d.devId)).toHaveLength(opening);
      expect(outcomes.find((o) => o.requestId === requestId)).toMatchObject({ outcome: 'completed' });
    }
    // Every message authenticated on the nonces the one before it left in the registry and the view.
    const row = await rig.gw.dmDevices.get(d.devId);
    expect(row?.state).toBe('ACTIVE');
    expect(row?.devInfo?.detail).toBeDefined();
  });
});
