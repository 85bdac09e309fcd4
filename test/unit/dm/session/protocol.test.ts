import { describe, expect, it } from 'vitest';
import { handleClientMessage } from '../../../../src/dm/session/engine.js';
import { normalizeAlertType } from '../../../../src/dm/session/generic-alert.js';
import { fromStoredMessage, type StoredMessage, toStoredMessage } from '../../../../src/dm/session/state.js';
import {
  alert,
  clientMessage,
  context,
  DEVICE_ID,
  Driver,
  ofType,
  pkg1,
  SERVER_URI,
  sseRequest,
  status,
  viaJson,
} from './helpers.js';

const ids = { sessionId: '1A', deviceId: DEVICE_ID };

describe('SyncHdr checks', () => {
  it('answers a repeated MsgID with the same reply again and leaves the session as it was', () => {
    const driver = new Driver(context({ pending: [sseRequest] }));
    const first = driver.send(pkg1());
    const before = viaJson(driver.state);
    const again = driver.send(pkg1());
    expect(again.reply).toEqual(first.reply);
    expect(again.effects).toEqual([{ type: 'retransmission', ...ids, msgId: 1 }]);
    expect(driver.state).toEqual(before);
  });

  it('answers a wrong SessionID with header Status 400 and no commands, without touching the session', () => {
    const driver = new Driver(context({ pending: [sseRequest] }));
    driver.send(pkg1());
    const before = viaJson(driver.state)!;
    const out = driver.send(clientMessage({ msgId: 2, sessionId: '1B', body: [status(1, 1, 0, 'SyncHdr', 200)] }));
    expect(out.reply.body).toEqual([
      {
        kind: 'Status',
        cmdId: 1,
        msgRef: 2,
        cmdRef: 0,
        cmd: 'SyncHdr',
        targetRefs: [SERVER_URI],
        sourceRefs: [DEVICE_ID],
        data: 400,
        items: [],
      },
    ]);
    expect(out.reply.final).toBe(true);
    expect(out.effects).toMatchObject([{ type: 'protocol-error', reason: 'session-id-mismatch', msgId: 2 }]);
    // Only our MsgID counter moved on.
    expect(driver.state).toEqual({ ...before, server: { ...before.server, nextMsgId: before.server.nextMsgId + 1 } });

    // The session goes on normally afterwards.
    const next = driver.send(clientMessage({ msgId: 2, body: [status(1, 1, 0, 'SyncHdr', 200)] }));
    expect(next.reply.body[0]).toMatchObject({ data: 200 });
  });

  it('answers a MsgID gap with 400 and a protocol-error effect', () => {
    const driver = new Driver(context());
    driver.send(clientMessage({ msgId: 1, body: [alert(1, 1201)], final: false, cred: pkg1().header.cred! }));
    const out = driver.send(clientMessage({ msgId: 4, body: [] }));
    expect(out.reply.body).toEqual([expect.objectContaining({ cmdRef: 0, data: 400 })]);
    expect(ofType(out.effects, 'protocol-error')).toMatchObject([{ reason: 'msgid-gap' }]);
    expect(driver.state?.client.lastMsgId).toBe(1);
  });

  it('answers an unsupported VerProto with 513 and VerDTD with 505', () => {
    const msg = pkg1();
    const proto = handleClientMessage(undefined, { ...msg, header: { ...msg.header, verProto: 'DM/1.1' } }, context());
    expect(proto.reply.body).toEqual([expect.objectContaining({ data: 513 })]);
    expect(proto.state).toBeUndefined();
    const dtd = handleClientMessage(undefined, { ...msg, header: { ...msg.header, verDtd: '1.1' } }, context());
    expect(dtd.reply.body).toEqual([expect.objectContaining({ data: 505 })]);
    expect(ofType(dtd.effects, 'protocol-error')).toMatchObject([{ reason: 'unsupported-version' }]);
  });

  it('refuses to start a session without Alert 1200/1201', () => {
    const out = handleClientMessage(undefined, clientMessage({ msgId: 3, body: [status(1, 2, 0, 'SyncHdr', 200)] }), context());
    expect(out.reply.body).toEqual([expect.objectContaining({ data: 400 })]);
    expect(out.state).toBeUndefined();
    expect(ofType(out.effects, 'protocol-error')).toMatchObject([{ reason: 'no-session' }]);
  });

  it('answers a Source that is not the session device with 400', () => {
    const driver = new Driver(context());
    driver.send(pkg1());
    const msg = clientMessage({ msgId: 2, body: [] });
    msg.header.source.locUri = 'IMEI:000000000000000';
    const out = driver.send(msg);
    expect(out.reply.body).toEqual([expect.objectContaining({ data: 400 })]);
    expect(ofType(out.effects, 'protocol-error')).toMatchObject([{ reason: 'source-mismatch' }]);
  });
});

