/**
 * SyncML DM credential primitives (OMA DM 1.2 security, notes §3).
 *
 * Pure functions over node:crypto: no I/O, no module state. Every digest
 * here is MD5 because the protocol fixes it; MD5 is only used as the spec's
 * keyed-hash construction, never as a password store on its own (the store
 * keeps the "user digest" B64(MD5(user:password)), which is what the
 * protocol needs and all it needs).
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Meta Type values carried in Cred / Chal (notes §3). */
export const AUTH_BASIC = 'syncml:auth-basic';
export const AUTH_MD5 = 'syncml:auth-md5';
/** HMAC is requested by a Chal of this type but never sent in a Cred. */
export const AUTH_HMAC = 'syncml:auth-MAC';

/** The authentication scheme configured for a device (CLCRED AAuthType). */
export type DeviceAuthType = 'basic' | 'md5' | 'hmac';

export const AUTH_META_TYPE: Readonly<Record<DeviceAuthType, string>> = {
  basic: AUTH_BASIC,
  md5: AUTH_MD5,
  hmac: AUTH_HMAC,
};

/**
 * Maps a Meta Type back to our auth type. Case-insensitive because clients
 * disagree on the case of `syncml:auth-MAC`. An absent type means basic:
 * SyncML defaults a Cred's Meta Type to syncml:auth-basic.
 */
export function authTypeFromMeta(metaType: string | undefined): DeviceAuthType | undefined {
  if (metaType === undefined) return 'basic';
  const t = metaType.trim().toLowerCase();
  if (t === AUTH_BASIC) return 'basic';
  if (t === AUTH_MD5) return 'md5';
  if (t === AUTH_HMAC.toLowerCase()) return 'hmac';
  return undefined;
}

/**
 * B64(MD5(s)); strings are hashed as UTF-8. One-shot `hash` (Node ≥ 20.12):
 * half the time of a createHash object, and a DM message takes four of them
 * (the client's Cred checked, ours made).
 */
export function md5B64(s: string | Buffer): string {
  return hash('md5', s, 'base64');
}

/** B64(MD5(user ":" password)): what the server may store instead of the password. */
export function userDigest(user: string, password: string): string {
  return md5B64(`${user}:${password}`);
}

/** Cred Data for syncml:auth-basic: B64("user:password"). */
export function basicCredential(user: string, password: string): string {
  return Buffer.from(`${user}:${password}`, 'utf8').toString('base64');
}

/**
 * Splits a basic credential at the first colon (a user name cannot hold one,
 * a password can). Undefined when the text is not base64 or has no colon.
 */
export function parseBasicCredential(
  b64: string,
  /**
   * DM user names are often device ids with a colon (`IMEI:…`), which a
   * split at the first colon would cut: when the expected user name prefixes
   * the text, split right after it.
   */
  expectedUser?: string,
): { user: string; password: string } | undefined {
  const bytes = strictBase64Decode(b64.trim());
  if (bytes === undefined) return undefined;
  const text = bytes.toString('utf8');
  if (expectedUser !== undefined && text.startsWith(`${expectedUser}:`)) {
    return { user: expectedUser, password: text.slice(expectedUser.length + 1) };
  }
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

const COLON = Buffer.from(':', 'ascii');

/**
 * Cred Data for syncml:auth-md5: B64(MD5(userDigest ":" nonce)).
 * Buffers are concatenated (not strings) so binary nonces hash as sent.
 */
export function md5Credential(userDigestB64: string, nonce: Buffer): string {
  return md5B64(Buffer.concat([Buffer.from(userDigestB64, 'ascii'), COLON, nonce]));
}

/** x-syncml-hmac mac: B64(MD5(userDigest ":" nonce ":" B64(MD5(body)))). */
export function hmacMac(userDigestB64: string, nonce: Buffer, body: Buffer): string {
  return md5B64(
    Buffer.concat([
      Buffer.from(userDigestB64, 'ascii'),
      COLON,
      nonce,
      COLON,
      Buffer.from(md5B64(body), 'ascii'),
    ]),
  );
}

export interface HmacHeader {
  /** Upper-cased; `MD5` when the header omits it (the spec's default). */
  algorithm: string;
  username: string;
  mac: string;
}

// Linear (sticky, so one start per parameter; the quoted value's alternatives are disjoint: a
// plain character or a backslash pair). One `name = value` parameter; value is a quoted string (backslash escapes)
// or a token. Kept as source text: a sticky RegExp object carries lastIndex,
// so each call builds its own instead of sharing one at module level.
const HMAC_PARAM_SOURCE = String.raw`\s*([A-Za-z]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s",]+))\s*(,|$)`;

/**
 * Parses `algorithm=MD5, username="...", mac=...`. Parameter names are
 * case-insensitive and may come in any order; values may be quoted or bare.
 * Unknown or repeated parameters, a missing username or mac, or stray text
 * make the header invalid (undefined) rather than guessed at; the verifier
 * answers such a header with 401.
 */
export function parseHmacHeader(value: string): HmacHeader | undefined {
  const param = new RegExp(HMAC_PARAM_SOURCE, 'y');
  const found = new Map<string, string>();
  let pos = 0;
  const text = value.trim();
  if (text === '') return undefined;
  while (pos < text.length) {
    param.lastIndex = pos;
    const m = param.exec(text);
    if (m === null) return undefined;
    const name = m[1]!.toLowerCase();
    if (name !== 'algorithm' && name !== 'username' && name !== 'mac') return undefined;
    if (found.has(name)) return undefined;
    const v = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
    found.set(name, v);
    pos = param.lastIndex;
    // A trailing comma with nothing after it is malformed.
    if (m[4] === ',' && pos >= text.length) return undefined;
  }
  const username = found.get('username');
  const mac = found.get('mac');
  if (username === undefined || username === '' || mac === undefined || mac === '') {
    return undefined;
  }
  return { algorithm: (found.get('algorithm') ?? 'MD5').toUpperCase(), username, mac };
}

/** Formats the header value in the form clients send: algorithm first, username quoted. */
export function formatHmacHeader(h: { algorithm?: string; username: string; mac: string }): string {
  const user = h.username.replace(/["\\]/g, '\\$&');
  return `algorithm=${h.algorithm ?? 'MD5'}, username="${user}", mac=${h.mac}`;
}

/**
 * Decodes a NextNonce as received. Valid base64 yields its bytes; anything
 * else is used as its raw text bytes, because some servers put a plain-text
 * nonce in NextNonce and Android retries with the raw text when the decoded
 * form fails, so a tolerant reader interoperates with both.
 */
export function decodeNonce(b64: string): Buffer {
  return strictBase64Decode(b64.trim()) ?? Buffer.from(b64, 'utf8');
}

/** A fresh 128-bit nonce (notes §3: nonce ≥ 128 bits, new per session). */
export function newNonce(): { bytes: Buffer; b64: string } {
  const bytes = randomBytes(16);
  return { bytes, b64: bytes.toString('base64') };
}

/**
 * Constant-time string equality. Both sides are hashed first so the compare
 * always runs over 32 bytes and a length mismatch leaks nothing.
 */
export function timingSafeEqualString(a: string, b: string): boolean {
  return timingSafeEqual(hash('sha256', a, 'buffer'), hash('sha256', b, 'buffer'));
}

// Linear: anchored; groups of exactly four, then a bounded tail.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Buffer.from(…, 'base64') silently skips junk; this refuses it instead. */
function strictBase64Decode(s: string): Buffer | undefined {
  if (!BASE64.test(s)) return undefined;
  return Buffer.from(s, 'base64');
}
