/**
 * DM 2.0 authenticates at the HTTP layer (contract; notes §7): HTTP Basic or
 * Digest (RFC 7616: MD5 or SHA-256, qop=auth) with the device's client
 * credentials as the registry holds them (clientUsername/clientPassword).
 * A device registered with `authType` basic may use either; any other only
 * Digest, so its password never crosses the wire.
 *
 * Digest nonces are stateless: the expiry and an HMAC over it and the device
 * id, keyed from the gateway key, so any gateway process can check one and
 * nothing is stored per challenge. A nonce is good for DIGEST_NONCE_TTL_MS
 * (then `stale=true`: the client retries with the new one without asking its
 * user). Replays within that window are not detected (no nc tracking):
 * TLS, which /dm2 requires outside labs, is what keeps the header secret.
 */
import crypto from 'node:crypto';
import type { DeviceAuthRecord } from '../dm/session/context.js';
import { DIGEST_NONCE_TTL_MS, DIGEST_REALM } from './constants.js';

export type HttpAuthFailure = 'missing' | 'malformed' | 'scheme-not-allowed' | 'wrong-user' | 'wrong-password' | 'stale-nonce' | 'bad-nonce';

export type HttpAuthResult = { ok: true; scheme: 'basic' | 'digest' } | { ok: false; reason: HttpAuthFailure };

const HKDF_LABEL = 'dmwsi dm2 digest nonces v1';
/** An Authorization header longer than this is refused unread (no credentials of ours are that long). */
const MAX_HEADER = 4096;

export class Dm2HttpAuth {
  private readonly key: Buffer;

  constructor(gatewayKey: Buffer) {
    this.key = Buffer.from(crypto.hkdfSync('sha256', gatewayKey, Buffer.alloc(0), HKDF_LABEL, 32));
  }

  /** Checks the Authorization header of a request (`method`, request-target `path`) for `device`. */
  verify(header: string | undefined, method: string, path: string, device: DeviceAuthRecord, now: number): HttpAuthResult {
    if (header === undefined || header === '') return { ok: false, reason: 'missing' };
    if (header.length > MAX_HEADER) return { ok: false, reason: 'malformed' };
    const space = header.indexOf(' ');
    const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
    const rest = space === -1 ? '' : header.slice(space + 1).trim();
    if (scheme === 'basic') {
      if (device.authType !== 'basic') return { ok: false, reason: 'scheme-not-allowed' };
      return this.verifyBasic(rest, device);
    }
    if (scheme === 'digest') return this.verifyDigest(rest, method, path, device, now);
    return { ok: false, reason: 'malformed' };
  }

  /** The WWW-Authenticate values of a 401 for this device: Digest (both algorithms), and Basic when it may use it. */
  challenges(device: DeviceAuthRecord | undefined, deviceId: string, now: number, stale = false): string[] {
    const nonce = this.nonce(deviceId, now);
    const digest = (algorithm: string) =>
      `Digest realm="${DIGEST_REALM}", qop="auth", algorithm=${algorithm}, nonce="${nonce}"${stale ? ', stale=true' : ''}`;
    const out = [digest('SHA-256'), digest('MD5')];
    if (device?.authType === 'basic') out.push(`Basic realm="${DIGEST_REALM}", charset="UTF-8"`);
    return out;
  }

  nonce(deviceId: string, now: number): string {
    const expires = (now + DIGEST_NONCE_TTL_MS).toString(36);
    return `${expires}.${this.mac(expires, deviceId)}`;
  }

