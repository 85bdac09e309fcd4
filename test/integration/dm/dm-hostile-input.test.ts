/**
 * Malformed and hostile DM messages at the real endpoint: each gets an HTTP
 * 4xx or the right SyncML status, is logged with the device id where one is
 * known, and neither crashes the gateway nor corrupts a session.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWbxml } from '../../../src/dm/codec/wbxml-codec.js';
import { decodeXml, encodeXml } from '../../../src/dm/codec/xml-codec.js';
import { createHttpTransport, type DmTransport } from '../../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';

const logLines: Record<string, unknown>[] = [];
const logger = pino(
  { level: 'info' },
  new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      cb();
    },
  }),
);

/** The real transport, with a hook that may send something else first. */
const http = createHttpTransport();
let interceptor: ((url: string, body: Buffer, headers: Record<string, string>) => Promise<void>) | undefined;
const recorded: { url: string; body: Buffer; headers: Record<string, string> }[] = [];
const transport: DmTransport = {
  async post(url, body, headers) {
    recorded.push({ url, body, headers });
    if (interceptor) await interceptor(url, body, headers);
    return http.post(url, body, headers);
  },
};

let rig: DmRig;
beforeAll(async () => {
  rig = await startDmRig({ devices: 2, gateway: { logger }, fleet: { transport } });
});
afterAll(async () => {
  await rig?.stop();
  http.close();
});

