import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DeviceAuthRecord } from '../../../src/dm/session/context.js';
import { DIGEST_NONCE_TTL_MS } from '../../../src/dm2/constants.js';
import { Dm2HttpAuth, digestAuthorization } from '../../../src/dm2/http-auth.js';

const auth = new Dm2HttpAuth(crypto.randomBytes(32));
const device = (authType: DeviceAuthRecord['authType']): DeviceAuthRecord => ({
  deviceId: 'IMEI:1',
  authType,
  clientUsername: 'dev1',
  clientPassword: 'secret-1',
  serverId: 'gw',
  serverPassword: 'x',
});
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const digest = (password: string, now: number, uri = '/dm2', algo = 'SHA-256') =>
  digestAuthorization({
    challenge: auth.challenges(device('md5'), 'IMEI:1', now).find((c) => c.includes(`algorithm=${algo}`))!,
    method: 'POST',
    uri,
    username: 'dev1',
    password,
  });

describe('DM 2.0 HTTP authentication', () => {
  it('accepts Basic with the client credentials of a basic device', () => {
    expect(auth.verify(basic('dev1', 'secret-1'), 'POST', '/dm2', device('basic'), 0)).toEqual({ ok: true, scheme: 'basic' });
  });
  it('refuses Basic for a device registered for digest (the password would cross the wire)', () => {
    expect(auth.verify(basic('dev1', 'secret-1'), 'POST', '/dm2', device('md5'), 0)).toEqual({ ok: false, reason: 'scheme-not-allowed' });
  });
  it('refuses a wrong Basic password or user', () => {
    expect(auth.verify(basic('dev1', 'nope'), 'POST', '/dm2', device('basic'), 0)).toMatchObject({ reason: 'wrong-password' });
    expect(auth.verify(basic('dev2', 'secret-1'), 'POST', '/dm2', device('basic'), 0)).toMatchObject({ reason: 'wrong-user' });
  });
  it.each(['SHA-256', 'MD5'])('accepts Digest %s answering our challenge', (algo) => {
    const now = Date.now();
    expect(auth.verify(digest('secret-1', now, '/dm2', algo), 'POST', '/dm2', device('md5'), now)).toEqual({ ok: true, scheme: 'digest' });
  });
  it('refuses Digest with a wrong password, another request-target, or a nonce for another device', () => {
    const now = Date.now();
    expect(auth.verify(digest('nope', now), 'POST', '/dm2', device('md5'), now)).toMatchObject({ reason: 'wrong-password' });
    expect(auth.verify(digest('secret-1', now, '/dm2/s/x'), 'POST', '/dm2', device('md5'), now)).toMatchObject({ reason: 'malformed' });
    expect(auth.verify(digest('secret-1', now), 'POST', '/dm2', { ...device('md5'), deviceId: 'IMEI:2' }, now)).toMatchObject({
      reason: 'bad-nonce',
    });
  });
  it('answers an expired nonce with the right password as stale', () => {
    const then = Date.now();
    expect(auth.verify(digest('secret-1', then), 'POST', '/dm2', device('md5'), then + DIGEST_NONCE_TTL_MS + 1)).toMatchObject({
      reason: 'stale-nonce',
    });
  });
  it('treats a missing or unknown-scheme header as missing/malformed', () => {
    expect(auth.verify(undefined, 'POST', '/dm2', device('md5'), 0)).toMatchObject({ reason: 'missing' });
    expect(auth.verify('Bearer x', 'POST', '/dm2', device('md5'), 0)).toMatchObject({ reason: 'malformed' });
  });
});
