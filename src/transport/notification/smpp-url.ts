/**
 * SMPP_URL: `smpp://system_id:password@host:port` (TCP) or `ssmpp://...`
 * (TLS). Ports default to 2775 and 3550, the IANA-registered SMPP port and
 * the conventional SMPP-over-TLS one (the `smpp` package uses the same).
 */

export interface SmscAddress {
  host: string;
  port: number;
  tls: boolean;
  systemId: string;
  password: string;
}

export class SmppUrlError extends Error {
  override readonly name = 'SmppUrlError';
}

export function parseSmppUrl(raw: string): SmscAddress {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SmppUrlError('SMPP_URL is not a URL');
  }
  if (url.protocol !== 'smpp:' && url.protocol !== 'ssmpp:') {
    throw new SmppUrlError(`SMPP_URL must start with smpp:// or ssmpp://, got ${url.protocol}//`);
  }
  if (!url.hostname) throw new SmppUrlError('SMPP_URL has no host');
  const tls = url.protocol === 'ssmpp:';
  const systemId = decodeURIComponent(url.username);
  if (!systemId) throw new SmppUrlError('SMPP_URL has no system_id (smpp://system_id:password@host:port)');
  return {
    // URL keeps IPv6 literals bracketed; sockets want them bare.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : tls ? 3550 : 2775,
    tls,
    systemId,
    password: decodeURIComponent(url.password),
  };
}

/** The URL without its password, for logs and outcome details. */
export function describeSmsc(address: SmscAddress): string {
  return `${address.tls ? 'ssmpp' : 'smpp'}://${address.systemId}@${address.host}:${address.port}`;
}