describe('session abort (Alert 1223)', () => {
  it('answers the header and the alert only, and marks the unanswered requests undelivered', () => {
    const other = { requestId: 'req-get', commands: [{ verb: 'Get' as const, uri: './DevDetail/FwV' }] };
    const driver = new Driver(context({ pending: [sseRequest, other] }));
    driver.send(pkg1());
    const out = driver.send(
      clientMessage({ msgId: 2, body: [status(1, 1, 0, 'SyncHdr', 200), status(2, 1, 4, 'Sequence', 200), alert(3, 1223)] }),
    );
    expect(out.reply.body.map((c) => [c.kind, c.kind === 'Status' ? c.cmdRef : -1, c.kind === 'Status' ? c.data : -1])).toEqual([
      ['Status', 0, 200],
      ['Status', 3, 200],
    ]);
    expect(out.reply.final).toBe(true);
    expect(out.closed).toBe(true);
    expect(ofType(out.effects, 'command-undelivered')).toEqual([
      {
        type: 'command-undelivered',
        ...ids,
        requestId: 'req-sse-1',
        reason: 'session-aborted',
        delivery: 'sent-no-status',
        results: [],
      },
      {
        type: 'command-undelivered',
        ...ids,
        requestId: 'req-get',
        reason: 'session-aborted',
        delivery: 'sent-no-status',
        results: [],
      },
    ]);
    expect(ofType(out.effects, 'session-ended')).toMatchObject([{ reason: 'client-abort' }]);
  });

  it('reports a taken request still waiting for a later message of the package as not-sent', () => {
    const first = { requestId: 'first', commands: [{ verb: 'Replace' as const, uri: './A/B', data: 'x'.repeat(900) }] };
    const second = { requestId: 'second', commands: [{ verb: 'Replace' as const, uri: './A/C', data: 'y'.repeat(900) }] };
    const driver = new Driver(context({ pending: [first, second] }), 2000);
    const out1 = driver.send(pkg1({ maxMsgSize: 2000 }));
    expect(out1.reply.final).toBe(false);
    expect(ofType(out1.effects, 'requests-taken')).toMatchObject([{ requestIds: ['first', 'second'] }]);
    const out = driver.send(clientMessage({ msgId: 2, body: [alert(1, 1223)] }));
    expect(ofType(out.effects, 'command-undelivered').map((e) => [e.requestId, e.delivery])).toEqual([
      ['first', 'sent-no-status'],
      ['second', 'not-sent'],
    ]);
  });
});

