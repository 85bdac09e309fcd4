/**
 * NOTIFICATION_ALLOWED_NETWORKS applied to the address a push connects to.
 * A host name is checked inside the connection's own DNS lookup (every
 * address it resolves to), and the socket then connects to an address that
 * was checked: a name that resolves differently a moment later (DNS
 * rebinding) cannot slip past. An IP literal never reaches a lookup, so it
 * is checked before the request.
 */
import dns from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import type { AllowedNetworks } from '../../security/allowed-networks.js';

export class DestinationRefused extends Error {
  readonly code = 'EDESTINATIONREFUSED';
  constructor(readonly address: string) {
    super(`destination ${address} not in NOTIFICATION_ALLOWED_NETWORKS`);
    this.name = 'DestinationRefused';
  }
}

/** The refusal for a URL whose host is an IP address outside the allowed networks. */
export function refusedLiteral(url: URL, allowed: AllowedNetworks | undefined): DestinationRefused | undefined {
  if (!allowed) return undefined;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) === 0) return undefined;
  return allowed.allows(host) ? undefined : new DestinationRefused(host);
}

/** A `lookup` for http.request: resolves as Node would, and fails if any address is outside the allowed networks. */
export function checkedLookup(allowed: AllowedNetworks): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const outside = addresses.find((a) => !allowed.allows(a.address));
      if (outside) return callback(new DestinationRefused(outside.address), '', 0);
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}
