/**
 * DM_MAX_EVENT_LOOP_LAG_MS: while the gateway's event loop runs late, opening
 * messages (POST /dm) beyond DM_IN_FLIGHT_WHEN_LATE get 503 with Retry-After
 * before their body is read, so a process short of CPU takes on fewer
 * sessions and its own worker and SOAP reads get their turn; messages of
 * open sessions still pass. Here the count while late is 0, so that one
 * message shows it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DmRig, startDmRig } from '../../support/dm-rig.js';
import { waitFor } from '../../support/wait.js';

const MAX_LAG_MS = 150;
let rig: DmRig;
beforeAll(async () => {
  rig = await startDmRig({ devices: 1, overrides: { dmMaxEventLoopLagMs: MAX_LAG_MS, dmInFlightWhenLate: 0 } });
});
afterAll(() => rig?.stop());

const XML = 'application/vnd.syncml.dm+xml';
const pkg1 = () =>
  `<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1B</SessionID><MsgID>1</MsgID><Target><LocURI>${rig.dmUrl}</LocURI></Target><Source><LocURI>IMEI:490154203237518</LocURI></Source></SyncHdr><SyncBody><Alert><CmdID>1</CmdID><Data>1201</Data></Alert><Final/></SyncBody></SyncML>`;
const post = (path: string) => fetch(`${rig.gw.url}${path}`, { method: 'POST', headers: { 'content-type': XML }, body: pkg1() });

/** Holds this process's event loop (the gateway under test runs in it) for `ms`. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: nothing else runs meanwhile
  }
}

describe('DM_MAX_EVENT_LOOP_LAG_MS', () => {
  it('answers opening messages 503 with Retry-After while the loop runs late, and serves them again once it catches up', async () => {
    // Calm first: an opening message is served.
    await waitFor(async () => ((await post('/dm')).status === 200 ? true : undefined), 10_000, 'a calm loop', 200);

    block(4 * MAX_LAG_MS);
    // The sampler's timer fires late before the request is read: the sample is the lag just suffered.
    await new Promise((r) => setImmediate(r));
    const late = post('/dm');
    const session = post('/dm/s/AAAAAAAAAAAAAAAAAAAAAA');
    const refused = await late;
    expect(refused.status).toBe(503);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(5);
    expect(retryAfter).toBeLessThanOrEqual(14);
    // A message of an open session is never refused for lag (this token names none: 404, not 503).
    expect((await session).status).not.toBe(503);

    await waitFor(async () => ((await post('/dm')).status === 200 ? true : undefined), 30_000, 'the loop to catch up', 200);
  });
});
