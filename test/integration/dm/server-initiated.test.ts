/**
 * The whole server-initiated path: a request is queued, the device is woken
 * by an HTTP Package#0 trigger, verifies its digest, opens a session with the
 * trigger's session id, and the outcome comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandOutcome } from '../../../src/dm/server/ports.js';
import { sessionIdToHex } from '../../../src/dm/notification/package0.js';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';
import { waitFor } from '../../support/wait.js';

let rig: DmRig;
const outcomes: CommandOutcome[] = [];
beforeAll(async () => {
  rig = await startDmRig({ devices: 2 });
  rig.gw.dmEvents.onRequests('n-', { outcome: async (o) => void outcomes.push(o) });
});
afterAll(() => rig?.stop());

describe('server-initiated sessions', () => {
  it('wakes a never-seen device (resync nonce), which runs the request in a session with the trigger id', async () => {
    const d = rig.fleet.devices[0]!;
    const { queued, notification } = await rig.gw.deviceCommands.submit(
      d.devId,
      { requestId: 'n-first', commands: [{ verb: 'Get', uri: './DevInfo/DevId' }] },
      { notify: true, sessionId: 0x00a3 },
    );
    expect(queued).toBe(true);
    expect(notification).toMatchObject({ delivered: true, channel: 'http', sessionId: 0xa3 });
    const o = await waitFor(() => outcomes.find((x) => x.requestId === 'n-first'));
    expect(o.results[0]).toMatchObject({ status: 200, data: d.devId });
    expect(sessionIdToHex(0xa3)).toBe('A3');
    // Notes §4: the session answering a resync trigger authenticates on the resync nonce in its first
    // message: Pkg1 gets 212 and the request at once, no 401 round trip (Pkg1, results: two posts).
    await rig.fleet.idle();
    expect(d.describe().lastSession).toMatchObject({ sessionId: 'A3', report: { outcome: 'ok', messages: 2 } });
  });

  it('wakes a known device with the server nonce it issued', async () => {
    const d = rig.fleet.devices[0]!;
    await rig.fleet.idle();
    const before = d.notificationsRejected;
    await rig.gw.deviceCommands.submit(
      d.devId,
      { requestId: 'n-second', commands: [{ verb: 'Get', uri: './DevInfo/Man' }] },
      { notify: true },
    );
    await waitFor(() => outcomes.find((x) => x.requestId === 'n-second'));
    expect(d.notificationsRejected).toBe(before);
  });

  it('wakes a device holding another server nonce than ours with the resync nonce once it refuses the trigger', async () => {
    // As after a session whose new server nonce we stored, but whose answer never reached the device.
    const d = rig.fleet.devices[0]!;
    await rig.fleet.idle();
    await rig.gw.dataSource.query(`UPDATE device_instance SET server_nonce = ? WHERE device_id = ?`, [
      Buffer.from('a nonce the device never got').toString('base64'),
      d.devId,
    ]);
    const rejected = d.notificationsRejected;
    const r = await rig.gw.deviceCommands.submit(
      d.devId,
      { requestId: 'n-resync', commands: [{ verb: 'Get', uri: './DevInfo/Lang' }] },
      { notify: true },
    );
    expect(r.notification).toMatchObject({ delivered: true, channel: 'http' });
    expect(d.notificationsRejected).toBe(rejected + 1);
    await waitFor(() => outcomes.find((x) => x.requestId === 'n-resync'));
  });

  it('never delivers a request twice when it is submitted twice with the same id', async () => {
    const d = rig.fleet.devices[1]!;
    const req = { requestId: 'n-once', commands: [{ verb: 'Add' as const, uri: './Once', data: '1', format: 'chr' }] };
    expect((await rig.gw.deviceCommands.submit(d.devId, req)).queued).toBe(true);
    expect((await rig.gw.deviceCommands.submit(d.devId, req)).queued).toBe(false);
    await rig.gw.deviceCommands.notify(d.devId);
    const o = await waitFor(() => outcomes.find((x) => x.requestId === 'n-once'));
    expect(o.results.map((r) => r.status)).toEqual([200]);
    await rig.fleet.idle();
    expect(outcomes.filter((x) => x.requestId === 'n-once')).toHaveLength(1);
  });

  it('reports an unreachable device as an outcome, not an error', async () => {
    await rig.gw.dataSource.query(`UPDATE device_instance SET notification_url = 'http://127.0.0.1:1/x' WHERE device_id = ?`, [
      rig.fleet.devices[1]!.devId,
    ]);
    const r = await rig.gw.deviceCommands.notify(rig.fleet.devices[1]!.devId);
    expect(r).toMatchObject({ delivered: false, channel: 'http', retryable: true });
    expect(await rig.gw.deviceCommands.notify('IMEI:000000000000000')).toMatchObject({ delivered: false, reason: 'unknown device' });
  }, 20_000);
});
