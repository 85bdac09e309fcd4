import { describe, expect, it } from 'vitest';
import { encodePackage0V2, Package0Error, parsePackage0V2, verifyPackage0V2 } from '../../../src/dm2/package0.js';

const secret = { password: 'server-pw', authData: Buffer.alloc(4) };

describe('DM 2.0 Package#0 version 2', () => {
  it('writes VER 2, the option count, and options in ascending order, and reads them back', () => {
    const bytes = encodePackage0V2({ serverId: 'dmwsi-gateway', preferredConType: 2, notificationId: 0xbeef, timestamp: 1_800_000_000, reqMos: true }, secret);
    expect(bytes[0]! >> 4).toBe(2);
    expect(((bytes[0]! & 0x0f) << 1) | (bytes[1]! >> 7)).toBe(6);
    // First option: delta 1 (SERVER-ID), length 13.
    expect([bytes[2]! >> 4, ((bytes[2]! & 0x0f) << 8) | bytes[3]!]).toEqual([1, 13]);
    const p = parsePackage0V2(bytes);
    expect(p).toMatchObject({ serverId: 'dmwsi-gateway', preferredConType: 2, notificationId: 0xbeef, timestamp: 1_800_000_000, reqMos: true });
    expect(verifyPackage0V2(bytes, p, secret)).toBe(true);
  });

  it('fails the digest for another password, another auth data, or a changed byte', () => {
    const bytes = encodePackage0V2({ serverId: 'gw', notificationId: 7 }, secret);
    const p = parsePackage0V2(bytes);
    expect(verifyPackage0V2(bytes, p, { ...secret, password: 'other' })).toBe(false);
    expect(verifyPackage0V2(bytes, p, { ...secret, authData: Buffer.from([0, 0, 0, 1]) })).toBe(false);
    const changed = Buffer.from(bytes);
    changed[4] = changed[4]! ^ 1; // a SERVER-ID byte
    expect(verifyPackage0V2(changed, parsePackage0V2(changed), secret)).toBe(false);
  });

  it.each([
    ['an empty buffer', Buffer.alloc(0)],
    ['version 1', Buffer.from([0x10, 0x00])],
    ['a cut-off option', Buffer.from([0x20, 0x80, 0x10, 0x05, 0x61])],
    ['no SERVER-ID', Buffer.from([0x20, 0x80, 0x30, 0x02, 0x00, 0x01])],
    ['trailing bytes', Buffer.concat([encodePackage0V2({ serverId: 'gw' }, secret), Buffer.from([0])])],
    ['a zero delta (not ascending)', Buffer.from([0x21, 0x00, 0x10, 0x01, 0x61, 0x00, 0x01, 0x62])],
  ])('refuses %s', (_w, bytes) => {
    expect(() => parsePackage0V2(bytes)).toThrow(Package0Error);
  });
});
