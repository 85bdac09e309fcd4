import { describe, expect, it } from 'vitest';
import { hmacMac, userDigest } from '../../../../src/dm/auth/credentials.js';
import {
  buildTrigger,
  parseTrigger,
  RESYNC_NONCE,
  sessionIdToHex,
  type TriggerInput,
  TriggerParseError,
  verifyTriggerDigest,
  verifyTriggerDigestWithResync,
} from '../../../../src/dm/notification/package0.js';

const SECRET = { serverId: 'dm.example.com', password: 'srv-secret-0123456789' };
const NONCE = Buffer.from('0f1e2d3c4b5a69788796a5b4c3d2e1f0', 'hex');
const INPUT: TriggerInput = {
  uiMode: 'not-specified',
  initiator: 'server',
  sessionId: 0x00a3,
  serverId: 'dm.example.com',
  serverDigestSecret: SECRET,
  nonce: NONCE,
};

describe('Package#0 trigger', () => {
  it('lays out version 11, ui 0, initiator server as 02 C8 00 00 00, then session id and id length', () => {
    const bytes = buildTrigger(INPUT);
    const header = bytes.subarray(16, 24);
    expect(header.toString('hex')).toBe(`02c8000000${'00a3'}0e`);
    expect(bytes.subarray(24).toString('utf8')).toBe('dm.example.com');
    expect(bytes.length).toBe(16 + 8 + 14);
  });

  it('puts ui-mode and initiator in their bits', () => {
    const b = buildTrigger({ ...INPUT, uiMode: 'user-interaction', initiator: 'user', version: 12 });
    // 12 = 0000001100, ui 11, initiator 0 → 0000 0011 0011 0000
    expect(b.subarray(16, 18).toString('hex')).toBe('0330');
  });

  it('computes the digest as raw MD5 over B64(MD5(id:pw)):nonce:B64(MD5(trigger))', () => {
    const bytes = buildTrigger(INPUT);
    const expected = Buffer.from(hmacMac(userDigest(SECRET.serverId, SECRET.password), NONCE, bytes.subarray(16)), 'base64');
    expect(bytes.subarray(0, 16)).toEqual(expected);
  });

  it('accepts a stored user digest in place of the password', () => {
    const withDigest = buildTrigger({
      ...INPUT,
      serverDigestSecret: { userDigest: userDigest(SECRET.serverId, SECRET.password) },
    });
    expect(withDigest).toEqual(buildTrigger(INPUT));
  });

  it('parses back what it built, vendor-specific bytes included', () => {
    const vendor = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
    const bytes = buildTrigger({ ...INPUT, uiMode: 'informative', vendorSpecific: vendor });
    const parsed = parseTrigger(bytes);
    expect(parsed).toEqual({
      digest: bytes.subarray(0, 16),
      version: 11,
      uiMode: 'informative',
      initiator: 'server',
      sessionId: 0xa3,
      serverId: 'dm.example.com',
      vendorSpecific: vendor,
    });
    expect(verifyTriggerDigest(bytes, SECRET, NONCE)).toBe(true);
  });

  it('rejects a tampered trigger, a wrong nonce and a wrong password', () => {
    const bytes = buildTrigger(INPUT);
    const tampered = Buffer.from(bytes);
    tampered[21]! ^= 0x01; // session id
    expect(verifyTriggerDigest(tampered, SECRET, NONCE)).toBe(false);
    expect(verifyTriggerDigest(bytes, SECRET, Buffer.from('other'))).toBe(false);
    expect(verifyTriggerDigest(bytes, { ...SECRET, password: 'x' }, NONCE)).toBe(false);
    expect(verifyTriggerDigest(bytes.subarray(0, 10), SECRET, NONCE)).toBe(false);
  });

  it('says which nonce matched during a resync', () => {
    const normal = buildTrigger(INPUT);
    const resync = buildTrigger({ ...INPUT, nonce: RESYNC_NONCE });
    expect(RESYNC_NONCE).toEqual(Buffer.alloc(4));
    expect(verifyTriggerDigestWithResync(normal, SECRET, NONCE)).toBe('stored');
    expect(verifyTriggerDigestWithResync(resync, SECRET, NONCE)).toBe('resync');
    expect(verifyTriggerDigestWithResync(resync, { ...SECRET, password: 'x' }, NONCE)).toBe('none');
  });

  it('throws TriggerParseError for short or inconsistent input', () => {
    expect(() => parseTrigger(Buffer.alloc(23))).toThrow(TriggerParseError);
    const bytes = buildTrigger(INPUT);
    expect(() => parseTrigger(bytes.subarray(0, bytes.length - 1))).toThrow(/server id length/);
  });

  it('refuses out-of-range session ids and server ids', () => {
    expect(() => buildTrigger({ ...INPUT, sessionId: 0 })).toThrow(RangeError);
    expect(() => buildTrigger({ ...INPUT, sessionId: 0x10000 })).toThrow(RangeError);
    expect(() => buildTrigger({ ...INPUT, serverId: 'x'.repeat(256) })).toThrow(RangeError);
    expect(() => buildTrigger({ ...INPUT, serverId: '' })).toThrow(RangeError);
  });
});

describe('sessionIdToHex', () => {
  it('writes uppercase hex without leading zeros', () => {
    expect(sessionIdToHex(0x00a3)).toBe('A3');
    expect(sessionIdToHex(1)).toBe('1');
    expect(sessionIdToHex(0x0fff)).toBe('FFF');
    expect(sessionIdToHex(0xffff)).toBe('FFFF');
  });

  it('refuses ids outside 1..0xFFFF', () => {
    expect(() => sessionIdToHex(0)).toThrow(RangeError);
    expect(() => sessionIdToHex(0x10000)).toThrow(RangeError);
  });
});
