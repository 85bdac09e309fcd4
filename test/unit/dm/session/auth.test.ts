import { describe, expect, it } from 'vitest';
import { formatHmacHeader, hmacMac, userDigest } from '../../../../src/dm/auth/credentials.js';
import { encodeSyncMl } from '../../../../src/dm/codec/index.js';
import type { SyncMlMessage } from '../../../../src/dm/codec/types.js';
import { signReply } from '../../../../src/dm/session/auth-step.js';
import type { DeviceAuthRecord } from '../../../../src/dm/session/context.js';
import { handleClientMessage } from '../../../../src/dm/session/engine.js';
import {
  alert,
  clientMessage,
  context,
  DEVICE_ID,
  Driver,
  devInfoReplace,
  MD5_DEVICE,
  md5CredFor,
  NONCE_B64,
  nonceSource,
  ofType,
  pkg1,
  sseRequest,
  status,
  VECTOR_CRED,
} from './helpers.js';

const NEW_NONCE = Buffer.from('fresh-nonce-0001').toString('base64');
const NEXT_NONCE = Buffer.from('fresh-nonce-0002').toString('base64');

function pkg1WithoutCred(msgId = 1) {
  return clientMessage({ msgId, body: [alert(1, 1201), devInfoReplace(2)] });
}

describe('client authentication (md5 / basic)', () => {
  it('answers 407 with a Chal of the current nonce when Cred is missing, only Statuses, and stores nothing', () => {
    const out = handleClientMessage(
      undefined,
      pkg1WithoutCred(),
      context({ newNonce: nonceSource(NEW_NONCE), pending: [sseRequest] }),
    );
    expect(out.reply.body).toEqual([
      expect.objectContaining({
        cmdRef: 0,
        data: 407,
        chal: { meta: { type: 'syncml:auth-md5', format: 'b64', nextNonce: NONCE_B64 } },
      }),
      expect.objectContaining({ cmd: 'Alert', cmdRef: 1, data: 407 }),
      expect.objectContaining({ cmd: 'Replace', cmdRef: 2, data: 407 }),
    ]);
    expect(out.reply.final).toBe(true);
    expect(out.reply.header.cred).toBeUndefined();
    expect(ofType(out.effects, 'client-nonce-issued')).toEqual([]);
    expect(ofType(out.effects, 'auth-challenge')).toMatchObject([{ status: 407, reason: 'missing-credentials' }]);
    expect(ofType(out.effects, 'devinfo')).toEqual([]);
    expect(ofType(out.effects, 'requests-taken')).toEqual([]);
    expect(out.state).toBeUndefined();
  });

  it('issues a new nonce in the Chal only when the device has none', () => {
    const out = handleClientMessage(
      undefined,
      pkg1WithoutCred(),
      context({ device: { ...MD5_DEVICE, clientNonce: '' }, newNonce: nonceSource(NEW_NONCE) }),
    );
    expect(out.reply.body[0]).toMatchObject({ data: 407, chal: { meta: { nextNonce: NEW_NONCE } } });
    expect(ofType(out.effects, 'client-nonce-issued').map((e) => e.nonce)).toEqual([NEW_NONCE]);
    expect(out.state).toBeUndefined();
  });

  it('accepts the resent Pkg1 with the challenged nonce (212), numbers its reply on, and then sends commands', () => {
    const driver = new Driver(context({ newNonce: nonceSource(NEW_NONCE, NEXT_NONCE), pending: [sseRequest] }));
    const challenged = driver.send(pkg1WithoutCred());
    expect(challenged.reply.header.msgId).toBe(1);
    const out = driver.send(pkg1({ msgId: 2, cred: md5CredFor(NONCE_B64) }));
    expect(out.reply.header.msgId).toBe(2);
    expect(out.reply.body[0]).toMatchObject({ cmdRef: 0, msgRef: 2, data: 212 });
    expect(out.reply.body[0]).toMatchObject({ chal: { meta: { nextNonce: NEW_NONCE } } });
    expect(out.reply.body.some((c) => c.kind === 'Sequence')).toBe(true);
    expect(ofType(out.effects, 'session-started')).toHaveLength(1);
  });

  it('answers 401 with a Chal of the current nonce when Cred is wrong, and stores nothing', () => {
    const out = handleClientMessage(
      undefined,
      pkg1({ cred: md5CredFor(NONCE_B64, 'Bruce2', 'wrong') }),
      context({ newNonce: nonceSource(NEW_NONCE) }),
    );
    expect(out.reply.body[0]).toMatchObject({ data: 401, chal: { meta: { nextNonce: NONCE_B64 } } });
    expect(out.reply.body.slice(1).every((c) => c.kind === 'Status' && c.data === 401)).toBe(true);
    expect(ofType(out.effects, 'auth-challenge')).toMatchObject([{ status: 401, reason: 'bad-credentials' }]);
    expect(ofType(out.effects, 'client-nonce-issued')).toEqual([]);
    expect(out.state).toBeUndefined();
  });

  it('challenges every failed retry alike: Status-only with Final, nothing stored, no commands ever', () => {
    const driver = new Driver(context({ newNonce: nonceSource(NEW_NONCE), pending: [sseRequest] }));
    driver.send(pkg1({ cred: md5CredFor(NONCE_B64, 'Bruce2', 'wrong') }));
    const out = driver.send(pkg1({ msgId: 2, cred: md5CredFor(NONCE_B64, 'Bruce2', 'still-wrong') }));
    expect(out.reply.body[0]).toMatchObject({ data: 401, chal: { meta: { nextNonce: NONCE_B64 } } });
    expect(out.reply.body.every((c) => c.kind === 'Status')).toBe(true);
    expect(out.reply.final).toBe(true);
    expect(out.state).toBeUndefined();
    expect(ofType(driver.effects, 'requests-taken')).toEqual([]);
    expect(ofType(driver.effects, 'session-started')).toEqual([]);
  });

  it('accepts basic credentials with 212 and no Chal', () => {
    const device: DeviceAuthRecord = { ...MD5_DEVICE, authType: 'basic' };
    const cred = { meta: { type: 'syncml:auth-basic', format: 'b64' }, data: 'QnJ1Y2UyOk9oQmVoYXZl' };
    const out = handleClientMessage(undefined, pkg1({ cred }), context({ device }));
    expect(out.reply.body[0]).toMatchObject({ data: 212 });
    expect(out.reply.body[0]).not.toHaveProperty('chal');
    expect(ofType(out.effects, 'client-nonce-issued')).toEqual([]);
    // Our basic Cred goes to the device in the first reply.
    expect(out.reply.header.cred).toEqual({
      meta: { type: 'syncml:auth-basic', format: 'b64' },
      data: Buffer.from('dm.example.com:server-secret-0123456789').toString('base64'),
    });
  });

  it('does not ask for Cred again after 212', () => {
    const driver = new Driver(context({ pending: [sseRequest] }));
    driver.send(pkg1());
    const out = driver.send(clientMessage({ msgId: 2, body: [status(1, 1, 0, 'SyncHdr', 200)] }));
    expect(out.reply.body[0]).toMatchObject({ data: 200 });
    expect(out.reply.body[0]).not.toHaveProperty('chal');
  });
});

