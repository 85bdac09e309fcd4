import { describe, expect, it } from 'vitest';
import {
  formatHmacHeader,
  hmacMac,
  md5Credential,
  userDigest,
} from '../../../../src/dm/auth/credentials.js';
import { verifyClientCredential } from '../../../../src/dm/auth/verify.js';
import { encodedSize, encodeSyncMl, parseSyncMl } from '../../../../src/dm/codec/index.js';
import type {
  AlertCommand,
  Command,
  ItemCommand,
  ResultsCommand,
  StatusCommand,
  SyncMlMessage,
} from '../../../../src/dm/codec/types.js';
import { buildTrigger, parseTrigger, sessionIdToHex } from '../../../../src/dm/notification/package0.js';
import {
  authHeaders,
  type ClientSessionState,
  onServerMessage,
  type SessionDevice,
  startSession,
} from '../../../../src/simulator/client-session.js';
import {
  buildGenericAlert,
  fireSchedule,
  installSseClient,
  type SseSchedule,
} from '../../../../src/simulator/tree/sse.js';
import { add, addNode, alert, DEVICE, exec, get, replace, sequence, standardTree } from '../fixtures.js';
import { answer, md5Chal, SERVER_URL, status } from './fake-server.js';

const NOW = new Date('2025-03-01T00:00:00Z');

function device(overrides: Partial<SessionDevice> = {}, creds: Partial<SessionDevice['credentials']> = {}): SessionDevice {
  return {
    devId: DEVICE.devId,
    tree: standardTree(),
    serverUrl: SERVER_URL,
    credentials: {
      authType: 'md5',
      clientUsername: 'Bruce2',
      clientPassword: 'OhBehave',
      clientNonce: Buffer.from('Nonce'),
      serverId: 'dm.example.com',
      serverPassword: 'server-secret',
      serverNonce: Buffer.from('server-nonce'),
      ...creds,
    },
    encoding: 'xml',
    maxMsgSize: 16384,
    maxObjSize: 1_048_576,
    newNonce: () => Buffer.from('fresh-server-nonce'),
    ...overrides,
  };
}

function clientInitiated(dev: SessionDevice) {
  return startSession({ kind: 'client-initiated', sessionIdHex: '1A' }, dev, NOW);
}

function headerStatusOf(msg: SyncMlMessage): StatusCommand {
  const s = msg.body[0];
  if (s?.kind !== 'Status' || s.cmdRef !== 0) throw new Error('first command is not the header Status');
  return s;
}

function commandsOf<K extends Command['kind']>(msg: SyncMlMessage, kind: K): Extract<Command, { kind: K }>[] {
  return msg.body.filter((c): c is Extract<Command, { kind: K }> => c.kind === kind);
}

