import { describe, expect, it } from 'vitest';
import type { Cred } from '../../../../src/dm/codec/types.js';
import {
  AUTH_BASIC,
  AUTH_MD5,
  basicCredential,
  formatHmacHeader,
  hmacMac,
  md5Credential,
  userDigest,
} from '../../../../src/dm/auth/credentials.js';
import {
  buildChallenge,
  type StoredClientCredential,
  type VerifyInput,
  verifyClientCredential,
} from '../../../../src/dm/auth/verify.js';

const USER = 'Bruce2';
const DIGEST = userDigest(USER, 'OhBehave');
const NONCE = Buffer.from([0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0]);
const BODY = Buffer.from('<SyncML xmlns="SYNCML:SYNCML1.2">…</SyncML>');

const md5Stored: StoredClientCredential = { authType: 'md5', username: USER, userDigest: DIGEST };
const md5Cred = (data: string): Cred => ({ meta: { type: AUTH_MD5, format: 'b64' }, data });

function verify(over: Partial<VerifyInput>) {
  return verifyClientCredential({ stored: md5Stored, nonce: NONCE, cred: undefined, challengesSent: 0, ...over });
}

describe('verifyClientCredential: md5', () => {
  it('authenticates the session (212) with a correct digest on the issued nonce', () => {
    const v = verify({ cred: md5Cred(md5Credential(DIGEST, NONCE)), locName: USER });
    expect(v).toEqual({ ok: true, level: 'session', status: 212, nonceUsed: 'current' });
  });

  it('answers 407 and challenges when credentials are missing', () => {
    expect(verify({})).toEqual({ ok: false, status: 407, reason: 'missing-credentials', rechallenge: true });
  });

  it('answers 401 for a wrong digest', () => {
    const v = verify({ cred: md5Cred(md5Credential(userDigest(USER, 'wrong'), NONCE)) });
    expect(v).toMatchObject({ ok: false, status: 401, reason: 'bad-credentials' });
  });

  it('answers 401 for a digest computed on another nonce', () => {
    const v = verify({ cred: md5Cred(md5Credential(DIGEST, Buffer.from('stale'))) });
    expect(v).toMatchObject({ ok: false, status: 401, reason: 'bad-credentials' });
  });

  it('answers 401 for a credential of the wrong type', () => {
    const v = verify({ cred: { meta: { type: AUTH_BASIC }, data: basicCredential(USER, 'OhBehave') } });
    expect(v).toMatchObject({ ok: false, status: 401, reason: 'wrong-type' });
  });

  it('answers 401 when LocName names another user', () => {
    const v = verify({ cred: md5Cred(md5Credential(DIGEST, NONCE)), locName: 'Mallory' });
    expect(v).toMatchObject({ ok: false, status: 401, reason: 'wrong-user' });
  });

  it('answers 401 and re-challenges when no nonce was ever issued', () => {
    const v = verify({ nonce: undefined, cred: md5Cred(md5Credential(DIGEST, NONCE)) });
    expect(v).toEqual({ ok: false, status: 401, reason: 'no-nonce-issued', rechallenge: true });
  });

  it('derives the digest from a stored password', () => {
    const v = verify({
      stored: { authType: 'md5', username: USER, password: 'OhBehave' },
      cred: md5Cred(md5Credential(DIGEST, NONCE)),
    });
    expect(v.ok).toBe(true);
  });

  it('accepts the fallback (stale or resync) nonce and says so, so the caller rotates it', () => {
    const zero = Buffer.alloc(4);
    const v = verify({ fallbackNonce: zero, cred: md5Cred(md5Credential(DIGEST, zero)) });
    expect(v).toEqual({ ok: true, level: 'session', status: 212, nonceUsed: 'fallback' });
  });

  it('allows one more challenge with a fresh nonce, then stops challenging', () => {
    const cred = md5Cred('AAAAAAAAAAAAAAAAAAAAAA==');
    expect(verify({ cred, challengesSent: 1 })).toMatchObject({ status: 401, rechallenge: true });
    expect(verify({ cred, challengesSent: 2 })).toMatchObject({ status: 401, rechallenge: false });
    expect(verify({ cred, challengesSent: 2, maxChallenges: 3 })).toMatchObject({ rechallenge: true });
  });
});

