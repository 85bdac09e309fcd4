/**
 * Messages without valid credentials against a real gateway, Redis and a
 * simulated device over HTTP: each gets its 401 with Chal and leaves nothing
 * behind (no session, no place under DM_MAX_SESSIONS, no contact recorded,
 * the device's nonce as it was), so a flood of them naming known devices,
 * the real device's own id among them, neither refuses nor locks out the
 * real device's multi-message sessions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSyncMl } from '../../../src/dm/codec/index.js';
import type { StatusCommand } from '../../../src/dm/codec/types.js';
import { createHttpTransport, type DmTransport, type HttpResponse } from '../../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';
import { dmLockKey, openDmSessionsKey } from '../../../src/queue/dm-session-store.js';

/** Real HTTP, recording every answer the device got. */
class RecordingTransport implements DmTransport {
  readonly statuses: number[] = [];
  private readonly inner = createHttpTransport({ maxSockets: 4 });

  async post(url: string, body: Buffer, headers: Record<string, string>): Promise<HttpResponse> {
    const res = await this.inner.post(url, body, headers);
    this.statuses.push(res.status);
    return res;
  }

  close(): void {
    this.inner.close();
  }
}

interface DeviceRow {
  client_nonce: string;
  last_contact: number | null;
  state: string;
}

