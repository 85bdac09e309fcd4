import { describe, expect, it } from 'vitest';
import type { Content } from '../../../src/domain/content.js';
import type { DeviceCapability } from '../../../src/domain/registry.js';
import { holdsDownloadSlot } from '../../../src/services/broker/download-slots.js';
import { INLINE_FUMO_MAX_BYTES } from '../../../src/services/broker/mo-plan.js';
import { packageAppliesTo, packageKindFits } from '../../../src/services/broker/package-applicability.js';

const cap: DeviceCapability = { oid: 'cap-a', make: 'Acme', model: 'A1', firmwareVersion: '1.0', dmVersion: '1.2', wbxml: false };
const content = (over: Partial<Content> = {}): Content => ({
  contentId: 'c1',
  name: 'fw',
  version: '2.0',
  kind: 'firmware',
  sha256: 'a'.repeat(64),
  size: 10,
  capabilityOids: [],
  state: 'READY',
  createdBy: 't',
  createdAt: new Date(0),
  ...over,
});

describe('packageAppliesTo', () => {
  it('lets a package that lists no capability go to any device', () => {
    expect(packageAppliesTo(content(), cap)).toEqual({ ok: true });
  });
  it('lets a package go to a capability it lists', () => {
    expect(packageAppliesTo(content({ capabilityOids: ['x', 'cap-a'] }), cap)).toEqual({ ok: true });
  });
  it('refuses a package listing only other capabilities, naming the device model', () => {
    const r = packageAppliesTo(content({ capabilityOids: ['cap-b'] }), cap);
    expect(r.ok).toBe(false);
    expect(r.ok === false && r.why).toMatch(/Acme A1 firmware 1\.0/);
  });
});

describe('packageAppliesTo a model taking firmware inline', () => {
  const inline: DeviceCapability = { ...cap, fumoDelivery: 'inline' };
  it('lets an uploaded firmware package of at most INLINE_FUMO_MAX_BYTES through', () => {
    expect(packageAppliesTo(content({ size: INLINE_FUMO_MAX_BYTES }), inline)).toEqual({ ok: true });
  });
  it('refuses a larger one and an external one, saying why', () => {
    const big = packageAppliesTo(content({ size: INLINE_FUMO_MAX_BYTES + 1 }), inline);
    expect(big.ok === false && big.why).toMatch(/inline, at most/);
    const external = packageAppliesTo(content({ url: 'https://cdn/fw.bin' }), inline);
    expect(external.ok === false && external.why).toMatch(/external/);
  });
  it('does not apply the limit to software packages or to other delivery modes', () => {
    expect(packageAppliesTo(content({ kind: 'software', size: INLINE_FUMO_MAX_BYTES + 1 }), inline)).toEqual({ ok: true });
    expect(packageAppliesTo(content({ size: INLINE_FUMO_MAX_BYTES + 1 }), { ...cap, fumoDelivery: 'downloadThenUpdate' })).toEqual({ ok: true });
  });
});

describe('packageKindFits', () => {
  it('refuses a software package for FIRMWARE_UPDATE and a firmware one for SOFTWARE_INSTALL', () => {
    expect(packageKindFits(content({ kind: 'software' }), 'FIRMWARE_UPDATE').ok).toBe(false);
    expect(packageKindFits(content({ kind: 'firmware' }), 'SOFTWARE_INSTALL').ok).toBe(false);
    expect(packageKindFits(content({ kind: 'firmware' }), 'FIRMWARE_UPDATE').ok).toBe(true);
  });
});

describe('holdsDownloadSlot', () => {
  it('counts a firmware or software install from the session sending its Exec until it ends', () => {
    for (const name of ['FIRMWARE_UPDATE', 'SOFTWARE_INSTALL'] as const) {
      expect(holdsDownloadSlot({ status: 'IN_SESSION', operation: { name } })).toBe(true);
      expect(holdsDownloadSlot({ status: 'IN_PROGRESS', operation: { name } })).toBe(true);
      expect(holdsDownloadSlot({ status: 'NOTIFYING', operation: { name } })).toBe(false);
      expect(holdsDownloadSlot({ status: 'COMPLETED', operation: { name } })).toBe(false);
    }
    expect(holdsDownloadSlot({ status: 'IN_PROGRESS', operation: { name: 'SOFTWARE_REMOVE' } })).toBe(false);
  });
});