describe('client authentication (HMAC)', () => {
  const device: DeviceAuthRecord = {
    ...MD5_DEVICE,
    authType: 'hmac',
    serverNonce: Buffer.from('server-nonce').toString('base64'),
  };
  const digest = userDigest('Bruce2', 'OhBehave');

  function signed(msg: SyncMlMessage, nonceB64: string) {
    const body = encodeSyncMl(msg, 'xml');
    const mac = hmacMac(digest, Buffer.from(nonceB64, 'base64'), body);
    return { header: formatHmacHeader({ username: 'Bruce2', mac }), body };
  }

  it('accepts a correct MAC with 200 and a new NextNonce on every message', () => {
    const driver = new Driver(context({ device, newNonce: nonceSource(NEW_NONCE, NEXT_NONCE), pending: [sseRequest] }));
    const first = clientMessage({ msgId: 1, body: [alert(1, 1201), devInfoReplace(2)] });
    const out1 = driver.send(first, { hmac: signed(first, device.clientNonce!) });
    expect(out1.reply.body[0]).toMatchObject({
      data: 200,
      chal: { meta: { type: 'syncml:auth-MAC', format: 'b64', nextNonce: NEW_NONCE } },
    });
    expect(out1.reply.header.cred).toBeUndefined();
    expect(out1.replySigner).toEqual({
      username: 'dm.example.com',
      userDigest: userDigest('dm.example.com', 'server-secret-0123456789'),
      nonce: device.serverNonce,
    });
    expect(signReply(out1.replySigner!, Buffer.from('x'))).toMatch(/^algorithm=MD5, username="dm.example.com", mac=/);

    const second = clientMessage({ msgId: 2, body: [status(1, 1, 0, 'SyncHdr', 212)] });
    const out2 = driver.send(second, { hmac: signed(second, NEW_NONCE) });
    expect(out2.reply.body[0]).toMatchObject({ data: 200, chal: { meta: { nextNonce: NEXT_NONCE } } });
    expect(ofType(driver.effects, 'client-nonce-issued').map((e) => e.nonce)).toEqual([NEW_NONCE, NEXT_NONCE]);
  });

  it('answers a tampered body with 401 and a Chal, and processes none of it', () => {
    const msg = clientMessage({ msgId: 1, body: [alert(1, 1201), devInfoReplace(2)] });
    const { header } = signed(msg, device.clientNonce!);
    const tampered = Buffer.from(encodeSyncMl(msg, 'xml').toString('utf8').replace('Acme', 'Evil'));
    const out = handleClientMessage(
      undefined,
      msg,
      context({ device, newNonce: nonceSource(NEW_NONCE), hmac: { header, body: tampered } }),
    );
    expect(out.reply.body[0]).toMatchObject({ data: 401, chal: { meta: { type: 'syncml:auth-MAC', nextNonce: device.clientNonce } } });
    expect(ofType(out.effects, 'devinfo')).toEqual([]);
    expect(ofType(out.effects, 'client-nonce-issued')).toEqual([]);
    expect(out.state).toBeUndefined();
  });

  it('answers 407 when the x-syncml-hmac header is missing', () => {
    const msg = clientMessage({ msgId: 1, body: [alert(1, 1201)] });
    const out = handleClientMessage(undefined, msg, context({ device }));
    expect(out.reply.body[0]).toMatchObject({ data: 407 });
  });
});

