/**
 * Download links devices are given as PkgURL: `<public base>/dl/<token>`,
 * token = base64url(payload) "." base64url(HMAC-SHA256(key, payload)), the
 * payload naming the task, the content and the expiry. The key is derived
 * from the gateway key (HKDF, its own label), so a link proves the gateway
 * issued it for that task and content until then; nothing is stored per link.
 */
import crypto from 'node:crypto';

export interface DownloadGrant {
  taskId: string;
  contentId: string;
  /** Epoch ms after which the link is refused. */
  expiresAt: number;
}

/** A token longer than this is refused before any work (it is never one of ours). */
const MAX_TOKEN_LENGTH = 1024;
const HKDF_LABEL = 'dmwsi download links v1';

/** The link-signing key, derived from the gateway's secret key. */
export function downloadLinkKey(gatewayKey: Buffer): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', gatewayKey, Buffer.alloc(0), HKDF_LABEL, 32));
}

export class DownloadLinks {
  private readonly base: string;

  /** `publicBase`: scheme, host and port devices reach the gateway at (a path prefix is kept). */
  constructor(
    private readonly key: Buffer,
    publicBase: string,
  ) {
    this.base = publicBase.replace(/\/+$/, '');
  }

  url(grant: DownloadGrant): string {
    return `${this.base}/dl/${this.token(grant)}`;
  }

  token(grant: DownloadGrant): string {
    const payload = Buffer.from(
      JSON.stringify({ t: grant.taskId, c: grant.contentId, e: Math.floor(grant.expiresAt) }),
    ).toString('base64url');
    return `${payload}.${this.mac(payload).toString('base64url')}`;
  }

  /** The grant a token carries, or undefined when it is malformed, forged or expired. */
  verify(token: string, now: number): DownloadGrant | undefined {
    if (token.length > MAX_TOKEN_LENGTH) return undefined;
    const dot = token.indexOf('.');
    if (dot <= 0) return undefined;
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = this.mac(payload);
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return undefined;
    let p: unknown;
    try {
      p = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    const { t, c, e } = (p ?? {}) as { t?: unknown; c?: unknown; e?: unknown };
    if (typeof t !== 'string' || typeof c !== 'string' || typeof e !== 'number') return undefined;
    if (!(now < e)) return undefined;
    return { taskId: t, contentId: c, expiresAt: e };
  }

  private mac(payload: string): Buffer {
    return crypto.createHmac('sha256', this.key).update(payload).digest();
  }
}
