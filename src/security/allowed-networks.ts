/**
 * The networks the gateway may call out to (NOTIFICATION_ALLOWED_NETWORKS):
 * a device chooses its notificationUrl, so without a list it could make the
 * gateway POST into the gateway's own networks. Node's BlockList does the
 * matching, IPv4-mapped IPv6 addresses (::ffff:10.1.2.3) included.
 */
import { BlockList, isIP } from 'node:net';

export class AllowedNetworks {
  private constructor(
    private readonly list: BlockList,
    /** As configured, normalised to address/prefix. */
    readonly networks: readonly string[],
  ) {}

  /**
   * A comma- or space-separated list of CIDRs (`10.0.0.0/8`, `2001:db8::/32`)
   * or single addresses; the problems instead when any entry is not one.
   */
  static parse(text: string): AllowedNetworks | { problems: string[] } {
    const list = new BlockList();
    const networks: string[] = [];
    const problems: string[] = [];
    for (const entry of text.split(/[\s,]+/).filter((e) => e !== '')) {
      const [address = '', prefixText, ...rest] = entry.split('/');
      const version = isIP(address);
      const max = version === 6 ? 128 : 32;
      const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
      if (version === 0 || rest.length > 0 || !(prefix >= 0 && prefix <= max)) {
        problems.push(`"${entry}" is not an IPv4 or IPv6 network (address/prefix)`);
        continue;
      }
      list.addSubnet(address, prefix, version === 6 ? 'ipv6' : 'ipv4');
      networks.push(`${address}/${prefix}`);
    }
    if (problems.length === 0 && networks.length === 0) problems.push('names no network');
    return problems.length > 0 ? { problems } : new AllowedNetworks(list, networks);
  }

  /** Whether a connection to this IP address (as resolved, not a host name) may be made. */
  allows(address: string): boolean {
    const version = isIP(address);
    return version !== 0 && this.list.check(address, version === 6 ? 'ipv6' : 'ipv4');
  }

  toString(): string {
    return this.networks.join(',');
  }
}
