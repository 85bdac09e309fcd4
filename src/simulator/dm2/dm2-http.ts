/**
 * The DM 2.0 simulator's HTTP client: node:http/node:https with one
 * keep-alive agent per device, so the device can present what DM 2.0's
 * transport security needs (seed 001 via notes §7: TLS with PSK or X.509):
 * a client certificate, or a pre-shared key with its identity. fetch cannot
 * do either.
 */
import http from 'node:http';
import https from 'node:https';

export interface Dm2TlsOptions {
  /** CA (PEM) the server's certificate is checked against; absent: not checked (tests, labs). */
  ca?: Buffer | string;
  /** Client certificate and key (PEM): X.509 client authentication. */
  cert?: Buffer | string;
  key?: Buffer | string;
  /** PSK-TLS: the key and the identity sent for it (the device id). */
  psk?: { key: Buffer; identity: string };
}

export interface Dm2HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export class Dm2HttpClient {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  private readonly httpsAgent: https.Agent;

  constructor(
    tlsOptions: Dm2TlsOptions = {},
    /** How long a request waits for its answer before the client gives up and closes the connection. */
    private readonly timeoutMs = 30_000,
  ) {
    const psk = tlsOptions.psk;
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets: 4,
      ...(tlsOptions.ca !== undefined ? { ca: tlsOptions.ca } : { rejectUnauthorized: false }),
      ...(tlsOptions.cert !== undefined ? { cert: tlsOptions.cert } : {}),
      ...(tlsOptions.key !== undefined ? { key: tlsOptions.key } : {}),
      ...(psk
        ? {
            // TLS 1.3 uses the PSK only with a SHA-256 suite; a resumed session would carry no PSK identity.
            ciphers: 'TLS_AES_128_GCM_SHA256:PSK-AES128-GCM-SHA256',
            maxCachedSessions: 0,
            pskCallback: () => ({ psk: psk.key, identity: psk.identity }),
            checkServerIdentity: () => undefined,
          }
        : {}),
    });
  }

  request(url: string, opts: { method: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<Dm2HttpAnswer> {
    const u = new URL(url);
    const secure = u.protocol === 'https:';
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(
        {
          host: u.hostname,
          port: u.port,
          path: `${u.pathname}${u.search}`,
          method: opts.method,
          agent: secure ? this.httpsAgent : this.httpAgent,
          headers: { ...opts.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer from ${url} within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
