/**
 * What an HGET fetches: `<dm2 url>/data/<token>`, the token naming the
 * device, the request and the spec whose value it serves, and until when
 * (base64url JSON "." base64url HMAC-SHA256, keyed from the gateway key with
 * its own label, like the package links of src/security/download-links.ts).
 * Nothing is stored per link: the value is the queued request's own, read
 * from the device's request queue while the request is there (it leaves the
 * queue once its outcome is known, and the link with it).
 */
import crypto from 'node:crypto';

export interface DataGrant {
  deviceId: string;
  requestId: string;
  index: number;
  /** Epoch ms after which the link is refused. */
  expiresAt: number;
}

const HKDF_LABEL = 'dmwsi dm2 data links v1';
const MAX_TOKEN_LENGTH = 2048;

export class Dm2DataLinks {
  private readonly key: Buffer;

  constructor(
    gatewayKey: Buffer,
    /** `<public dm2 url>/data` (what HGET fetches) or `<public dm2 url>/up` (where HPOST/HPUT send). */
    private readonly base: string,
    /** Keys links of one use apart: a download link is no upload link. */
    purpose: 'data' | 'upload' = 'data',
  ) {
    this.key = Buffer.from(crypto.hkdfSync('sha256', gatewayKey, Buffer.alloc(0), `${HKDF_LABEL} ${purpose}`, 32));
  }

  url(grant: DataGrant): string {
    const payload = Buffer.from(
      JSON.stringify({ d: grant.deviceId, r: grant.requestId, i: grant.index, e: Math.floor(grant.expiresAt) }),
    ).toString('base64url');
    return `${this.base}/${payload}.${this.mac(payload)}`;
  }

  /** The grant a token carries, or undefined when it is malformed, forged or expired. */
  verify(token: string, now: number): DataGrant | undefined {
    if (token.length > MAX_TOKEN_LENGTH) return undefined;
    const dot = token.indexOf('.');
    if (dot <= 0) return undefined;
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1));
    const expected = Buffer.from(this.mac(payload));
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return undefined;
    let p: unknown;
    try {
      p = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    const { d, r, i, e } = (p ?? {}) as Record<string, unknown>;
    if (typeof d !== 'string' || typeof r !== 'string' || typeof i !== 'number' || typeof e !== 'number') return undefined;
    if (!(now < e)) return undefined;
    return { deviceId: d, requestId: r, index: i, expiresAt: e };
  }

  private mac(payload: string): string {
    return crypto.createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}
