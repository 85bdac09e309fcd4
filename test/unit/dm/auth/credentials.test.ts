import { describe, expect, it } from 'vitest';
import {
  AUTH_BASIC,
  AUTH_HMAC,
  AUTH_MD5,
  AUTH_META_TYPE,
  authTypeFromMeta,
  basicCredential,
  decodeNonce,
  hmacMac,
  md5B64,
  md5Credential,
  newNonce,
  parseBasicCredential,
  timingSafeEqualString,
  userDigest,
} from '../../../../src/dm/auth/credentials.js';

describe('basic credential', () => {
  it('matches the spec vector Bruce2:OhBehave', () => {
    expect(basicCredential('Bruce2', 'OhBehave')).toBe('QnJ1Y2UyOk9oQmVoYXZl');
  });

  it('parses back, splitting at the first colon so passwords may hold colons', () => {
    expect(parseBasicCredential('QnJ1Y2UyOk9oQmVoYXZl')).toEqual({ user: 'Bruce2', password: 'OhBehave' });
    expect(parseBasicCredential(basicCredential('u', 'a:b:c'))).toEqual({ user: 'u', password: 'a:b:c' });
  });

  it('rejects text that is not base64 or has no colon', () => {
    expect(parseBasicCredential('not base64!')).toBeUndefined();
    expect(parseBasicCredential(Buffer.from('nocolon').toString('base64'))).toBeUndefined();
  });
});

describe('md5 credential', () => {
  it('matches the spec vector Bruce2/OhBehave/nonce "Nonce"', () => {
    const digest = userDigest('Bruce2', 'OhBehave');
    expect(md5Credential(digest, Buffer.from('Nonce'))).toBe('Zz6EivR3yeaaENcRN6lpAQ==');
  });

  it('hashes binary nonces as raw bytes, not as decoded text', () => {
    const digest = userDigest('u', 'p');
    const nonce = Buffer.from([0xff, 0x00, 0x80, 0xc3]);
    const expected = md5B64(Buffer.concat([Buffer.from(`${digest}:`), nonce]));
    expect(md5Credential(digest, nonce)).toBe(expected);
    expect(md5Credential(digest, nonce)).not.toBe(md5B64(`${digest}:${nonce.toString('utf8')}`));
  });
});

describe('hmac mac', () => {
  it('is B64(MD5(digest:nonce:B64(MD5(body))))', () => {
    const digest = userDigest('Bruce2', 'OhBehave');
    const body = Buffer.from('<SyncML/>');
    const nonce = Buffer.from([1, 2, 3, 0xfe]);
    const inner = Buffer.concat([Buffer.from(`${digest}:`), nonce, Buffer.from(`:${md5B64(body)}`)]);
    expect(hmacMac(digest, nonce, body)).toBe(md5B64(inner));
  });

  it('changes when a single body byte changes', () => {
    const digest = userDigest('a', 'b');
    const nonce = Buffer.from('n');
    expect(hmacMac(digest, nonce, Buffer.from('x'))).not.toBe(hmacMac(digest, nonce, Buffer.from('y')));
  });
});

describe('nonces', () => {
  it('issues 16 random bytes with matching base64', () => {
    const n = newNonce();
    expect(n.bytes.length).toBeGreaterThanOrEqual(16);
    expect(Buffer.from(n.b64, 'base64').equals(n.bytes)).toBe(true);
  });

  it('never repeats across many draws', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => newNonce().b64));
    expect(seen.size).toBe(1000);
  });

  it('decodes base64 nonces to their bytes', () => {
    expect(decodeNonce('AAAAAA==')).toEqual(Buffer.alloc(4));
    expect(decodeNonce('LG3iZQhhdmKNHg==').length).toBe(10);
  });

  it('falls back to the raw text bytes when the nonce is not base64', () => {
    expect(decodeNonce('Nonce')).toEqual(Buffer.from('Nonce'));
    expect(decodeNonce('a b')).toEqual(Buffer.from('a b'));
  });
});

describe('timingSafeEqualString', () => {
  it('compares equal and unequal strings of any length', () => {
    expect(timingSafeEqualString('abc', 'abc')).toBe(true);
    expect(timingSafeEqualString('abc', 'abd')).toBe(false);
    expect(timingSafeEqualString('abc', 'abcd')).toBe(false);
    expect(timingSafeEqualString('', '')).toBe(true);
  });
});

describe('auth meta types', () => {
  it('maps device auth types to Meta Type values and back', () => {
    expect(AUTH_META_TYPE).toEqual({ basic: AUTH_BASIC, md5: AUTH_MD5, hmac: AUTH_HMAC });
    expect(authTypeFromMeta('syncml:auth-md5')).toBe('md5');
    expect(authTypeFromMeta('syncml:auth-mac')).toBe('hmac');
    expect(authTypeFromMeta(undefined)).toBe('basic');
    expect(authTypeFromMeta('syncml:auth-x509')).toBeUndefined();
  });
});

describe('basic credentials with a device id as user name', () => {
  it('splits after the expected user name even when it contains a colon', () => {
    const b64 = Buffer.from('IMEI:350000000000006:s3cret:x').toString('base64');
    expect(parseBasicCredential(b64, 'IMEI:350000000000006')).toEqual({ user: 'IMEI:350000000000006', password: 's3cret:x' });
    expect(parseBasicCredential(b64)).toEqual({ user: 'IMEI', password: '350000000000006:s3cret:x' });
  });
});
