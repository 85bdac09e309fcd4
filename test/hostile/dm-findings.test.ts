/**
 * Regressions for what the DM hostile-input suite (dm-fuzz.test.ts) found:
 * each test is a property the gateway once broke, kept so it never breaks
 * again. The comments say what went wrong and where it was mended.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSyncMl } from '../../src/dm/codec/index.js';
import type { CommandOutcome } from '../../src/dm/server/ports.js';
import type { GuardedRequest } from '../../src/services/broker/ports.js';
import { Fleet } from '../../src/simulator/fleet.js';
import { createHttpTransport, type DmTransport } from '../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { CAPABILITY } from '../support/fixtures.js';
import { waitFor } from '../support/wait.js';

const http = createHttpTransport();
let interceptor: ((url: string, body: Buffer, headers: Record<string, string>) => Promise<void>) | undefined;
const transport: DmTransport = {
  async post(url, body, headers) {
    if (interceptor) await interceptor(url, body, headers);
    return http.post(url, body, headers);
  },
};

let rig: DmRig;
let hmacFleet: Fleet;
const outcomes: CommandOutcome[] = [];
let n = 0;

beforeAll(async () => {
  rig = await startDmRig({ devices: 2, authType: 'md5', fleet: { transport } });
  hmacFleet = new Fleet({
    devices: 2,
    serverUrl: rig.dmUrl,
    serverId: rig.gw.config.dmServerId,
    capabilityOid: CAPABILITY.oid,
    authType: 'hmac',
    encoding: 'xml',
    imeiStart: '35200000000000',
    phonePrefix: '+1777',
    listen: { host: '127.0.0.1', port: 0 },
    transport,
  });
  await hmacFleet.start();
  await rig.gw.deviceManager.importDeviceInstances({ caller: 'test', operation: 'setup' }, { csv: hmacFleet.credentialsCsv() });
  rig.gw.dmEvents.onRequests('b-', { outcome: async (o) => void outcomes.push(o) });
  for (const d of [...rig.fleet.devices, ...hmacFleet.devices]) expect((await d.runSession()).outcome).toBe('ok');
});
afterAll(async () => {
  interceptor = undefined;
  await hmacFleet?.stop();
  await rig?.stop();
  http.close();
});

describe('regression: one DM message served twice at once reported its commands twice (src/dm/server/dm-server.ts)', () => {
  // Mended by a per-device message lock (DmSessionStore.claim). Before it:
  // handle() loaded the session state, runs the engine and saves the new state with no lock or
  // compare-and-set: two copies of the same message in flight together (a device retrying after
  // a timeout while the first copy is still being served) both see the state before the message,
  // both apply the client's Results/Status, and both report the command's outcome (then the last
  // save wins). The retransmission check (MsgID == lastMsgId) only works once the first copy has
  // been saved.
  it('reports each queued command once when the device’s message arrives several times at once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1), fc.integer({ min: 1, max: 4 }), async (device, copies) => {
        const d = rig.fleet.devices[device]!;
        const requestId = `b-race-${n++}`;
        await rig.gw.deviceCommands.submit(d.devId, { requestId, commands: [{ verb: 'Get', uri: './DevInfo/Man' }] });
        const racing: Promise<unknown>[] = [];
        let i = 0;
        interceptor = async (url, body, headers) => {
          // The message that carries the command's Results: copies go out together with it.
          if (i++ === 1) for (let k = 0; k < copies; k++) racing.push(http.post(url, body, headers).catch(() => undefined));
        };
        try {
          expect((await d.runSession()).outcome).toBe('ok');
        } finally {
          interceptor = undefined;
        }
        await Promise.all(racing);
        await waitFor(() => outcomes.find((o) => o.requestId === requestId), 5_000, requestId);
        await new Promise((r) => setTimeout(r, 200));
        expect({ requestId, copies, reported: outcomes.filter((o) => o.requestId === requestId).length }).toEqual({ requestId, copies, reported: 1 });
      }),
      { seed: 7, numRuns: 12, endOnFailure: true },
    );
  });
});

describe('regression: an unauthenticated message spent an HMAC session’s MsgID and lost its commands (src/dm/session/engine.ts)', () => {
  // Mended in engine.ts (unauthenticatedInSession). Before it:
  // for an HMAC device every message is authenticated. A message with the session's SessionID,
  // Source and next MsgID but no (or a wrong) x-syncml-hmac is answered 407 (401), yet advance()
  // has already set lastMsgId and authFailure() stores its reply as lastReply: the device's own,
  // correctly signed message with that MsgID is then taken for a retransmission and gets the
  // stored 407/401 reply; the queued command ends 'undelivered'. Anyone who knows the RespURI
  // token (or the device id and the 16-bit SessionID, for a client without RespURI) can do it
  // without any secret.
  it('delivers the queued command although a forged message without a valid MAC came first', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1), fc.constantFrom('none', 'garbage', 'other-nonce'), async (device, mac) => {
        const d = hmacFleet.devices[device]!;
        const requestId = `b-hmac-${n++}`;
        await rig.gw.deviceCommands.submit(d.devId, { requestId, commands: [{ verb: 'Get', uri: './DevInfo/Man' }] });
        let i = 0;
        let forged: number | undefined;
        interceptor = async (url, body, headers) => {
          if (i++ !== 1) return;
          const h: Record<string, string> = { ...headers };
          if (mac === 'none') delete h['x-syncml-hmac'];
          else if (mac === 'garbage') h['x-syncml-hmac'] = 'algorithm=MD5, username="x", mac=AAAAAAAAAAAAAAAAAAAAAA==';
          else h['x-syncml-hmac'] = (h['x-syncml-hmac'] ?? '').replace(/mac=[^,]*/, 'mac=AAAAAAAAAAAAAAAAAAAAAA==');
          forged = (await http.post(url, body, h)).status;
        };
        try {
          await d.runSession();
        } finally {
          interceptor = undefined;
        }
        expect(forged).toBe(200); // the forgery itself is answered (407/401 in its header Status)
        const o = await waitFor(() => outcomes.find((x) => x.requestId === requestId), 5_000, requestId);
        expect({ mac, outcome: o.outcome }).toEqual({ mac, outcome: 'completed' });
      }),
      { seed: 8, numRuns: 6, endOnFailure: true },
    );
  });
});

