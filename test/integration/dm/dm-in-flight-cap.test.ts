/**
 * DM_MAX_IN_FLIGHT: opening messages (POST /dm) served at once per process.
 * A fleet reporting at one AtTime sends thousands of one-message sessions,
 * which the session cap does not count; beyond this cap they get 503 with
 * Retry-After before their body is read, while messages of open sessions
 * (on their RespURI) always pass.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';

let rig: DmRig;
beforeAll(async () => {
  rig = await startDmRig({ devices: 1, overrides: { dmMaxInFlight: 2 } });
});
afterAll(() => rig?.stop());

const XML = 'application/vnd.syncml.dm+xml';
const pkg1 = () =>
  Buffer.from(
    `<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1A</SessionID><MsgID>1</MsgID><Target><LocURI>${rig.dmUrl}</LocURI></Target><Source><LocURI>IMEI:490154203237518</LocURI></Source></SyncHdr><SyncBody><Alert><CmdID>1</CmdID><Data>1201</Data></Alert><Final/></SyncBody></SyncML>`,
  );

/** A POST to /dm whose body never finishes: the message stays in flight until `finish`. */
function stalled(): { done: Promise<number>; finish: () => void } {
  const body = pkg1();
  let finish: () => void = () => {};
  const done = new Promise<number>((resolve, reject) => {
    const req = http.request(`${rig.gw.url}/dm`, { method: 'POST', headers: { 'content-type': XML, 'content-length': body.length } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.write(body.subarray(0, 20));
    finish = () => void req.end(body.subarray(20));
  });
  return { done, finish };
}

const post = (path: string) => fetch(`${rig.gw.url}${path}`, { method: 'POST', headers: { 'content-type': XML }, body: pkg1() });

describe('DM_MAX_IN_FLIGHT', () => {
  it('answers an opening message beyond the cap 503 with Retry-After, lets RespURI messages through, and serves again once one ends', async () => {
    const first = stalled();
    const second = stalled();
    // Both are in flight once the gateway has begun reading them.
    await new Promise((r) => setTimeout(r, 200));

    const refused = await post('/dm');
    expect(refused.status).toBe(503);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(5);
    expect(retryAfter).toBeLessThanOrEqual(14);

    // A message of an open session is never turned away by this cap (this token names none: 200 or 404, not 503).
    expect((await post('/dm/s/AAAAAAAAAAAAAAAAAAAAAA')).status).not.toBe(503);

    first.finish();
    expect(await first.done).toBe(200);
    expect((await post('/dm')).status).toBe(200);
    second.finish();
    expect(await second.done).toBe(200);
  });
});