describe('verifyClientCredential: basic', () => {
  const stored: StoredClientCredential = { authType: 'basic', username: USER, password: 'OhBehave' };

  it('authenticates the session with the right user and password', () => {
    const v = verify({ stored, cred: { meta: { type: AUTH_BASIC, format: 'b64' }, data: 'QnJ1Y2UyOk9oQmVoYXZl' } });
    expect(v).toEqual({ ok: true, level: 'session', status: 212, nonceUsed: 'none' });
  });

  it('treats a Cred without Meta Type as basic (the SyncML default)', () => {
    expect(verify({ stored, cred: { data: 'QnJ1Y2UyOk9oQmVoYXZl' } }).ok).toBe(true);
  });

  it('verifies against a stored user digest when no password is stored', () => {
    const v = verify({ stored: { authType: 'basic', username: USER, userDigest: DIGEST }, cred: { data: 'QnJ1Y2UyOk9oQmVoYXZl' } });
    expect(v.ok).toBe(true);
  });

  it('answers 401 for a wrong password', () => {
    const v = verify({ stored, cred: { data: basicCredential(USER, 'nope') } });
    expect(v).toMatchObject({ ok: false, status: 401, reason: 'bad-credentials' });
  });

  it('answers 401 for an md5 credential when basic is configured', () => {
    const v = verify({ stored, cred: md5Cred(md5Credential(DIGEST, NONCE)) });
    expect(v).toMatchObject({ ok: false, status: 401, reason: 'wrong-type' });
  });

  it('answers 407 for an empty credential', () => {
    expect(verify({ stored, cred: { data: '' } })).toMatchObject({ status: 407 });
  });
});

describe('verifyClientCredential: hmac', () => {
  const stored: StoredClientCredential = { authType: 'hmac', username: USER, userDigest: DIGEST };
  const header = (body: Buffer, user = USER) =>
    formatHmacHeader({ username: user, mac: hmacMac(DIGEST, NONCE, body) });

  it('authenticates this message only (200) for a correct mac', () => {
    const v = verify({ stored, hmac: { header: header(BODY), body: BODY } });
    expect(v).toEqual({ ok: true, level: 'message', status: 200, nonceUsed: 'current' });
  });

  it('answers 401 when the body was tampered with', () => {
    const tampered = Buffer.from(BODY);
    tampered[5]! ^= 1;
    const v = verify({ stored, hmac: { header: header(BODY), body: tampered } });
    expect(v).toMatchObject({ ok: false, status: 401, reason: 'bad-credentials' });
  });

  it('answers 407 when the header is missing', () => {
    expect(verify({ stored, hmac: { header: undefined, body: BODY } })).toMatchObject({ status: 407 });
    expect(verify({ stored })).toMatchObject({ status: 407, reason: 'missing-credentials' });
  });

  it('answers 401 wrong-type when a Cred comes instead of the header', () => {
    const v = verify({ stored, cred: md5Cred(md5Credential(DIGEST, NONCE)), hmac: { header: undefined, body: BODY } });
    expect(v).toMatchObject({ status: 401, reason: 'wrong-type' });
  });

  it('answers 401 for a malformed header, another user or another algorithm', () => {
    expect(verify({ stored, hmac: { header: 'garbage', body: BODY } })).toMatchObject({
      status: 401,
      reason: 'malformed-credentials',
    });
    expect(verify({ stored, hmac: { header: header(BODY, 'Mallory'), body: BODY } })).toMatchObject({
      status: 401,
      reason: 'wrong-user',
    });
    const sha = `algorithm=SHA1, username="${USER}", mac=${hmacMac(DIGEST, NONCE, BODY)}`;
    expect(verify({ stored, hmac: { header: sha, body: BODY } })).toMatchObject({
      status: 401,
      reason: 'unsupported-algorithm',
    });
  });
});

describe('buildChallenge', () => {
  it('carries the device scheme, b64 format and the next nonce', () => {
    expect(buildChallenge('md5', 'AAAA')).toEqual({
      meta: { type: 'syncml:auth-md5', format: 'b64', nextNonce: 'AAAA' },
    });
    expect(buildChallenge('hmac', 'AAAA').meta.type).toBe('syncml:auth-MAC');
  });
});