describe('server credentials', () => {
  const device: DeviceAuthRecord = { ...MD5_DEVICE, serverNonce: Buffer.from('old').toString('base64') };
  const newServerNonce = Buffer.from('device-issued').toString('base64');

  it('stores the nonce of a 401 Chal, resends Cred with it and resends the refused commands', () => {
    const driver = new Driver(context({ device, pending: [sseRequest] }));
    const first = driver.send(pkg1());
    const firstCred = first.reply.header.cred?.data;
    const refusal = clientMessage({
      msgId: 2,
      body: [
        status(1, 1, 0, 'SyncHdr', 401, {
          chal: { meta: { type: 'syncml:auth-md5', format: 'b64', nextNonce: newServerNonce } },
        }),
        status(2, 1, 4, 'Sequence', 401),
      ],
    });
    const out = driver.send(refusal);
    expect(ofType(out.effects, 'server-nonce-issued')).toMatchObject([{ nonce: newServerNonce }]);
    expect(ofType(out.effects, 'server-auth-rejected')).toMatchObject([{ status: 401, gaveUp: false }]);
    expect(ofType(out.effects, 'command-result')).toEqual([]);
    expect(out.reply.header.cred?.data).toBeDefined();
    expect(out.reply.header.cred?.data).not.toBe(firstCred);
    expect(out.reply.body.find((c) => c.kind === 'Sequence')).toMatchObject({ cmdId: 2 });

    // 212 from the device: no more Cred.
    const ok = driver.send(
      clientMessage({
        msgId: 3,
        body: [
          status(1, 2, 0, 'SyncHdr', 212),
          status(2, 2, 2, 'Sequence', 200),
          status(3, 2, 3, 'Add', 200),
          status(4, 2, 4, 'Add', 200),
          status(5, 2, 4, 'Add', 200),
          status(6, 2, 5, 'Exec', 200),
        ],
      }),
    );
    expect(ok.reply.header.cred).toBeUndefined();
    expect(ofType(ok.effects, 'command-result')).toHaveLength(1);
  });

  it('ends the session when the device refuses our credentials twice', () => {
    const driver = new Driver(context({ device, pending: [sseRequest] }));
    driver.send(pkg1());
    driver.send(clientMessage({ msgId: 2, body: [status(1, 1, 0, 'SyncHdr', 401)] }));
    const out = driver.send(clientMessage({ msgId: 3, body: [status(1, 2, 0, 'SyncHdr', 401)] }));
    expect(out.closed).toBe(true);
    expect(ofType(out.effects, 'session-ended')).toMatchObject([{ reason: 'server-auth-failed' }]);
    expect(ofType(out.effects, 'command-undelivered')).toMatchObject([
      { requestId: 'req-sse-1', reason: 'server-auth-failed' },
    ]);
  });
});