describe('client session: Package #1', () => {
  it('builds a client-initiated Package #1 like example (a), with the spec md5 credential', () => {
    const { message, state } = clientInitiated(device());
    const h = message.header;
    expect(h).toMatchObject({
      verDtd: '1.2',
      verProto: 'DM/1.2',
      sessionId: '1A',
      msgId: 1,
      target: { locUri: SERVER_URL },
      source: { locUri: 'IMEI:493005100592800', locName: 'Bruce2' },
      cred: { meta: { type: 'syncml:auth-md5', format: 'b64' }, data: 'Zz6EivR3yeaaENcRN6lpAQ==' },
      meta: { maxMsgSize: 16384, maxObjSize: 1_048_576 },
    });
    expect(message.body[0]).toEqual({ kind: 'Alert', cmdId: 1, data: 1201, items: [] });
    const devInfo = message.body[1] as ItemCommand;
    expect(devInfo.kind).toBe('Replace');
    expect(devInfo.cmdId).toBe(2);
    expect(devInfo.items.map((i) => [i.source?.locUri, i.data])).toEqual([
      ['./DevInfo/DevId', 'IMEI:493005100592800'],
      ['./DevInfo/Man', DEVICE.man],
      ['./DevInfo/Mod', DEVICE.mod],
      ['./DevInfo/DmV', '1.2'],
      ['./DevInfo/Lang', DEVICE.lang],
    ]);
    expect(devInfo.items.every((i) => i.meta?.format === 'chr' && i.meta.type === 'text/plain')).toBe(true);
    expect(message.final).toBe(true);
    expect(state.url).toBe(SERVER_URL);
    // It survives both wire encodings unchanged.
    for (const enc of ['xml', 'wbxml'] as const) {
      const ct = enc === 'xml' ? 'application/vnd.syncml.dm+xml' : 'application/vnd.syncml.dm+wbxml';
      expect(parseSyncMl(encodeSyncMl(message, enc), ct).message).toEqual(message);
    }
  });

  it('sends a basic credential for a basic device', () => {
    const { message } = clientInitiated(device({}, { authType: 'basic' }));
    expect(message.header.cred).toEqual({
      meta: { type: 'syncml:auth-basic', format: 'b64' },
      data: 'QnJ1Y2UyOk9oQmVoYXZl',
    });
  });

  it('answers a Package #0 with Alert 1200 and the trigger session id in hex', () => {
    const trigger = buildTrigger({
      uiMode: 'background',
      initiator: 'server',
      sessionId: 0x00a3,
      serverId: 'dm.example.com',
      serverDigestSecret: { serverId: 'dm.example.com', password: 'server-secret' },
      nonce: Buffer.from('server-nonce'),
    });
    const sessionIdHex = sessionIdToHex(parseTrigger(trigger).sessionId);
    const { message, state } = startSession({ kind: 'server-initiated', sessionIdHex }, device(), NOW);
    expect(message.header.sessionId).toBe('A3');
    expect(state.initiator).toBe('server');
    expect(message.body[0]).toMatchObject({ kind: 'Alert', data: 1200 });
  });

  it('puts queued Generic Alerts after DevInfo', () => {
    const report: AlertCommand = buildGenericAlert(
      { type: 'org.openmobilealliance.dm.singleshotexec', resultCode: 200, source: './SSE/job1', mark: 'informational' },
      0,
    );
    const { message } = clientInitiated(device({ genericAlerts: [report] }));
    expect(message.body[2]).toMatchObject({ kind: 'Alert', cmdId: 3, data: 1226 });
  });
});

describe('client session: authentication', () => {
  it('resends Package #1 with the challenged nonce, the same SessionID and a new MsgID', () => {
    const { state, message } = clientInitiated(device());
    const step = onServerMessage(state, answer(message, { code: 401, chal: md5Chal('N2'), commandCode: 401 }));
    expect(step.done).toBe(false);
    const reply = step.reply!;
    expect(reply.header.sessionId).toBe('1A');
    expect(reply.header.msgId).toBe(2);
    expect(reply.header.cred?.data).toBe(md5Credential(userDigest('Bruce2', 'OhBehave'), Buffer.from('N2')));
    expect(headerStatusOf(reply)).toMatchObject({ msgRef: 1, cmd: 'SyncHdr', data: 200 });
    expect(reply.body.slice(1).map((c) => c.kind)).toEqual(['Alert', 'Replace']);
    expect(reply.final).toBe(true);
    expect(step.events).toContainEqual({ kind: 'client-nonce', nonce: Buffer.from('N2') });
  });

  it('switches to the scheme a challenge names', () => {
    const { state, message } = clientInitiated(device({}, { authType: 'basic' }));
    const step = onServerMessage(state, answer(message, { code: 401, chal: md5Chal('N2') }));
    expect(step.reply?.header.cred?.meta?.type).toBe('syncml:auth-md5');
    expect(step.events).toContainEqual({ kind: 'auth-type', authType: 'md5' });
  });

  it('gives up after the second challenge', () => {
    let { state, message } = clientInitiated(device());
    for (let i = 1; i <= 2; i++) {
      const step = onServerMessage(state, answer(message, { code: 401, chal: md5Chal(`N${i}`), msgId: i }));
      expect(step.done).toBe(false);
      state = step.state;
      message = step.reply!;
    }
    const last = onServerMessage(state, answer(message, { code: 401, chal: md5Chal('N3'), msgId: 3 }));
    expect(last.done).toBe(true);
    expect(last.reply).toBeUndefined();
    expect(last.state.outcome).toBe('auth-failed');
  });

  it('stores the Chal of a 212 as the next nonce and stops sending Cred', () => {
    const { state, message } = clientInitiated(device());
    const step = onServerMessage(
      state,
      answer(message, { code: 212, chal: md5Chal('next-session'), commands: [get(10, './DevInfo/Man')] }),
    );
    expect(step.events).toContainEqual({ kind: 'client-nonce', nonce: Buffer.from('next-session') });
    expect(step.events).toContainEqual({ kind: 'authenticated', level: 'session' });
    const reply = step.reply!;
    expect(reply.header.cred).toBeUndefined();
    expect(headerStatusOf(reply).data).toBe(200);
    const results = commandsOf(reply, 'Results')[0]!;
    expect(results.items[0]).toMatchObject({ source: { locUri: './DevInfo/Man' }, data: DEVICE.man });
    expect(reply.final).toBe(true);
  });

  it('keeps sending Cred after a per-message 200', () => {
    const { state, message } = clientInitiated(device());
    const step = onServerMessage(
      state,
      answer(message, { code: 200, chal: md5Chal('again'), commands: [get(10, './DevInfo/Man')] }),
    );
    expect(step.reply?.header.cred?.data).toBe(md5Credential(userDigest('Bruce2', 'OhBehave'), Buffer.from('again')));
  });

  it('computes x-syncml-hmac over the exact encoded body and sends no Cred', () => {
    const dev = device({}, { authType: 'hmac' });
    const { state, message } = clientInitiated(dev);
    expect(message.header.cred).toBeUndefined();
    const body = encodeSyncMl(message, 'xml');
    const header = authHeaders(state, body)['x-syncml-hmac'];
    const mac = hmacMac(userDigest('Bruce2', 'OhBehave'), Buffer.from('Nonce'), body);
    expect(header).toBe(formatHmacHeader({ username: 'Bruce2', mac }));
    const verify = (bytes: Buffer) =>
      verifyClientCredential({
        stored: { authType: 'hmac', username: 'Bruce2', password: 'OhBehave' },
        nonce: Buffer.from('Nonce'),
        cred: undefined,
        hmac: { header, body: bytes },
        challengesSent: 0,
      });
    expect(verify(body)).toMatchObject({ ok: true, status: 200 });
    const tampered = Buffer.from(body);
    const i = tampered.length - 3;
    tampered[i] = tampered[i]! ^ 1;
    expect(verify(tampered)).toMatchObject({ ok: false, status: 401 });
  });
});

