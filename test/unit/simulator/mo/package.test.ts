import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../../src/simulator/cli.js';
import { drawFailure } from '../../../../src/simulator/mo/delivery.js';
import { makeSimulatedPackage, PackageVerifier, verifyPackage } from '../../../../src/simulator/mo/package.js';

const PKG = makeSimulatedPackage({ kind: 'firmware', name: 'sim-phone', version: '2.0', size: 3000 });

describe('simulated package format', () => {
  it('verifies a package fed one byte at a time and reads its header', () => {
    const v = new PackageVerifier();
    for (const byte of PKG) v.update(Buffer.of(byte));
    expect(v.received).toBe(PKG.length);
    expect(v.expected).toBe(PKG.length);
    expect(v.finish()).toMatchObject({ ok: true, header: { kind: 'firmware', name: 'sim-phone', version: '2.0', size: 3000 } });
  });

  it('rejects a flipped payload byte, a truncated package, extra bytes and foreign bytes', () => {
    const flipped = Buffer.from(PKG);
    flipped.writeUInt8(flipped.readUInt8(100) ^ 0x80, 100);
    expect(verifyPackage(flipped)).toMatchObject({ ok: false, reason: 'hash-mismatch' });
    expect(verifyPackage(PKG.subarray(0, PKG.length - 1))).toMatchObject({ ok: false, reason: 'truncated' });
    expect(verifyPackage(Buffer.concat([PKG, Buffer.of(0)]))).toMatchObject({ ok: false, reason: 'too-long' });
    expect(verifyPackage(Buffer.from('<html>not found</html>'))).toMatchObject({ ok: false, reason: 'not-a-package' });
  });

  it('fails the hash of an intact package when told to corrupt it (the corrupt-package share)', () => {
    expect(verifyPackage(PKG, { corrupt: true })).toMatchObject({ ok: false, reason: 'hash-mismatch' });
  });
});

describe('failure draws', () => {
  it('gives each kind its share of one draw and repeats with the same seed', () => {
    const shares = { downloadFailed: 0.1, installFailed: 0.2 };
    expect(drawFailure(shares, () => 0.05)).toBe('downloadFailed');
    expect(drawFailure(shares, () => 0.25)).toBe('installFailed');
    expect(drawFailure(shares, () => 0.35)).toBeUndefined();
    const run = (seed: number) => {
      const r = seededRandom(seed);
      return Array.from({ length: 1000 }, () => drawFailure(shares, r));
    };
    const a = run(7);
    expect(run(7)).toEqual(a);
    const failed = a.filter((k) => k === 'installFailed').length;
    expect(failed).toBeGreaterThan(150);
    expect(failed).toBeLessThan(250);
  });
});
