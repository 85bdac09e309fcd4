import { describe, expect, it } from 'vitest';
import {
  bootstrapContentType,
  bootstrapKey,
  bootstrapMac,
  imsiKey,
  parseBootstrapContentType,
  verifyBootstrapMac,
} from '../../../../src/dm/bootstrap/security.js';

const WBXML = Buffer.from('03a4016a006d6c71033132000101', 'hex');

describe('DM bootstrap security', () => {
  it('round-trips the MAC through the content type for every SEC method', () => {
    const secrets = { imsiOrNetworkId: '404020506708200', pin: '1234' };
    for (const sec of ['NETWORKID', 'USERPIN', 'USERPIN_NETWORKID'] as const) {
      const key = bootstrapKey(sec, secrets);
      const header = bootstrapContentType(sec, bootstrapMac(key, WBXML));
      const parsed = parseBootstrapContentType(header);
      expect(parsed?.sec).toBe(sec);
      expect(verifyBootstrapMac(bootstrapKey(parsed!.sec, secrets), WBXML, parsed!.mac)).toBe(true);
    }
  });

  it('rejects a MAC over modified WBXML or with another PIN', () => {
    const mac = bootstrapMac(bootstrapKey('USERPIN', { pin: '1234' }), WBXML);
    const changed = Buffer.from(WBXML);
    changed[changed.length - 1]! ^= 1;
    expect(verifyBootstrapMac(bootstrapKey('USERPIN', { pin: '1234' }), changed, mac)).toBe(false);
    expect(verifyBootstrapMac(bootstrapKey('USERPIN', { pin: '1235' }), WBXML, mac)).toBe(false);
  });

  it('is HMAC-SHA1 in hex, verified regardless of hex case', () => {
    // RFC 2202 test case 2: key "Jefe", data "what do ya want for nothing?".
    const mac = bootstrapMac('Jefe', Buffer.from('what do ya want for nothing?'));
    expect(mac).toBe('EFFCDF6AE5EB2FA2D27416D5F184DF9C259A7C79');
    expect(verifyBootstrapMac('Jefe', Buffer.from('what do ya want for nothing?'), mac.toLowerCase())).toBe(true);
  });

  it('encodes an IMSI in SIM semi-octets with parity nibble and filler', () => {
    expect(imsiKey('404020506708200').toString('hex')).toBe('4940205060072800');
    // Even length: parity nibble 1 and a trailing F filler.
    expect(imsiKey('21407650123456').toString('hex')).toBe('21417056103254f6');
  });

  it('keys USERPIN_NETWORKID as PIN ":" network key', () => {
    const key = bootstrapKey('USERPIN_NETWORKID', { imsiOrNetworkId: '404020506708200', pin: '1234' });
    expect(key.toString('hex')).toBe(`${Buffer.from('1234:').toString('hex')}4940205060072800`);
  });

  it('uses a non-IMSI network id as its bytes', () => {
    expect(bootstrapKey('NETWORKID', { imsiOrNetworkId: 'ESN:8A3F12C4' })).toEqual(Buffer.from('ESN:8A3F12C4'));
  });

  it('parses quoted values, any case, and ProvBoot aliases; refuses XML and bad MACs', () => {
    const mac = 'a'.repeat(40);
    expect(parseBootstrapContentType(`Application/vnd.syncml.dm+WBXML;sec="NETWPIN";mac=${mac}`)).toEqual({
      mediaType: 'application/vnd.syncml.dm+wbxml',
      sec: 'NETWORKID',
      mac,
    });
    expect(parseBootstrapContentType(`application/vnd.syncml.dm+xml; SEC=USERPIN; MAC=${mac}`)).toBeUndefined();
    expect(parseBootstrapContentType('application/vnd.syncml.dm+wbxml; SEC=USERPIN; MAC=xyz')).toBeUndefined();
    expect(parseBootstrapContentType(`application/vnd.syncml.dm+wbxml; SEC=OTHER; MAC=${mac}`)).toBeUndefined();
  });

  it('refuses to derive a key without the secret the method needs', () => {
    expect(() => bootstrapKey('USERPIN', {})).toThrow(TypeError);
    expect(() => bootstrapKey('NETWORKID', { pin: '1' })).toThrow(TypeError);
  });
});