  private verifyBasic(b64: string, device: DeviceAuthRecord): HttpAuthResult {
    const decoded = Buffer.from(b64, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return { ok: false, reason: 'malformed' };
    if (!same(decoded.slice(0, colon), device.clientUsername)) return { ok: false, reason: 'wrong-user' };
    if (!same(decoded.slice(colon + 1), device.clientPassword)) return { ok: false, reason: 'wrong-password' };
    return { ok: true, scheme: 'basic' };
  }

  private verifyDigest(params: string, method: string, path: string, device: DeviceAuthRecord, now: number): HttpAuthResult {
    const p = parseDigestParams(params);
    if (p === undefined) return { ok: false, reason: 'malformed' };
    const { username, realm, nonce, uri, response, qop, nc, cnonce } = p;
    if (!username || !realm || !nonce || !uri || !response || qop !== 'auth' || !nc || !cnonce) return { ok: false, reason: 'malformed' };
    const algorithm = (p.algorithm ?? 'MD5').toUpperCase();
    const hash = algorithm === 'MD5' ? 'md5' : algorithm === 'SHA-256' ? 'sha256' : undefined;
    // The response covers the request-target it names: it must be this request's.
    if (hash === undefined || realm !== DIGEST_REALM || uri !== path) return { ok: false, reason: 'malformed' };
    const dot = nonce.indexOf('.');
    if (dot <= 0) return { ok: false, reason: 'bad-nonce' };
    const expires = nonce.slice(0, dot);
    if (!same(nonce.slice(dot + 1), this.mac(expires, device.deviceId))) return { ok: false, reason: 'bad-nonce' };
    if (!same(username, device.clientUsername)) return { ok: false, reason: 'wrong-user' };
    const h = (s: string) => crypto.createHash(hash).update(s).digest('hex');
    const ha1 = h(`${username}:${realm}:${device.clientPassword}`);
    const ha2 = h(`${method}:${uri}`);
    const expected = h(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
    if (!same(response.toLowerCase(), expected)) return { ok: false, reason: 'wrong-password' };
    // Checked last: a stale nonce with the right password asks only for a new nonce.
    if (!(Number.parseInt(expires, 36) > now)) return { ok: false, reason: 'stale-nonce' };
    return { ok: true, scheme: 'digest' };
  }

  private mac(expires: string, deviceId: string): string {
    return crypto.createHmac('sha256', this.key).update(`${expires}\n${deviceId}`).digest('base64url');
  }
}

/**
 * `k=v, k="v"` pairs of a Digest header; undefined when malformed. One pass,
 * linear in the input.
 */
export function parseDigestParams(s: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let i = 0;
  const n = s.length;
  while (i < n) {
    while (i < n && (s[i] === ' ' || s[i] === ',')) i++;
    if (i >= n) break;
    const eq = s.indexOf('=', i);
    if (eq === -1) return undefined;
    const key = s.slice(i, eq).trim().toLowerCase();
    if (key === '' || key.length > 32) return undefined;
    i = eq + 1;
    let value = '';
    if (s[i] === '"') {
      i++;
      while (i < n && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < n) i++;
        value += s[i];
        i++;
      }
      if (i >= n) return undefined;
      i++;
    } else {
      const end = s.indexOf(',', i);
      value = (end === -1 ? s.slice(i) : s.slice(i, end)).trim();
      i = end === -1 ? n : end;
    }
    out[key] = value;
  }
  return out;
}

/** The client side of Digest (the simulator and tests): the Authorization value for a challenge. */
export function digestAuthorization(opts: {
  challenge: string;
  method: string;
  uri: string;
  username: string;
  password: string;
  cnonce?: string;
  nc?: number;
}): string {
  const c = parseDigestParams(opts.challenge.replace(/^\s*digest\s+/i, '')) ?? {};
  const algorithm = (c.algorithm ?? 'MD5').toUpperCase();
  const hash = algorithm === 'SHA-256' ? 'sha256' : 'md5';
  const h = (s: string) => crypto.createHash(hash).update(s).digest('hex');
  const realm = c.realm ?? '';
  const nonce = c.nonce ?? '';
  const nc = (opts.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = opts.cnonce ?? crypto.randomBytes(8).toString('hex');
  const ha1 = h(`${opts.username}:${realm}:${opts.password}`);
  const ha2 = h(`${opts.method}:${opts.uri}`);
  const response = h(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return `Digest username="${opts.username}", realm="${realm}", nonce="${nonce}", uri="${opts.uri}", algorithm=${algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${response}"`;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}