describe('client session: server credentials (SRVCRED)', () => {
  const serverCred = (nonce: string, password = 'server-secret') => ({
    meta: { type: 'syncml:auth-md5', format: 'b64' },
    data: md5Credential(userDigest('dm.example.com', password), Buffer.from(nonce)),
  });

  it('answers a correct server Cred with 212', () => {
    const { state, message } = clientInitiated(device());
    const step = onServerMessage(state, answer(message, { cred: serverCred('server-nonce'), commands: [get(9, './DevInfo/Mod')] }));
    expect(headerStatusOf(step.reply!)).toMatchObject({ data: 212 });
    expect(headerStatusOf(step.reply!).chal).toBeUndefined();
    expect(step.events).toContainEqual({ kind: 'server-authenticated' });
  });

  it('answers a wrong server Cred with 401 and a fresh server nonce, running none of its commands', () => {
    const dev = device();
    const { state, message } = clientInitiated(dev);
    const step = onServerMessage(
      state,
      answer(message, { cred: serverCred('server-nonce', 'wrong'), commands: [replace(9, './SSE', 'x')] }),
    );
    const hs = headerStatusOf(step.reply!);
    expect(hs.data).toBe(401);
    expect(hs.chal?.meta).toEqual({
      type: 'syncml:auth-md5',
      format: 'b64',
      nextNonce: Buffer.from('fresh-server-nonce').toString('base64'),
    });
    expect(step.reply!.body).toHaveLength(1);
    expect(step.events).toContainEqual({ kind: 'server-nonce', nonce: Buffer.from('fresh-server-nonce') });
    expect(step.events).toContainEqual({ kind: 'server-auth-failed', reason: 'bad' });
    // The server retries with the new nonce and is accepted.
    const again = onServerMessage(
      step.state,
      answer(step.reply!, { msgId: 2, cred: serverCred('fresh-server-nonce'), commands: [get(3, './DevInfo/Mod')] }),
    );
    expect(headerStatusOf(again.reply!).data).toBe(212);
  });

  it('challenges a server without Cred with 407 when server credentials are required', () => {
    const { state, message } = clientInitiated(device({ requireServerCred: true }));
    const step = onServerMessage(state, answer(message, { commands: [get(9, './DevInfo/Mod')] }));
    expect(headerStatusOf(step.reply!)).toMatchObject({ data: 407 });
  });

  it('verifies a server x-syncml-hmac, rotating the server nonce with each reply it sends', () => {
    const { state, message } = clientInitiated(device());
    const signed = (msg: SyncMlMessage, nonce: string, password = 'server-secret') => {
      const body = encodeSyncMl(msg, 'xml');
      const mac = hmacMac(userDigest('dm.example.com', password), Buffer.from(nonce), body);
      return { hmacHeader: formatHmacHeader({ username: 'dm.example.com', mac }), body };
    };
    const m1 = answer(message, { code: 200, commands: [get(5, './DevInfo/Mod')] });
    const step = onServerMessage(state, m1, signed(m1, 'server-nonce'));
    const hs = headerStatusOf(step.reply!);
    expect(hs.data).toBe(200);
    expect(hs.chal?.meta).toMatchObject({ type: 'syncml:auth-MAC', nextNonce: Buffer.from('fresh-server-nonce').toString('base64') });
    // The closing message, signed with the new nonce, ends the session without a reply.
    const m2 = answer(step.reply!, { msgId: 2, code: 200 });
    const end = onServerMessage(step.state, m2, signed(m2, 'fresh-server-nonce'));
    expect(end.done).toBe(true);
    expect(end.reply).toBeUndefined();
    expect(end.events.some((e) => e.kind === 'server-nonce')).toBe(false);
    // A wrong MAC is challenged.
    const bad = onServerMessage(state, m1, signed(m1, 'server-nonce', 'wrong'));
    expect(headerStatusOf(bad.reply!).data).toBe(401);
  });

  it('does not check server credentials when told not to', () => {
    const { state, message } = clientInitiated(device({ verifyServerCred: false, requireServerCred: true }));
    const step = onServerMessage(
      state,
      answer(message, { cred: serverCred('server-nonce', 'wrong'), commands: [get(9, './DevInfo/Mod')] }),
    );
    expect(headerStatusOf(step.reply!).data).toBe(200);
    expect(commandsOf(step.reply!, 'Results')).toHaveLength(1);
  });

  it('issues a server nonce when it holds none', () => {
    const { state, message } = clientInitiated(device({}, { serverNonce: Buffer.alloc(0) }));
    const step = onServerMessage(state, answer(message, { commands: [get(9, './DevInfo/Mod')] }));
    const hs = headerStatusOf(step.reply!);
    expect(hs.data).toBe(200);
    expect(hs.chal?.meta.nextNonce).toBe(Buffer.from('fresh-server-nonce').toString('base64'));
  });
});