describe('alerts from the client', () => {
  it('reports a Generic Alert with a Reversed-Domain-Name prefix with the type stripped, answering 200', () => {
    const driver = new Driver(context());
    const generic = alert(3, 1226, {
      correlator: 'sse-7f41',
      items: [
        {
          source: { locUri: './SSE/job1' },
          meta: { type: 'Reversed-Domain-Name: org.openmobilealliance.dm.singleshotexec ', format: 'int', mark: 'critical' },
          data: '401',
        },
        { meta: { type: 'Reversed-Domain-Name:com.example.unknown', format: 'chr' }, data: 'x' },
      ],
    });
    const out = driver.send(pkg1({ extra: [generic] }));
    expect(out.reply.body[3]).toMatchObject({ kind: 'Status', cmd: 'Alert', cmdRef: 3, data: 200 });
    expect(ofType(out.effects, 'generic-alert')).toEqual([
      {
        type: 'generic-alert',
        ...ids,
        alertType: 'org.openmobilealliance.dm.singleshotexec',
        rawType: 'Reversed-Domain-Name: org.openmobilealliance.dm.singleshotexec ',
        source: './SSE/job1',
        format: 'int',
        mark: 'critical',
        data: '401',
        correlator: 'sse-7f41',
      },
      {
        type: 'generic-alert',
        ...ids,
        alertType: 'com.example.unknown',
        rawType: 'Reversed-Domain-Name:com.example.unknown',
        format: 'chr',
        mark: 'informational',
        data: 'x',
        correlator: 'sse-7f41',
      },
    ]);
  });

  it('reports a Generic Alert in Pkg3 as well', () => {
    const driver = new Driver(context({ pending: [{ requestId: 'r', commands: [{ verb: 'Get', uri: './A' }] }] }));
    driver.send(pkg1());
    const out = driver.send(
      clientMessage({
        msgId: 2,
        body: [
          status(1, 1, 0, 'SyncHdr', 200),
          status(2, 1, 4, 'Get', 404),
          alert(3, 1226, { items: [{ meta: { type: 'Content-Type: org.example.x' }, data: 'y' }] }),
        ],
      }),
    );
    expect(ofType(out.effects, 'generic-alert')).toMatchObject([{ alertType: 'org.example.x', data: 'y' }]);
    expect(out.reply.body[1]).toMatchObject({ cmd: 'Alert', cmdRef: 3, data: 200 });
  });

  it('answers a client event (1224) with 200 and reports it', () => {
    const event = alert(3, 1224, {
      items: [{ meta: { type: 'com.microsoft/MDM/LoginStatus', format: 'chr' }, data: 'user' }],
    });
    const out = handleClientMessage(undefined, pkg1({ extra: [event] }), context());
    expect(out.reply.body[3]).toMatchObject({ cmdRef: 3, data: 200 });
    expect(ofType(out.effects, 'client-event')).toEqual([
      {
        type: 'client-event',
        ...ids,
        items: [
          {
            eventType: 'com.microsoft/MDM/LoginStatus',
            rawType: 'com.microsoft/MDM/LoginStatus',
            format: 'chr',
            data: 'user',
          },
        ],
      },
    ]);
  });

  it('answers unknown alert codes and client UI alerts with 406, and commands a client may not send with 405', () => {
    const out = handleClientMessage(
      undefined,
      pkg1({
        extra: [alert(3, 1299), alert(4, 1100), { kind: 'Get', cmdId: 5, items: [{ target: { locUri: './X' } }] }],
      }),
      context(),
    );
    expect(out.reply.body.slice(3).map((c) => (c.kind === 'Status' ? [c.cmdRef, c.data] : []))).toEqual([
      [3, 406],
      [4, 406],
      [5, 405],
    ]);
  });
});

describe('normalizeAlertType', () => {
  it.each([
    ['Reversed-Domain-Name: org.openmobilealliance.dm.firmwareupdate.download', 'org.openmobilealliance.dm.firmwareupdate.download'],
    ['Reversed-Domain-Name:com.microsoft:mdm.unenrollment.userrequest', 'com.microsoft:mdm.unenrollment.userrequest'],
    ['content-type:  text/plain ', 'text/plain'],
    ['  org.openmobilealliance.dm.singleshotexec  ', 'org.openmobilealliance.dm.singleshotexec'],
  ])('turns %j into %j', (raw, type) => {
    expect(normalizeAlertType(raw)).toBe(type);
  });
});

describe('session state', () => {
  it('leaves the state a step was given as it was', () => {
    const driver = new Driver(context({ pending: [sseRequest] }));
    driver.send(pkg1());
    const prev = viaJson(driver.state)!;
    const untouched = structuredClone(prev);
    const out = handleClientMessage(prev, clientMessage({ msgId: 2, body: [status(1, 1, 0, 'SyncHdr', 200)] }), context());
    expect(out.state).not.toBe(prev);
    expect(prev).toEqual(untouched);
  });

  it('stores a reply as is when it holds no binary data, and binary data as base64 through JSON', () => {
    const plain = clientMessage({ msgId: 1, body: [alert(1, 1201)] });
    expect(toStoredMessage(plain).message).toBe(plain);
    const binary = clientMessage({
      msgId: 2,
      body: [{ kind: 'Replace', cmdId: 1, items: [{ target: { locUri: './A' }, data: Buffer.from([0, 1, 2]) }] }],
    });
    const stored = JSON.parse(JSON.stringify(toStoredMessage(binary))) as StoredMessage;
    expect(JSON.stringify(stored)).toContain('"$base64":"AAEC"');
    expect(fromStoredMessage(stored)).toEqual(binary);
  });
});
