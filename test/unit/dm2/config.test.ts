import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.js';

describe('DM 2.0 configuration', () => {
  it('refuses plain HTTP on /dm2 by default, and reads the DM 2.0 switches', () => {
    expect(loadConfig({}).dm2AllowPlainHttp).toBe(false);
    expect(loadConfig({ DM2_ALLOW_PLAIN_HTTP: 'true' }).dm2AllowPlainHttp).toBe(true);
    const c = loadConfig({ TLS_CERT: '/c.pem', TLS_KEY: '/k.pem', DM2_PSK: 'true', DM2_CLIENT_CA: '/ca.pem' });
    expect([c.dm2Psk, c.dm2ClientCa]).toEqual([true, '/ca.pem']);
  });

  it('refuses DM2_PSK or DM2_CLIENT_CA without TLS_CERT and TLS_KEY', () => {
    expect(() => loadConfig({ DM2_PSK: 'true' })).toThrow(ConfigError);
    expect(() => loadConfig({ DM2_CLIENT_CA: '/ca.pem' })).toThrow(/TLS_CERT/);
    expect(() => loadConfig({ DM2_ALLOW_PLAIN_HTTP: 'yes' })).toThrow(ConfigError);
  });
});