describe('client session: flow', () => {
  it('ends without a reply when the server closes with Final and nothing to answer', () => {
    const { state, message } = clientInitiated(device());
    const step = onServerMessage(state, answer(message));
    expect(step.done).toBe(true);
    expect(step.reply).toBeUndefined();
    expect(step.state.outcome).toBe('ok');
  });

  it('asks for more with Alert 1222 and no Final while the server package is open', () => {
    const { state, message } = clientInitiated(device());
    const step = onServerMessage(state, answer(message, { final: false, commands: [replace(5, './DevInfo/Man', 'x')] }));
    const reply = step.reply!;
    expect(reply.final).toBe(false);
    expect(reply.body.at(-1)).toMatchObject({ kind: 'Alert', data: 1222 });
    expect(headerStatusOf(reply).cmdId).toBe(1);
  });

  it('posts later messages to the RespURI', () => {
    const { state, message } = clientInitiated(device());
    const step = onServerMessage(
      state,
      answer(message, { respUri: `${SERVER_URL}?s=1A`, commands: [get(5, './DevInfo/Man')] }),
    );
    expect(step.state.url).toBe(`${SERVER_URL}?s=1A`);
    expect(step.reply?.header.target.locUri).toBe(SERVER_URL);
  });

  it('stops at Alert 1223 without answering', () => {
    const { state, message } = clientInitiated(device());
    const step = onServerMessage(state, answer(message, { commands: [alert(5, 1223)] }));
    expect(step.done).toBe(true);
    expect(step.reply).toBeUndefined();
    expect(step.state.outcome).toBe('aborted');
  });

  it('reports 200 for the Generic Alerts the server statused', () => {
    const report = buildGenericAlert(
      { type: 'org.openmobilealliance.dm.singleshotexec', resultCode: 200, source: './SSE/job1', mark: 'informational' },
      0,
    );
    const { state, message } = clientInitiated(device({ genericAlerts: [report] }));
    const step = onServerMessage(state, answer(message));
    expect(step.events).toContainEqual({ kind: 'alert-status', alert: report, status: 200 });
  });

  it('runs an SSE Sequence, then reports its Generic Alert in the next session (example (c))', () => {
    const tree = standardTree();
    tree.define('./FUMO/fw1/Update', { access: ['Get', 'Exec'] });
    const armed: SseSchedule[] = [];
    installSseClient(tree, { root: './SSE', arm: (s) => armed.push(s), utcOffsetMinutes: 0 });
    const dev = device({ tree });
    const first = clientInitiated(dev);
    const seq = sequence(
      4,
      addNode(5, './SSE/job1'),
      add(6, './SSE/job1/TargetURI', './FUMO/fw1/Update'),
      add(7, './SSE/job1/AtTime', '20250301T020000Z'),
      exec(8, './SSE/job1/Go', 'sse-7f41'),
    );
    const step = onServerMessage(first.state, answer(first.message, { commands: [seq] }));
    const statuses = commandsOf(step.reply!, 'Status').slice(1);
    expect(statuses.map((s) => [s.cmd, s.data])).toEqual([
      ['Sequence', 200],
      ['Add', 200],
      ['Add', 200],
      ['Add', 200],
      ['Exec', 200],
    ]);
    expect(step.events).toContainEqual({
      kind: 'tree-modified',
      uris: ['./SSE/job1', './SSE/job1/TargetURI', './SSE/job1/AtTime', './SSE/job1/Go'],
    });
    expect(armed).toHaveLength(1);
    const close = onServerMessage(step.state, answer(step.reply!, { msgId: 2 }));
    expect(close.done).toBe(true);

    const fired = fireSchedule(tree, armed[0]!, new Date('2025-03-01T02:00:00Z'));
    expect(tree.execCount('./FUMO/fw1/Update')).toBe(1);
    const alertCmd = buildGenericAlert(fired.report!, 0);
    const second = startSession({ kind: 'client-initiated', sessionIdHex: '2B' }, { ...dev, genericAlerts: [alertCmd] }, NOW);
    expect(second.message.body[2]).toEqual({
      kind: 'Alert',
      cmdId: 3,
      data: 1226,
      correlator: 'sse-7f41',
      items: [
        {
          source: { locUri: './SSE/job1' },
          meta: { type: 'org.openmobilealliance.dm.singleshotexec', format: 'int', mark: 'informational' },
          data: '200',
        },
      ],
    });
  });
});

