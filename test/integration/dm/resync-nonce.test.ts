/**
 * A device woken by a trigger signed with the resync nonce (a device we never
 * had a session with) opens its session with credentials on that nonce (notes
 * §4). The gateway takes them in that session's first message, once: the same
 * Pkg1 sent again (its credential is the same every time, MD5 over a fixed
 * nonce) is challenged, as is one naming a session id no trigger carried.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSyncMl } from '../../../src/dm/codec/index.js';
import type { CommandOutcome } from '../../../src/dm/server/ports.js';
import { RedisResyncOffers, resyncOffersKey } from '../../../src/queue/resync-offers.js';
import { createHttpTransport, type DmTransport } from '../../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';
import { waitFor } from '../../support/wait.js';

describe('credentials on the resync nonce', () => {
  let rig: DmRig;
  const real = createHttpTransport();
  const outcomes: CommandOutcome[] = [];
  /** Every message the devices posted, with the URL and headers it went to. */
  const posted: { url: string; body: Buffer; headers: Record<string, string> }[] = [];
  const transport: DmTransport = {
    post(url, body, headers) {
      posted.push({ url, body, headers: { ...headers } });
      return real.post(url, body, headers);
    },
  };

  beforeAll(async () => {
    rig = await startDmRig({ devices: 1, imeiStart: '35000000004000', fleet: { transport } });
    rig.gw.dmEvents.onRequests('rs-', { outcome: async (o) => void outcomes.push(o) });
  });
  afterAll(async () => {
    await rig?.stop();
    real.close();
  });

  /** The header Status of the gateway's answer to `body`, sent as the device sent it. */
  async function replay(p: { url: string; body: Buffer; headers: Record<string, string> }) {
    const res = await fetch(p.url, { method: 'POST', body: p.body, headers: p.headers });
    const answer = parseSyncMl(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type') ?? '');
    const header = answer.message.body.find((c) => c.kind === 'Status' && c.cmdRef === 0);
    return { header, commands: answer.message.body.filter((c) => c.kind !== 'Status') };
  }

  it('authenticates the first message of the invited session, then never again', async () => {
    const d = rig.fleet.devices[0]!;
    const { notification } = await rig.gw.deviceCommands.submit(
      d.devId,
      { requestId: 'rs-1', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] },
      { notify: true, sessionId: 0x01b7 },
    );
    expect(notification).toMatchObject({ delivered: true });
    await waitFor(() => outcomes.find((o) => o.requestId === 'rs-1'));
    await rig.fleet.idle();
    // Pkg1 (212, the Get) and the results: no 401 round trip.
    expect(d.describe().lastSession).toMatchObject({ sessionId: '1B7', report: { outcome: 'ok', messages: 2 } });
    const key = resyncOffersKey(rig.gw.config.queuePrefix, d.devId);
    expect(await rig.gw.redis.exists(key)).toBe(0);

    // The same Pkg1 again: the invitation was answered, so its fixed credential is challenged.
    const pkg1 = posted.find((p) => p.body.toString().includes('<SessionID>1B7</SessionID>'))!;
    expect(pkg1.body.toString()).toContain('<Data>1200</Data>');
    const again = await replay(pkg1);
    expect(again.header).toMatchObject({ data: 401 });
    expect(again.commands).toEqual([]);

    // A trigger naming another session id does not open this one.
    const offers = new RedisResyncOffers(rig.gw.redis, rig.gw.config.queuePrefix);
    await offers.offer(d.devId, 0x0999, 60);
    expect((await replay(pkg1)).header).toMatchObject({ data: 401 });
    expect(await offers.offered(d.devId, 0x0999)).toBe(true);
    await rig.gw.redis.del(key);
  });

  it('challenges a woken session that has nothing to do, so the client can hand over its new server nonce', async () => {
    // As when a device's own session took its requests while a resync trigger waited behind it: the
    // woken session has nothing to send. The client in resync still owes us its new server nonce.
    const d = rig.fleet.devices[0]!;
    await rig.fleet.idle();
    const r = await rig.gw.deviceCommands.notify(d.devId, { resync: true, sessionId: 0x02c4 });
    expect(r).toMatchObject({ delivered: true });
    await waitFor(() => (d.describe().lastSession as { sessionId?: string } | undefined)?.sessionId === '2C4' || undefined);
    await rig.fleet.idle();
    expect(d.describe().lastSession).toMatchObject({ sessionId: '2C4', report: { outcome: 'ok' } });
    // The nonce it handed over is ours to sign with: its next trigger is verified without resync.
    const rejected = d.notificationsRejected;
    await rig.gw.deviceCommands.submit(d.devId, { requestId: 'rs-2', commands: [{ verb: 'Get', uri: './DevInfo/Lang' }] }, { notify: true });
    await waitFor(() => outcomes.find((o) => o.requestId === 'rs-2'));
    expect(d.notificationsRejected).toBe(rejected);
  });
});
