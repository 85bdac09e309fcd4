import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from '../../../src/security/secret-box.js';

describe('SecretBox', () => {
  const box = new SecretBox(crypto.randomBytes(32));

  it('opens what it sealed, again and again, and every sealing of one text differs', () => {
    const a = box.seal('{"clientPassword":"p1"}');
    const b = box.seal('{"clientPassword":"p1"}');
    expect(a).not.toBe(b);
    for (let i = 0; i < 3; i++) expect(box.open(a)).toBe('{"clientPassword":"p1"}');
    expect(box.open(b)).toBe('{"clientPassword":"p1"}');
  });

  it('refuses a tampered text even when the genuine one was opened before', () => {
    const sealed = box.seal('secret');
    expect(box.open(sealed)).toBe('secret');
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    raw[raw.length - 1]! ^= 1;
    expect(() => box.open(`v1.${raw.toString('base64url')}`)).toThrow();
    expect(() => box.open('v2.abc')).toThrow(/unknown sealed secret format/);
  });

  it('does not open with another key what it opened with its own', () => {
    const sealed = box.seal('secret');
    expect(box.open(sealed)).toBe('secret');
    expect(() => new SecretBox(crypto.randomBytes(32)).open(sealed)).toThrow();
  });

  it('keeps opening correctly past the number of opened secrets it keeps', () => {
    const sealed = Array.from({ length: 20_100 }, (_, i) => box.seal(`s${i}`));
    for (const [i, s] of sealed.entries()) expect(box.open(s)).toBe(`s${i}`);
    expect(box.open(sealed[0]!)).toBe('s0');
    expect(box.open(sealed[20_099]!)).toBe('s20099');
  });
});