describe('client session: the bytes of a measured reply', () => {
  it('hands out the encoding its MaxMsgSize check made when that is the reply as sent', () => {
    const first = clientInitiated(device());
    const step = onServerMessage(first.state, answer(first.message, { maxMsgSize: 16_000, commands: [get(5, './DevInfo/Lang')] }));
    expect(step.reply?.final).toBe(true);
    expect(step.replyBytes?.equals(encodeSyncMl(step.reply!, 'xml'))).toBe(true);
  });

  it('hands out none for a reply the check did not encode as sent: not final, or no MaxMsgSize, or WBXML', () => {
    const open = clientInitiated(device());
    const notFinal = onServerMessage(
      open.state,
      answer(open.message, { maxMsgSize: 16_000, final: false, commands: [replace(5, './DevInfo/Lang', 'fr')] }),
    );
    expect(notFinal.reply?.final).toBe(false);
    expect(notFinal.replyBytes).toBeUndefined();
    const unlimited = clientInitiated(device());
    expect(onServerMessage(unlimited.state, answer(unlimited.message, { commands: [get(5, './DevInfo/Lang')] })).replyBytes).toBeUndefined();
    const wbxml = clientInitiated(device({ encoding: 'wbxml' }));
    expect(
      onServerMessage(wbxml.state, answer(wbxml.message, { maxMsgSize: 16_000, commands: [get(5, './DevInfo/Lang')] })).replyBytes,
    ).toBeUndefined();
  });
});

