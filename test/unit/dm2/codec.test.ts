import { describe, expect, it } from 'vitest';
import { Dm2DecodeError, encodePackage2, parseClientPackage } from '../../../src/dm2/codec.js';
import { MEDIA_PACKAGE1, MEDIA_PACKAGE3 } from '../../../src/dm2/constants.js';

const p1 = (v: unknown) => parseClientPackage(Buffer.from(JSON.stringify(v)), MEDIA_PACKAGE1);
const p3 = (v: unknown) => parseClientPackage(Buffer.from(JSON.stringify(v)), `${MEDIA_PACKAGE3}; charset=utf-8`);
const reason = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    if (err instanceof Dm2DecodeError) return err.reason;
    throw err;
  }
  return 'accepted';
};

describe('DM 2.0 codec', () => {
  it('reads a Package#1 with MOS and alerts', () => {
    const pkg = p1({
      MOS: [{ DDF: 'https://x/ddf', MOID: 'urn:oma:mo:oma-dm-devinfo:1.0', MIID: [''] }],
      Alert: [{ AlertType: 'urn:oma:at:dm:2.0:ServerInitiatedMgmt', NotificationID: 7 }],
    });
    expect(pkg).toEqual({
      kind: 'package1',
      mos: [{ ddf: 'https://x/ddf', moid: 'urn:oma:mo:oma-dm-devinfo:1.0', miid: [''] }],
      alerts: [{ alertType: 'urn:oma:at:dm:2.0:ServerInitiatedMgmt', notificationId: 7 }],
    });
  });

  it('reads a Package#3 with statuses in order, a GET value and a DM1x-wrapped Generic Alert', () => {
    const pkg = p3({
      Status: [{ sc: 200, Data: 'SimPhone-1', DataType: 'text/plain' }, { sc: 200, URI: ['urn:x/miid1/'] }, { sc: 404 }],
      Alert: [{ AlertType: 'org.openmobilealliance.dm.firmwareupdate.update', DataType: 'application/json', Data: { DM1x: 200 } }],
    });
    expect(pkg.kind).toBe('package3');
    if (pkg.kind !== 'package3') return;
    expect(pkg.statuses).toEqual([{ sc: 200, data: 'SimPhone-1', dataType: 'text/plain' }, { sc: 200, uris: ['urn:x/miid1/'] }, { sc: 404 }]);
    expect(pkg.alerts[0]).toMatchObject({ data: '200', dm1x: true });
  });

  it('refuses an unknown media type with unsupported-media-type', () => {
    expect(reason(() => parseClientPackage(Buffer.from('{}'), 'application/json'))).toBe('unsupported-media-type');
  });

  it('refuses malformed JSON', () => {
    expect(reason(() => parseClientPackage(Buffer.from('{"Status":['), MEDIA_PACKAGE3))).toBe('malformed-json');
  });

  it.each([
    ['an unknown top-level property', { Status: [], Extra: 1 }],
    ['an unknown status property', { Status: [{ sc: 200, Foo: 'x' }] }],
    ['a status code out of range', { Status: [{ sc: 99 }] }],
    ['a non-integer status code', { Status: [{ sc: '200' }] }],
    ['no Status list', { Alert: [] }],
    ['Data without DataType in an alert', { Status: [], Alert: [{ AlertType: 'x', Data: '1' }] }],
    ['an unknown Mark', { Status: [], Alert: [{ AlertType: 'x', Mark: 'loud' }] }],
    ['a Data object other than DM1x', { Status: [], Alert: [{ AlertType: 'x', DataType: 'a/b', Data: { Other: 1 } }] }],
    ['an array at the top', []],
  ])('refuses a Package#3 with %s', (_what, value) => {
    expect(reason(() => p3(value))).toBe('invalid-package');
  });

  it('writes Package#2 as {"CMD": [[name, ...params]]}', () => {
    expect(JSON.parse(encodePackage2([['GET', 'urn:oma:mo:oma-dm-devinfo:1.0//Mod'], ['END']]).toString())).toEqual({
      CMD: [['GET', 'urn:oma:mo:oma-dm-devinfo:1.0//Mod'], ['END']],
    });
  });
});

describe('DM 2.0 secrets in log text', () => {
  it('redacts the session token of a /dm2/s/ URI and the signed /dm2/data/ and /dm2/up/ links', async () => {
    const { redactText } = await import('../../../src/observability/log-redaction.js');
    expect(redactText('POST https://gw/dm2/s/AbCdEfGhIjKlMnOp?p=2 then')).toBe('POST https://gw/dm2/s/[Redacted]?p=2 then');
    expect(redactText('https://gw/dm2/data/eyJk.sig and https://gw/dm2/up/eyJk.sig2')).toBe('https://gw/dm2/data/[Redacted] and https://gw/dm2/up/[Redacted]');
    const t0 = performance.now();
    redactText('/dm2/s'.repeat(200_000));
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