async function post(body: Buffer | string, type = 'application/vnd.syncml.dm+xml', path = '/dm') {
  const r = await fetch(`${rig.gw.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

const pkg1 = (devId: string, sessionId = '1A') =>
  `<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>${sessionId}</SessionID><MsgID>1</MsgID><Target><LocURI>${rig.dmUrl}</LocURI></Target><Source><LocURI>${devId}</LocURI></Source></SyncHdr><SyncBody><Alert><CmdID>1</CmdID><Data>1201</Data></Alert><Final/></SyncBody></SyncML>`;

describe('hostile DM input', () => {
  it('answers a DOCTYPE with HTTP 400', async () => {
    const devId = rig.fleet.devices[0]!.devId;
    const evil = `<?xml version="1.0"?><!DOCTYPE SyncML [<!ENTITY x "y">]>${pkg1(devId)}`;
    expect((await post(evil)).status).toBe(400);
  });

  it('answers a bad number after a readable header with HTTP 400 and logs the device id', async () => {
    const devId = rig.fleet.devices[0]!.devId;
    const bad = pkg1(devId).replace('<CmdID>1</CmdID>', '<CmdID>one</CmdID>');
    expect((await post(bad)).status).toBe(400);
    expect(logLines).toContainEqual(expect.objectContaining({ msg: 'rejected a malformed DM message', deviceId: devId }));
  });

  it.each([
    ['truncated XML', () => Buffer.from(pkg1('IMEI:350000000000006').slice(0, 150))],
    ['a WBXML string-table offset past the table', () => Buffer.from([0x02, 0xa4, 0x01, 0x6a, 0x00, 0x6d, 0x83, 0x7f, 0x01])],
    ['a truncated WBXML header', () => Buffer.from([0x02, 0xa4])],
    ['deep nesting', () => Buffer.from(`${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}`)],
    ['a huge element count', () => Buffer.from(`<SyncML xmlns="SYNCML:SYNCML1.2">${'<x/>'.repeat(200_000)}</SyncML>`)],
  ])('answers %s with HTTP 400', async (_what, make) => {
    const body = make();
    const type = body[0] === 0x02 ? 'application/vnd.syncml.dm+wbxml' : 'application/vnd.syncml.dm+xml';
    expect((await post(body, type)).status).toBe(400);
  });

  it('answers an unknown media type with 415 and an oversized body with 413', async () => {
    expect((await post('x', 'application/json')).status).toBe(415);
    expect((await post(Buffer.alloc(rig.gw.config.dmMaxBodyBytes + 1, 0x20))).status).toBe(413);
  });

  it('answers an unknown device with 403 and no session', async () => {
    const r = await post(pkg1('IMEI:490154203237518'));
    expect(r.status).toBe(200);
    const msg = decodeXml(r.body);
    const hdr = msg.body.find((c) => c.kind === 'Status' && c.cmdRef === 0);
    expect(hdr).toMatchObject({ data: 403 });
    expect(msg.body.some((c) => c.kind !== 'Status')).toBe(false);
    expect(logLines.some((l) => l.type === 'unknown-device' && l.deviceId === 'IMEI:490154203237518')).toBe(true);
  });

  it('answers a message with a wrong SessionID with a header Status 400, and the session goes on', async () => {
    const d = rig.fleet.devices[0]!;
    let tampered: number | undefined;
    interceptor = async (url, body, headers) => {
      if (!url.includes('/dm/s/') || tampered !== undefined) return;
      const msg = decodeXml(body);
      // The retry of a challenged Pkg1 opens the session; the one after it goes on in it.
      if (msg.header.cred !== undefined) return;
      msg.header.sessionId = 'FFFF';
      const r = await http.post(url, encodeXml(msg), headers);
      const reply = decodeXml(r.body);
      tampered = (reply.body.find((c) => c.kind === 'Status' && c.cmdRef === 0) as { data: number } | undefined)?.data;
    };
    try {
      await rig.gw.deviceCommands.submit(d.devId, { requestId: 'x-after-tamper', commands: [{ verb: 'Get', uri: './DevInfo/Lang' }] });
      const report = await d.runSession();
      expect(tampered).toBe(400);
      expect(report.outcome).toBe('ok');
      expect(await rig.gw.deviceCommands.pending(d.devId)).toEqual([]);
    } finally {
      interceptor = undefined;
    }
  });

  it('refuses a replayed MD5 credential in a new session (401 with a fresh Chal, no commands)', async () => {
    const d = rig.fleet.devices[1]!;
    recorded.length = 0;
    expect((await d.runSession()).outcome).toBe('ok');
    const authed = recorded.find((r) => r.body.includes('syncml:auth-md5') && !r.url.includes('/dm/s/'))
      ?? recorded.find((r) => r.body.includes('syncml:auth-md5'));
    expect(authed).toBeDefined();
    expect((await d.runSession()).outcome).toBe('ok');
    const replay = decodeXml(authed!.body);
    replay.header.sessionId = 'BEEF';
    replay.header.msgId = 1;
    await rig.gw.deviceCommands.submit(d.devId, { requestId: 'x-never', commands: [{ verb: 'Get', uri: './DevInfo/Man' }] });
    const r = await post(encodeXml(replay));
    const msg = decodeXml(r.body);
    const hdr = msg.body.find((c) => c.kind === 'Status' && c.cmdRef === 0) as { data: number; chal?: unknown };
    expect(hdr.data).toBe(401);
    expect(hdr.chal).toBeDefined();
    expect(msg.body.some((c) => c.kind !== 'Status')).toBe(false);
    expect((await rig.gw.deviceCommands.pending(d.devId)).map((p) => p.requestId)).toEqual(['x-never']);
  });

  it('is still up and serving after all of the above', async () => {
    expect((await fetch(`${rig.gw.url}/healthz`)).status).toBe(200);
    expect((await rig.fleet.devices[0]!.runSession()).outcome).toBe('ok');
  });
});

describe('session ids', () => {
  it('starts a new session even when the device reuses an earlier SessionID', async () => {
    const d = rig.fleet.devices[0]!;
    // A queued command makes the first session last several messages.
    await rig.gw.deviceCommands.submit(d.devId, { requestId: 'x-reuse', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] });
    recorded.length = 0;
    const firstReport = await d.runSession();
    expect(firstReport.outcome).toBe('ok');
    expect(firstReport.messages).toBeGreaterThan(1);
    const first = decodeXml(recorded[0]!.body).header.sessionId;
    // Replay the same SessionID in a fresh session: the device's next session id is forced.
    interceptor = async () => undefined;
    const again = await d.runSession({ kind: 'client-initiated', sessionIdHex: first });
    interceptor = undefined;
    expect(again.outcome).toBe('ok');
  });

  it('answers WBXML with the bare WBXML media type', async () => {
    const r = await fetch(`${rig.gw.url}/dm`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.syncml.dm+wbxml' },
      body: encodeWbxml(decodeXml(pkg1('IMEI:490154203237518'))),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/vnd.syncml.dm+wbxml');
  });
});
