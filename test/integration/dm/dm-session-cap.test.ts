/**
 * DM_MAX_SESSIONS against a real gateway, Redis and simulated devices over
 * HTTP: a message that would start a session beyond the cap gets 503 with
 * Retry-After and leaves nothing behind; the messages of open sessions pass
 * at the cap; a place frees when a session closes, or when an abandoned one
 * lapses after DM_SESSION_TTL_SECONDS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSyncMl } from '../../../src/dm/codec/index.js';
import { createHttpTransport, type DmTransport, type HttpResponse, type SimulatedDevice } from '../../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';
import { openDmSessionsKey } from '../../../src/queue/dm-session-store.js';

interface Answer {
  deviceId: string;
  status: number;
  retryAfter: string | undefined;
}

/**
 * Real HTTP to the gateway, with a way to stop one device before one of its
 * posts: its session is then open on the gateway, waiting for that message.
 */
class HoldingTransport implements DmTransport {
  readonly answers: Answer[] = [];
  private readonly inner = createHttpTransport({ maxSockets: 8 });
  private held: { deviceId: string; post: number; seen: number; reached: () => void; gate: Promise<'send' | 'drop'> } | undefined;

  /** Holds `deviceId`'s `post`-th post from now on until the returned `let` decides. */
  hold(deviceId: string, post: number): { reached: Promise<void>; let(what: 'send' | 'drop'): void } {
    let reached!: () => void;
    let decide!: (what: 'send' | 'drop') => void;
    const reachedP = new Promise<void>((r) => {
      reached = r;
    });
    const gate = new Promise<'send' | 'drop'>((r) => {
      decide = r;
    });
    this.held = { deviceId, post, seen: 0, reached, gate };
    return { reached: reachedP, let: decide };
  }

  async post(url: string, body: Buffer, headers: Record<string, string>): Promise<HttpResponse> {
    const deviceId = parseSyncMl(body, headers['content-type'] ?? '').message.header.source.locUri;
    const held = this.held;
    if (held?.deviceId === deviceId && ++held.seen === held.post) {
      this.held = undefined;
      held.reached();
      // A device that went away mid-session: its message never reaches the gateway.
      if ((await held.gate) === 'drop') throw new Error('device dropped off');
    }
    const res = await this.inner.post(url, body, headers);
    this.answers.push({ deviceId, status: res.status, retryAfter: res.headers['retry-after'] });
    return res;
  }

  close(): void {
    this.inner.close();
  }
}

async function openCount(rig: DmRig): Promise<number> {
  return rig.gw.redis.zcard(openDmSessionsKey(rig.gw.config.queuePrefix));
}

describe('a cap of one open DM session', () => {
  let rig: DmRig;
  const transport = new HoldingTransport();

  beforeAll(async () => {
    rig = await startDmRig({ devices: 2, overrides: { dmMaxSessions: 1 }, fleet: { transport } });
  });
  afterAll(async () => {
    await rig?.stop();
    transport.close();
  });

  it('refuses a second new session with 503 and Retry-After, lets the open one finish, then admits the refused device', async () => {
    const a = rig.fleet.devices[0]!;
    const b = rig.fleet.devices[1]!;
    // A's first message is challenged (no session yet), its second opens the session; its third waits here.
    const held = transport.hold(a.devId, 3);
    const aSession = a.runSession();
    await held.reached;
    expect(await openCount(rig)).toBe(1);

    const refused = await b.runSession();
    // Its challenge took no place; its authenticated retry would open a session: refused.
    expect(refused).toMatchObject({ outcome: 'error', error: 'HTTP 503', messages: 2 });
    const answer = transport.answers.findLast((x) => x.deviceId === b.devId)!;
    expect(answer.status).toBe(503);
    expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
    // Nothing half-open: no session state bound to B, no contact recorded, still one session counted.
    expect(await rig.gw.redis.keys(`${rig.gw.config.queuePrefix}:dm:sid:{${b.devId}}:*`)).toEqual([]);
    expect((await rig.gw.deviceManager.getDeviceInstanceByDeviceID(b.devId)).lastContact).toBeUndefined();
    expect(await openCount(rig)).toBe(1);

    // A goes on at the cap: every one of its messages is answered 200 and its session completes.
    held.let('send');
    const done = await aSession;
    expect(done).toMatchObject({ outcome: 'ok' });
    expect(done.messages).toBeGreaterThanOrEqual(3);
    const aStatuses = transport.answers.filter((x) => x.deviceId === a.devId).map((x) => x.status);
    expect(aStatuses).toEqual(Array(done.messages).fill(200));
    expect(await openCount(rig)).toBe(0);

    // The place A held is free: B's new session is admitted now.
    expect(await b.runSession()).toMatchObject({ outcome: 'ok' });
    expect(await openCount(rig)).toBe(0);
  });
});

describe('an abandoned session at the cap', () => {
  let rig: DmRig;
  const transport = new HoldingTransport();

  beforeAll(async () => {
    rig = await startDmRig({
      devices: 2,
      imeiStart: '35000000001000',
      overrides: { dmMaxSessions: 1, dmSessionTtlSeconds: 2 },
      fleet: { transport },
    });
  });
  afterAll(async () => {
    await rig?.stop();
    transport.close();
  });

  it('holds its place until DM_SESSION_TTL_SECONDS pass, then a new session is admitted', async () => {
    const a = rig.fleet.devices[0]!;
    const b = rig.fleet.devices[1]!;
    const held = transport.hold(a.devId, 3);
    const aSession = a.runSession();
    await held.reached;
    held.let('drop');
    expect(await aSession).toMatchObject({ outcome: 'error' });
    const droppedAt = Date.now();

    expect(await b.runSession()).toMatchObject({ outcome: 'error', error: 'HTTP 503' });
    await new Promise((r) => setTimeout(r, Math.max(0, droppedAt + 2_300 - Date.now())));
    expect(await b.runSession()).toMatchObject({ outcome: 'ok' });
  });
});

describe('a session that opens and ends in one message, at the cap', () => {
  let rig: DmRig;
  const transport = new HoldingTransport();

  beforeAll(async () => {
    rig = await startDmRig({ devices: 3, imeiStart: '35000000002100', overrides: { dmMaxSessions: 1 }, fleet: { transport } });
  });
  afterAll(async () => {
    await rig?.stop();
    transport.close();
  });

  it('is served, since it is never open between messages, while a session that would stay open is refused', async () => {
    const [a, inService, newcomer] = rig.fleet.devices as [SimulatedDevice, SimulatedDevice, SimulatedDevice];
    // In service: its first session (challenge, DevDetail) is behind it.
    expect(await inService.runSession()).toMatchObject({ outcome: 'ok' });
    const held = transport.hold(a.devId, 3);
    const aSession = a.runSession();
    await held.reached;
    expect(await openCount(rig)).toBe(1);

    // A check-in with nothing queued: one message, answered 200, and the count is unchanged.
    expect(await inService.runSession()).toMatchObject({ outcome: 'ok', messages: 1 });
    expect(transport.answers.findLast((x) => x.deviceId === inService.devId)?.status).toBe(200);
    expect(await openCount(rig)).toBe(1);

    // A first contact would stay open (challenge, resend): refused, nothing recorded.
    expect(await newcomer.runSession()).toMatchObject({ outcome: 'error', error: 'HTTP 503' });
    expect((await rig.gw.deviceManager.getDeviceInstanceByDeviceID(newcomer.devId)).lastContact).toBeUndefined();

    held.let('send');
    expect(await aSession).toMatchObject({ outcome: 'ok' });
    expect(await openCount(rig)).toBe(0);
  });
});