describe('client session: Large Objects', () => {
  const big = 'The quick brown fox jumps over the lazy dog & co. '.repeat(100); // 5000 bytes

  function bigTree() {
    const tree = standardTree();
    tree.define('./Ext/Big', { data: big, access: ['Get'] });
    return tree;
  }

  it('sends a Results larger than the server MaxMsgSize in MoreData chunks', () => {
    const dev = device({ tree: bigTree() });
    const first = clientInitiated(dev);
    let step = onServerMessage(first.state, answer(first.message, { maxMsgSize: 1500, commands: [get(5, './Ext/Big')] }));
    const chunks: ResultsCommand[] = [];
    let state: ClientSessionState = step.state;
    let serverMsgId = 1;
    for (let i = 0; i < 20 && step.reply; i++) {
      const reply = step.reply;
      expect(encodedSize(reply, 'xml')).toBeLessThanOrEqual(1500);
      expect(headerStatusOf(reply).msgRef).toBe(serverMsgId);
      chunks.push(...commandsOf(reply, 'Results'));
      serverMsgId++;
      state = step.state;
      if (reply.final) {
        step = onServerMessage(state, answer(reply, { msgId: serverMsgId }));
        break;
      }
      // The server has closed its package: it answers with 1222 only, without Final.
      step = onServerMessage(state, answer(reply, { msgId: serverMsgId, final: false, commands: [alert(0, 1222)] }));
    }
    expect(step.done).toBe(true);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks[0]!.items[0]!.meta?.size).toBe(5000);
    expect(chunks.slice(0, -1).every((c) => c.items[0]!.moreData === true && c.cmdRef === chunks[0]!.cmdRef)).toBe(true);
    expect(chunks.at(-1)!.items[0]!.moreData).toBeUndefined();
    expect(chunks.map((c) => c.items[0]!.data).join('')).toBe(big);
  });

  it('answers 413 instead of a Results above the server MaxObjSize', () => {
    const dev = device({ tree: bigTree() });
    const first = clientInitiated(dev);
    const step = onServerMessage(first.state, answer(first.message, { maxObjSize: 1000, commands: [get(5, './Ext/Big')] }));
    const reply = step.reply!;
    expect(commandsOf(reply, 'Results')).toHaveLength(0);
    expect(commandsOf(reply, 'Status').find((s) => s.cmd === 'Get')?.data).toBe(413);
  });

  it('buffers incoming chunks with 213 and commits on the last', () => {
    const tree = standardTree();
    const dev = device({ tree });
    const first = clientInitiated(dev);
    const chunk1 = add(5, './Ext/Blob', 'hello ', { format: 'chr', size: 11 });
    chunk1.items[0]!.moreData = true;
    const step1 = onServerMessage(first.state, answer(first.message, { final: false, commands: [chunk1] }));
    const s1 = commandsOf(step1.reply!, 'Status').find((s) => s.cmd === 'Add');
    expect(s1?.data).toBe(213);
    expect(step1.reply!.body.at(-1)).toMatchObject({ kind: 'Alert', data: 1222 });
    const step2 = onServerMessage(
      step1.state,
      answer(step1.reply!, { msgId: 2, commands: [add(3, './Ext/Blob', 'world', { format: 'chr' })] }),
    );
    expect(commandsOf(step2.reply!, 'Status').find((s) => s.cmd === 'Add')?.data).toBe(200);
    expect(tree.read('./Ext/Blob')?.data).toBe('hello world');
  });
});

describe('client session: replies', () => {
  it('answers every server message with a header Status first', () => {
    const { state, message } = clientInitiated(device());
    const step = onServerMessage(state, answer(message, { commands: [get(5, './DevInfo/DevId'), get(6, './Nope')] }));
    const reply = step.reply!;
    expect(headerStatusOf(reply)).toMatchObject({
      cmdId: 1,
      msgRef: 1,
      targetRefs: ['IMEI:493005100592800'],
      sourceRefs: [SERVER_URL],
    });
    expect(reply.body.map((c) => c.cmdId)).toEqual(reply.body.map((_, i) => i + 1));
    expect(commandsOf(reply, 'Status').map((s) => s.data)).toEqual([200, 200, 404]);
    expect(status(1, 0, 'SyncHdr', 200).cmd).toBe('SyncHdr');
  });
});
