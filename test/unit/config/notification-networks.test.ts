/** NOTIFICATION_ALLOWED_NETWORKS: parsed once at start; a bad entry stops the gateway. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.js';
import { AllowedNetworks } from '../../../src/security/allowed-networks.js';

function parse(text: string): AllowedNetworks {
  const n = AllowedNetworks.parse(text);
  if (!(n instanceof AllowedNetworks)) throw new Error(n.problems.join('; '));
  return n;
}

describe('NOTIFICATION_ALLOWED_NETWORKS', () => {
  it('allows any destination when unset', () => {
    expect(loadConfig({}).notificationAllowedNetworks).toBeUndefined();
  });

  it('reads IPv4 and IPv6 networks and single addresses, comma- or space-separated', () => {
    const c = loadConfig({ NOTIFICATION_ALLOWED_NETWORKS: '10.0.0.0/8, 192.0.2.7 2001:db8::/32' });
    expect(c.notificationAllowedNetworks?.networks).toEqual(['10.0.0.0/8', '192.0.2.7/32', '2001:db8::/32']);
  });

  it('refuses to start on an entry that is not a network, naming it', () => {
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0/8', '::1/129', '10.0.0.0/8/1', '10.0.0.0/x', ',']) {
      try {
        loadConfig({ NOTIFICATION_ALLOWED_NETWORKS: bad });
        expect.unreachable(bad);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).problems.join('\n')).toMatch(/^NOTIFICATION_ALLOWED_NETWORKS: /);
      }
    }
  });

  it('matches addresses by network, IPv4-mapped IPv6 addresses as their IPv4 address', () => {
    const n = parse('10.0.0.0/8,2001:db8::/32');
    expect(n.allows('10.1.2.3')).toBe(true);
    expect(n.allows('11.1.2.3')).toBe(false);
    expect(n.allows('127.0.0.1')).toBe(false);
    expect(n.allows('::ffff:10.1.2.3')).toBe(true);
    expect(n.allows('::ffff:a01:203')).toBe(true);
    expect(n.allows('::ffff:127.0.0.1')).toBe(false);
    expect(n.allows('2001:db8::1')).toBe(true);
    expect(n.allows('::1')).toBe(false);
    expect(n.allows('not-an-address')).toBe(false);
  });
});