/** A Get guarded by acceptDevicePolicy 10 (same TAC as `registeredDeviceId`), as the deployment broker queues it. */
function guardedGet(requestId: string, registeredDeviceId: string): GuardedRequest {
  return { requestId, commands: [{ verb: 'Get', uri: './DevInfo/Mod' }], guard: { registeredDeviceId, policy: 10 } };
}

describe('regression: an unauthenticated message decided a device’s guarded requests (src/dm/server/dm-server.ts)', () => {
  // Mended in dm-server.ts (refuseGuarded only once the sender authenticated). Before it: a queued
  // request guarded by acceptDevicePolicy was checked against the DevId reported in DevInfo of
  // whatever message named the device, before authentication. A Pkg1 with a wrong Cred and a
  // foreign DevId, sent by anyone who knows the device id, ended the request 'rejected' (its task
  // FAILED) and took it off the queue.
  it('leaves a guarded request queued when a message claiming another DevId fails authentication', async () => {
    const d = rig.fleet.devices[0]!;
    const requestId = `b-guard-${n++}`;
    await rig.gw.deviceCommands.submit(d.devId, guardedGet(requestId, d.devId));
    let forgedHeaderStatus: number | undefined;
    let i = 0;
    interceptor = async (url, body, headers) => {
      if (i++ !== 0) return;
      const genuine = body.toString('utf8');
      const forged = genuine
        .replace(/(\.\/DevInfo\/DevId<\/LocURI><\/Source>[\s\S]*?<Data>)[^<]*(<\/Data>)/, '$1IMEI:990000000000011$2')
        .replace(/(<Cred>[\s\S]*?<Data>)[^<]*(<\/Data>)/, '$1AAAAAAAAAAAAAAAAAAAAAA==$2');
      expect(forged).toContain('IMEI:990000000000011');
      expect(forged).toContain('AAAAAAAAAAAAAAAAAAAAAA==');
      const res = await http.post(url, Buffer.from(forged), headers);
      const reply = parseSyncMl(res.body, res.headers['content-type'] ?? '').message;
      const hdr = reply.body.find((c) => c.kind === 'Status' && c.cmd === 'SyncHdr');
      forgedHeaderStatus = hdr?.kind === 'Status' ? hdr.data : undefined;
    };
    try {
      // The forgery rotated the device's nonce, so its own session starts with a challenge.
      expect((await d.runSession()).outcome).toBe('ok');
    } finally {
      interceptor = undefined;
    }
    expect(forgedHeaderStatus).toBe(401);
    const o = await waitFor(() => outcomes.find((x) => x.requestId === requestId), 5_000, requestId);
    expect(o).toMatchObject({ outcome: 'completed', deviceId: d.devId });
  });

  it('still refuses it in the device’s own session when the DevId it reports breaks the policy', async () => {
    const d = rig.fleet.devices[1]!;
    const requestId = `b-guard-${n++}`;
    // Registered for another TAC (99000000): the device reports its own IMEI (TAC 35000000).
    await rig.gw.deviceCommands.submit(d.devId, guardedGet(requestId, 'IMEI:990000000000011'));
    expect((await d.runSession()).outcome).toBe('ok');
    const o = await waitFor(() => outcomes.find((x) => x.requestId === requestId), 5_000, requestId);
    expect(o).toMatchObject({ outcome: 'rejected', deviceId: d.devId, reason: expect.stringMatching(/policy 10/) });
    expect(await rig.gw.deviceCommands.pending(d.devId)).toEqual([]);
  });
});
