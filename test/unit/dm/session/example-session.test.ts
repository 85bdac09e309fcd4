import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSyncMl } from '../../../../src/dm/codec/index.js';
import type { Command, SyncMlMessage } from '../../../../src/dm/codec/types.js';
import { handleClientMessage } from '../../../../src/dm/session/engine.js';
import { standardTree } from '../../simulator/fixtures.js';
import {
  clientMessage,
  context,
  DEVICE_ID,
  Driver,
  MD5_DEVICE,
  ofType,
  pkg1,
  SimClient,
  sseRequest,
  status,
  viaJson,
} from './helpers.js';

const exampleB = parseSyncMl(
  readFileSync(new URL('../codec/fixtures/example-b.xml', import.meta.url)),
  'application/vnd.syncml.dm+xml',
).message;

/**
 * Example (b) with each Add's Meta written in its Items instead of the
 * command: common clients read only Item Meta (issue 13).
 */
function withItemMeta(c: Command): Command {
  if (c.kind === 'Sequence' || c.kind === 'Atomic') return { ...c, commands: c.commands.map(withItemMeta) };
  if ((c.kind !== 'Add' && c.kind !== 'Replace') || c.meta === undefined) return c;
  const { meta, ...rest } = c;
  return { ...rest, items: c.items.map((it) => ({ ...it, meta: { ...meta, ...it.meta } })) };
}
const exampleBItemMeta: SyncMlMessage = { ...exampleB, body: exampleB.body.map(withItemMeta) };

describe('notes Example (a) → (b): a client-initiated session scheduling a SingleShotExec', () => {
  it('answers the md5 vector Pkg1 with 212 and sends the queued Sequence as Example (b), Meta in each Item', () => {
    const out = handleClientMessage(undefined, pkg1(), context({ pending: [sseRequest] }));
    expect(out.reply).toEqual(exampleBItemMeta);
    expect(out.closed).toBe(false);
  });

  it('reports DevInfo, the next session nonce, the session start and the taken request', () => {
    const out = handleClientMessage(undefined, pkg1(), context({ pending: [sseRequest] }));
    const ids = { sessionId: '1A', deviceId: DEVICE_ID };
    expect(out.effects).toEqual([
      { type: 'client-nonce-issued', ...ids, nonce: 'LG3iZQhhdmKNHg==' },
      { type: 'session-started', ...ids, initiator: 'client' },
      {
        type: 'devinfo',
        ...ids,
        devId: DEVICE_ID,
        man: 'Acme',
        mod: 'Sim-1',
        dmV: '1.2',
        lang: 'en-US',
        nodes: {
          './DevInfo/DevId': DEVICE_ID,
          './DevInfo/Man': 'Acme',
          './DevInfo/Mod': 'Sim-1',
          './DevInfo/DmV': '1.2',
          './DevInfo/Lang': 'en-US',
        },
      },
      { type: 'requests-taken', ...ids, requestIds: ['req-sse-1'] },
    ]);
  });

  it('maps the Pkg3 statuses back to the request and closes with a Status-only message with Final', () => {
    const driver = new Driver(context({ pending: [sseRequest] }));
    driver.send(pkg1());
    const pkg3 = clientMessage({
      msgId: 2,
      body: [
        status(1, 1, 0, 'SyncHdr', 200),
        status(2, 1, 4, 'Sequence', 200),
        status(3, 1, 5, 'Add', 200, { targetRefs: ['./SSE/job1'] }),
        status(4, 1, 6, 'Add', 200, { targetRefs: ['./SSE/job1/TargetURI'] }),
        status(5, 1, 6, 'Add', 200, { targetRefs: ['./SSE/job1/AtTime'] }),
        status(6, 1, 7, 'Exec', 202, { targetRefs: ['./SSE/job1/Go'] }),
      ],
    });
    const out = driver.send(pkg3, { pending: [sseRequest] });

    expect(ofType(out.effects, 'command-result')).toEqual([
      {
        type: 'command-result',
        sessionId: '1A',
        deviceId: DEVICE_ID,
        requestId: 'req-sse-1',
        containerStatus: 200,
        results: [
          { index: 0, verb: 'Add', uri: './SSE/job1', status: 200 },
          { index: 1, verb: 'Add', uri: './SSE/job1/TargetURI', status: 200 },
          { index: 2, verb: 'Add', uri: './SSE/job1/AtTime', status: 200 },
          { index: 3, verb: 'Exec', uri: './SSE/job1/Go', status: 202 },
        ],
      },
    ]);
    // The request is finished, so passing it again (not yet dequeued) does not resend it.
    expect(out.reply.body.map((c) => c.kind)).toEqual(['Status']);
    expect(out.reply.body[0]).toMatchObject({ cmdRef: 0, msgRef: 2, data: 200 });
    expect(out.reply.final).toBe(true);
    expect(out.reply.header.msgId).toBe(2);
    expect(out.closed).toBe(true);
    expect(ofType(out.effects, 'session-ended')).toEqual([
      { type: 'session-ended', sessionId: '1A', deviceId: DEVICE_ID, reason: 'completed' },
    ]);
    expect(driver.state?.phase).toBe('closed');
  });

  it('runs the whole session against the simulated client, which arms the schedule', () => {
    const tree = standardTree();
    const driver = new Driver(context({ pending: [sseRequest] }));
    const client = new SimClient(tree);
    let out = driver.send(pkg1());
    while (!out.closed) out = driver.send(client.answer(out.reply));
    const [result] = ofType(driver.effects, 'command-result');
    expect(result?.containerStatus).toBe(200);
    expect(result?.results.map((r) => r.status).slice(0, 3)).toEqual([200, 200, 200]);
    expect(tree.read('./SSE/job1/AtTime')?.data).toBe('20250301T020000Z');
    expect(ofType(driver.effects, 'command-undelivered')).toEqual([]);
  });

  it('puts our md5 Cred (server nonce) in the first reply and the ServerID in Source LocName', () => {
    const device = { ...MD5_DEVICE, serverNonce: Buffer.from('srv-nonce').toString('base64') };
    const out = handleClientMessage(undefined, pkg1(), context({ device, respUri: `${'https://dm.example.com/dm'}?s=tok` }));
    expect(out.reply.header.cred?.meta?.type).toBe('syncml:auth-md5');
    expect(out.reply.header.cred?.data).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(out.reply.header.source).toEqual({ locUri: 'https://dm.example.com/dm', locName: 'dm.example.com' });
    expect(out.reply.header.respUri).toBe('https://dm.example.com/dm?s=tok');
  });

  it('keeps a state that survives JSON unchanged', () => {
    const out = handleClientMessage(undefined, pkg1(), context({ pending: [sseRequest] }));
    expect(viaJson(out.state)).toEqual(out.state);
  });
});
