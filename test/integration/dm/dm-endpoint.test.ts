/**
 * The DM endpoint's HTTP side, served ahead of express: routes as express
 * matched them, the body cap on the wire and after decompression, refused
 * encodings, and the metrics it feeds.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeWbxml } from '../../../src/dm/codec/wbxml-codec.js';
import { decodeXml } from '../../../src/dm/codec/xml-codec.js';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';

let rig: DmRig;
beforeAll(async () => {
  rig = await startDmRig({ devices: 1 });
});
afterAll(() => rig?.stop());

const UNKNOWN = 'IMEI:490154203237518';
const XML = 'application/vnd.syncml.dm+xml';
const WBXML = 'application/vnd.syncml.dm+wbxml';

const pkg1 = (devId: string) =>
  Buffer.from(
    `<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1A</SessionID><MsgID>1</MsgID><Target><LocURI>${rig.dmUrl}</LocURI></Target><Source><LocURI>${devId}</LocURI></Source></SyncHdr><SyncBody><Alert><CmdID>1</CmdID><Data>1201</Data></Alert><Final/></SyncBody></SyncML>`,
  );

async function post(body: Buffer, headers: Record<string, string> = {}, path = '/dm') {
  const r = await fetch(`${rig.gw.url}${path}`, { method: 'POST', headers: { 'content-type': XML, ...headers }, body });
  return { status: r.status, type: r.headers.get('content-type'), body: Buffer.from(await r.arrayBuffer()) };
}

/** The header Status of a DM reply (403 for the unknown device used here). */
const headerStatus = (body: Buffer) =>
  (decodeXml(body).body.find((c) => c.kind === 'Status' && c.cmdRef === 0) as { data: number } | undefined)?.data;

/** A POST with a chunked body (no Content-Length), written in 64 KiB pieces. */
function postChunked(path: string, total: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${rig.gw.url}${path}`, { method: 'POST', headers: { 'content-type': XML } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    const piece = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('DM endpoint over HTTP', () => {
  it('answers a plain message (and one on /dm/ with a query) with the DM reply', async () => {
    for (const path of ['/dm', '/dm/?x=1']) {
      const r = await post(pkg1(UNKNOWN), {}, path);
      expect(r.status).toBe(200);
      expect(r.type).toBe(XML);
      expect(headerStatus(r.body)).toBe(403);
    }
  });

  it('answers a handset WBXML Pkg1 whose string-table FPI has no NUL (not 400 bad-string-table-offset)', async () => {
    const hex = readFileSync(new URL('../../unit/dm/codec/fixtures/example-a.fpi-no-nul.wbxml.hex', import.meta.url), 'utf8');
    const r = await post(Buffer.from(hex.trim(), 'hex'), { 'content-type': WBXML });
    expect(r.status).toBe(200);
    expect(r.type).toBe(WBXML);
    const reply = decodeWbxml(r.body);
    expect(reply.body.find((c) => c.kind === 'Status' && c.cmdRef === 0)).toMatchObject({ data: 403 }); // unknown device
  });

  it.each([
    ['gzip', zlib.gzipSync],
    ['deflate', zlib.deflateSync],
    ['br', zlib.brotliCompressSync],
  ] as const)('takes a %s-compressed message like a plain one', async (encoding, compress) => {
    const r = await post(compress(pkg1(UNKNOWN)), { 'content-encoding': encoding });
    expect(r.status).toBe(200);
    expect(headerStatus(r.body)).toBe(403);
  });

  it('refuses a body that inflates past the cap with 413, and stays up', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(rig.gw.config.dmMaxBodyBytes * 8, 0x20));
    expect(bomb.length).toBeLessThan(rig.gw.config.dmMaxBodyBytes);
    expect((await post(bomb, { 'content-encoding': 'gzip' })).status).toBe(413);
    expect((await post(pkg1(UNKNOWN))).status).toBe(200);
  });

  it('refuses an unknown content encoding with 415 and an unreadable compressed body with 400', async () => {
    expect((await post(pkg1(UNKNOWN), { 'content-encoding': 'compress' })).status).toBe(415);
    expect((await post(Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' })).status).toBe(400);
  });

  it('refuses a chunked body once it passes the cap with 413, and stays up', async () => {
    expect(await postChunked('/dm', rig.gw.config.dmMaxBodyBytes + 256 * 1024)).toBe(413);
    expect((await post(pkg1(UNKNOWN))).status).toBe(200);
  });

  it('answers an empty body with 400 and a malformed session token with 404', async () => {
    expect((await post(Buffer.alloc(0))).status).toBe(400);
    const r = await post(pkg1(UNKNOWN), {}, '/dm/s/not*a*token');
    expect(r.status).toBe(404);
    expect(r.body.toString()).toBe('unknown session\n');
  });

  it('leaves other methods and paths to the app (404)', async () => {
    expect((await fetch(`${rig.gw.url}/dm`)).status).toBe(404);
    expect((await post(pkg1(UNKNOWN), {}, '/dm/s/')).status).toBe(404);
    expect((await post(pkg1(UNKNOWN), {}, '/dmx')).status).toBe(404);
  });

  it('counts DM messages in the metrics', async () => {
    await post(pkg1(UNKNOWN));
    const text = await (await fetch(`${rig.gw.url}/metrics`)).text();
    expect(text).toMatch(/dmwsi_dm_message_duration_seconds_count\{status="200"\} [1-9]/);
  });

  it('runs a whole session through the RespURI path', async () => {
    const report = await rig.fleet.devices[0]!.runSession();
    expect(report.outcome).toBe('ok');
    expect(report.messages).toBeGreaterThan(1);
  });
});