it('answers a device that is not registered with 403, no commands and no session', () => {
  const out = handleClientMessage(undefined, pkg1(), context({ device: undefined, pending: [sseRequest] }));
  expect(out.reply.body).toEqual([expect.objectContaining({ cmdRef: 0, data: 403 })]);
  expect(out.reply.final).toBe(true);
  expect(out.state).toBeUndefined();
  expect(out.effects).toEqual([{ type: 'unknown-device', sessionId: '1A', deviceId: DEVICE_ID }]);
  // Our credentials are never sent to it.
  expect(out.reply.header.cred).toBeUndefined();
  void VECTOR_CRED;
});

describe('a session answering a trigger signed with the resync nonce (notes §4)', () => {
  const RESYNC = Buffer.alloc(4);
  const resyncCred = md5CredFor(RESYNC.toString('base64'));
  const device: DeviceAuthRecord = { ...MD5_DEVICE, serverNonce: Buffer.from('one the device lost').toString('base64') };
  const serverInitiated = (msgId: number, cred = resyncCred) =>
    clientMessage({ msgId, cred, locName: 'Bruce2', body: [alert(1, 1200), devInfoReplace(2)] });

  it('accepts Cred on the resync nonce in Pkg1 (212 with a fresh nonce), sends the commands, and signs on that nonce', () => {
    const driver = new Driver(context({ device, resyncNonce: RESYNC, newNonce: nonceSource(NEW_NONCE), pending: [sseRequest] }));
    const out = driver.send(serverInitiated(1));
    expect(out.reply.body[0]).toMatchObject({ cmdRef: 0, data: 212, chal: { meta: { nextNonce: NEW_NONCE } } });
    expect(ofType(out.effects, 'resync-nonce-used')).toHaveLength(1);
    expect(ofType(out.effects, 'session-started')).toHaveLength(1);
    expect(ofType(out.effects, 'client-nonce-issued').map((e) => e.nonce)).toEqual([NEW_NONCE]);
    expect(out.reply.body.some((c) => c.kind === 'Sequence')).toBe(true);
    // Our Cred on the same nonce: the device verified our trigger on it, and holds no server nonce of ours.
    expect(out.reply.header.cred?.data).toBe(md5CredFor(RESYNC.toString('base64'), 'dm.example.com', 'server-secret-0123456789').data);
  });

  it('still accepts the device nonce, and says nothing of resync then', () => {
    const driver = new Driver(context({ device, resyncNonce: RESYNC, pending: [sseRequest] }));
    const out = driver.send(serverInitiated(1, md5CredFor(NONCE_B64)));
    expect(out.reply.body[0]).toMatchObject({ data: 212 });
    expect(ofType(out.effects, 'resync-nonce-used')).toEqual([]);
    expect(out.reply.header.cred?.data).toBe(md5CredFor(device.serverNonce!, 'dm.example.com', 'server-secret-0123456789').data);
  });

  it('challenges Cred on the resync nonce when no trigger invited it', () => {
    const out = handleClientMessage(undefined, serverInitiated(1), context({ device, newNonce: nonceSource(NEW_NONCE) }));
    expect(out.reply.body[0]).toMatchObject({ data: 401, chal: { meta: { nextNonce: NONCE_B64 } } });
    expect(ofType(out.effects, 'resync-nonce-used')).toEqual([]);
  });
});