describe('a flood of Pkg1s with bad credentials for known devices', () => {
  const FLOOD = 1_000;
  const transport = new RecordingTransport();
  let rig: DmRig;

  beforeAll(async () => {
    rig = await startDmRig({
      devices: 11,
      imeiStart: '35000000003000',
      overrides: { dmMaxSessions: 50 },
      fleet: { transport },
    });
  });
  afterAll(async () => {
    await rig?.stop();
    transport.close();
  });

  const row = async (deviceId: string): Promise<DeviceRow> =>
    ((await rig.gw.dataSource.query('SELECT client_nonce, last_contact, state FROM device_instance WHERE device_id = ?', [deviceId])) as DeviceRow[])[0]!;

  const badPkg1 = (deviceId: string, i: number) =>
    Buffer.from(
      `<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>` +
        `<SessionID>${(i % 0xffff).toString(16).toUpperCase()}</SessionID><MsgID>1</MsgID>` +
        `<Target><LocURI>${rig.dmUrl}</LocURI></Target><Source><LocURI>${deviceId}</LocURI></Source>` +
        `<Cred><Meta><Type xmlns="syncml:metinf">syncml:auth-md5</Type><Format xmlns="syncml:metinf">b64</Format></Meta>` +
        `<Data>AAAAAAAAAAAAAAAAAAAAAA==</Data></Cred></SyncHdr>` +
        `<SyncBody><Alert><CmdID>1</CmdID><Data>1201</Data></Alert><Final/></SyncBody></SyncML>`,
    );

  it('leaves the real device’s multi-message sessions unrefused, and no session place, contact or nonce change behind', async () => {
    const [real, ...others] = rig.fleet.devices;
    const targets = [real!.devId, ...others.map((d) => d.devId)];
    const before = new Map(await Promise.all(targets.map(async (id) => [id, await row(id)] as const)));

    // 1,000 bad Pkg1s, 16 at a time, spread over the other devices and the real one.
    // Each answer as `HTTP status/header Status/Chal?`: `200/401/chal` is a challenge.
    const floodAnswers: string[] = [];
    let sent = 0;
    const flooder = async () => {
      while (sent < FLOOD) {
        const i = sent++;
        const r = await fetch(rig.dmUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/vnd.syncml.dm+xml' },
          body: badPkg1(targets[i % targets.length]!, i),
        });
        const body = Buffer.from(await r.arrayBuffer());
        if (r.status !== 200) {
          floodAnswers.push(String(r.status));
          continue;
        }
        const { message } = parseSyncMl(body, 'application/vnd.syncml.dm+xml');
        const hdr = message.body.find((c): c is StatusCommand => c.kind === 'Status' && c.cmdRef === 0);
        floodAnswers.push(`200/${hdr?.data}/${hdr?.chal ? 'chal' : 'none'}`);
      }
    };
    const flood = Promise.all(Array.from({ length: 16 }, flooder));

    // Once far more bad Pkg1s than DM_MAX_SESSIONS were answered, the real device runs sessions
    // until the flood is over: its first contact (challenge, retry, DevDetail) and sessions with a
    // queued Get, each open over several messages.
    while (floodAnswers.length < 200) await new Promise((r) => setTimeout(r, 5));
    let floodOver = false;
    void flood.finally(() => {
      floodOver = true;
    });
    const sessions: { outcome: string; messages: number }[] = [];
    let n = 0;
    do {
      await rig.gw.deviceCommands.submit(real!.devId, { requestId: `flood-get-${++n}`, commands: [{ verb: 'Get', uri: './DevInfo/Man' }] });
      sessions.push(await real!.runSession());
    } while (!floodOver);
    await flood;

    expect(floodAnswers).toEqual(Array(FLOOD).fill('200/401/chal'));
    expect(sessions.length).toBeGreaterThanOrEqual(1);
    for (const s of sessions) {
      expect(s.outcome).toBe('ok');
      expect(s.messages).toBeGreaterThanOrEqual(2);
    }
    expect(transport.statuses.every((s) => s === 200)).toBe(true);
    expect(await rig.gw.deviceCommands.pending(real!.devId)).toEqual([]);

    // Nothing held: no open session counted, no session bound to a flooded device.
    expect(await rig.gw.redis.zcard(openDmSessionsKey(rig.gw.config.queuePrefix))).toBe(0);
    for (const d of others) {
      expect(await rig.gw.redis.keys(`${rig.gw.config.queuePrefix}:dm:sid:{${d.devId}}:*`)).toEqual([]);
      // No contact recorded, no state moved, the nonce as it was.
      expect(await row(d.devId)).toEqual(before.get(d.devId));
    }
    // The real device is not locked out: its next session authenticates at the first message.
    const last = await real!.runSession();
    expect(last).toMatchObject({ outcome: 'ok', messages: 1 });
  });

  it('answers a bad Pkg1 at once while another message of its device holds the lock, without waiting for it', async () => {
    const d = rig.fleet.devices[2]!;
    const lock = dmLockKey(rig.gw.config.queuePrefix, d.devId);
    // As while one of the device's own messages is being served (lapses after 5 s).
    expect(await rig.gw.redis.set(lock, 'a real message', 'PX', 5_000, 'NX')).toBe('OK');
    try {
      const startedAt = Date.now();
      const r = await fetch(rig.dmUrl, { method: 'POST', headers: { 'content-type': 'application/vnd.syncml.dm+xml' }, body: badPkg1(d.devId, 9) });
      const took = Date.now() - startedAt;
      expect(r.status).toBe(200);
      const { message } = parseSyncMl(Buffer.from(await r.arrayBuffer()), 'application/vnd.syncml.dm+xml');
      expect(message.body.find((c) => c.kind === 'Status' && c.cmdRef === 0)).toMatchObject({ data: 401, chal: expect.anything() });
      expect(took).toBeLessThan(1_000);
      // The lock is still the holder's.
      expect(await rig.gw.redis.get(lock)).toBe('a real message');
    } finally {
      await rig.gw.redis.del(lock);
    }
  });

  it('stores no session for a challenged Pkg1, nor for a wrong-Cred retry, and hands out no RespURI token', async () => {
    const d = rig.fleet.devices[3]!;
    const sessionKeys = () => rig.gw.redis.keys(`${rig.gw.config.queuePrefix}:dm:session:*`);
    const keysBefore = await sessionKeys();
    const first = await fetch(rig.dmUrl, { method: 'POST', headers: { 'content-type': 'application/vnd.syncml.dm+xml' }, body: badPkg1(d.devId, 11) });
    const challenge = parseSyncMl(Buffer.from(await first.arrayBuffer()), 'application/vnd.syncml.dm+xml').message;
    expect(challenge.body.find((c) => c.kind === 'Status' && c.cmdRef === 0)).toMatchObject({ data: 401 });
    // A RespURI token names stored state; a challenge stores none, so the retry goes to /dm again.
    expect(challenge.header.respUri).toBeUndefined();

    const retry = badPkg1(d.devId, 11).toString().replace('<MsgID>1</MsgID>', '<MsgID>2</MsgID>');
    const second = await fetch(rig.dmUrl, { method: 'POST', headers: { 'content-type': 'application/vnd.syncml.dm+xml' }, body: retry });
    const answer = parseSyncMl(Buffer.from(await second.arrayBuffer()), 'application/vnd.syncml.dm+xml').message;
    expect(answer.body.find((c) => c.kind === 'Status' && c.cmdRef === 0)).toMatchObject({ data: 401 });

    expect(await sessionKeys()).toEqual(keysBefore);
    expect(await rig.gw.redis.keys(`${rig.gw.config.queuePrefix}:dm:sid:{${d.devId}}:*`)).toEqual([]);
    expect(await rig.gw.redis.zcard(openDmSessionsKey(rig.gw.config.queuePrefix))).toBe(0);
  });

  it('records no contact for a message of a device in service that fails authentication', async () => {
    const d = rig.fleet.devices[1]!;
    expect(await d.runSession()).toMatchObject({ outcome: 'ok' });
    const inService = await row(d.devId);
    expect(inService).toMatchObject({ state: 'ACTIVE', last_contact: expect.any(Number) });
    await new Promise((r) => setTimeout(r, 20));

    const r = await fetch(rig.dmUrl, { method: 'POST', headers: { 'content-type': 'application/vnd.syncml.dm+xml' }, body: badPkg1(d.devId, 7) });
    const { message } = parseSyncMl(Buffer.from(await r.arrayBuffer()), 'application/vnd.syncml.dm+xml');
    expect(message.body.find((c) => c.kind === 'Status' && c.cmdRef === 0)).toMatchObject({ data: 401 });
    expect(await row(d.devId)).toEqual(inService);
  });
});
