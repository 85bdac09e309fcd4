/**
 * OMA DM 1.2 Package#0: the server-alerted management session trigger
 * (notes §4). Binary, big-endian:
 *
 *   digest[16] | header[8] | server-id[len] | vendor-specific[rest]
 *   header = version 10 | ui-mode 2 | initiator 1 | future 27 (=0)
 *          | session-id 16 | server-id-length 8
 *
 * digest = MD5( B64(MD5(server-id ":" password)) ":" nonce ":" B64(MD5(trigger)) )
 * where trigger = every byte after the digest. Pure functions only.
 */
import { timingSafeEqual } from 'node:crypto';
import { hmacMac, userDigest } from '../auth/credentials.js';

export type UiMode = 'not-specified' | 'background' | 'informative' | 'user-interaction';
export type Initiator = 'user' | 'server';

/** SRVCRED secret: the password, or the user digest the server stored instead. */
export type ServerDigestSecret = { serverId: string; password: string } | { userDigest: string };

export interface TriggerInput {
  /**
   * DEC(field)/10. Default 11: DM 1.2.1 text shows 0000001011, libdmclient
   * accepts only 11 and Android ignores the field (whether a strict client
   * wants 12 is unconfirmed).
   */
  version?: number;
  uiMode: UiMode;
  initiator: Initiator;
  /** 1..0xFFFF; the client uses it as SessionID (see sessionIdToHex). */
  sessionId: number;
  /** DMAcc ServerID, UTF-8, at most 255 bytes. */
  serverId: string;
  vendorSpecific?: Buffer;
  serverDigestSecret: ServerDigestSecret;
  /** The server nonce (SRVCRED AAuthData) as raw bytes. */
  nonce: Buffer;
}

export interface ParsedTrigger {
  digest: Buffer;
  version: number;
  uiMode: UiMode;
  initiator: Initiator;
  sessionId: number;
  serverId: string;
  /** Empty when absent. */
  vendorSpecific: Buffer;
}

export const DEFAULT_TRIGGER_VERSION = 11;
/** Nonce a client retries with after failing the stored one (Android: b64 AAAAAA==). */
export const RESYNC_NONCE: Buffer = Buffer.alloc(4);

const DIGEST_LEN = 16;
const HEADER_LEN = 8;

const UI_MODES: readonly UiMode[] = ['not-specified', 'background', 'informative', 'user-interaction'];

/** Raised for input that cannot be a Package#0; carries why for logs and tests. */
export class TriggerParseError extends Error {
  override readonly name = 'TriggerParseError';
}

export function buildTrigger(input: TriggerInput): Buffer {
  const version = input.version ?? DEFAULT_TRIGGER_VERSION;
  if (!Number.isInteger(version) || version < 0 || version > 0x3ff) {
    throw new RangeError(`trigger version must fit 10 bits: ${version}`);
  }
  assertSessionId(input.sessionId);
  const serverId = Buffer.from(input.serverId, 'utf8');
  if (serverId.length === 0 || serverId.length > 0xff) {
    throw new RangeError(`server id must be 1..255 bytes, got ${serverId.length}`);
  }
  const header = Buffer.alloc(HEADER_LEN);
  // First 16 bits: version(10) ui(2) initiator(1) and the top 3 future bits (0).
  const ui = UI_MODES.indexOf(input.uiMode);
  header.writeUInt16BE((version << 6) | (ui << 4) | ((input.initiator === 'server' ? 1 : 0) << 3), 0);
  // Bytes 2..4 are the remaining 24 future-use bits: already zero.
  header.writeUInt16BE(input.sessionId, 5);
  header.writeUInt8(serverId.length, 7);
  const trigger = Buffer.concat([header, serverId, input.vendorSpecific ?? Buffer.alloc(0)]);
  return Buffer.concat([triggerDigest(trigger, input.serverDigestSecret, input.nonce), trigger]);
}

export function parseTrigger(bytes: Buffer): ParsedTrigger {
  if (bytes.length < DIGEST_LEN + HEADER_LEN) {
    throw new TriggerParseError(`Package#0 too short: ${bytes.length} bytes`);
  }
  const h = DIGEST_LEN;
  const first = bytes.readUInt16BE(h);
  const idLen = bytes.readUInt8(h + 7);
  const idStart = h + HEADER_LEN;
  if (idStart + idLen > bytes.length) {
    throw new TriggerParseError(`server id length ${idLen} exceeds the ${bytes.length - idStart} bytes left`);
  }
  // Future-use bits are ignored, as a receiver must for forward compatibility.
  return {
    digest: Buffer.from(bytes.subarray(0, DIGEST_LEN)),
    version: first >>> 6,
    uiMode: UI_MODES[(first >>> 4) & 0x3]!,
    initiator: (first >>> 3) & 0x1 ? 'server' : 'user',
    sessionId: bytes.readUInt16BE(h + 5),
    serverId: bytes.toString('utf8', idStart, idStart + idLen),
    vendorSpecific: Buffer.from(bytes.subarray(idStart + idLen)),
  };
}

/** True when the digest matches the trigger for this secret and nonce (constant time). */
export function verifyTriggerDigest(bytes: Buffer, secret: ServerDigestSecret, nonce: Buffer): boolean {
  if (bytes.length < DIGEST_LEN + HEADER_LEN) return false;
  const expected = triggerDigest(bytes.subarray(DIGEST_LEN), secret, nonce);
  return timingSafeEqual(expected, bytes.subarray(0, DIGEST_LEN));
}

/**
 * Client-side check with nonce resync (notes §4): try the stored nonce, then
 * the resync nonce. 'resync' tells the client to start the session with
 * credentials on that nonce and expect a Chal with a new one.
 */
export function verifyTriggerDigestWithResync(
  bytes: Buffer,
  secret: ServerDigestSecret,
  storedNonce: Buffer,
  resyncNonce: Buffer = RESYNC_NONCE,
): 'stored' | 'resync' | 'none' {
  if (verifyTriggerDigest(bytes, secret, storedNonce)) return 'stored';
  if (verifyTriggerDigest(bytes, secret, resyncNonce)) return 'resync';
  return 'none';
}

/**
 * The SessionID a client uses after this trigger: uppercase hex without
 * leading zeros (0x00A3 → "A3").
 */
export function sessionIdToHex(n: number): string {
  assertSessionId(n);
  return n.toString(16).toUpperCase();
}

function triggerDigest(trigger: Buffer, secret: ServerDigestSecret, nonce: Buffer): Buffer {
  const digestB64 = 'userDigest' in secret ? secret.userDigest : userDigest(secret.serverId, secret.password);
  // Same construction as the x-syncml-hmac mac, over the trigger instead of
  // a body, but carried as the 16 raw MD5 bytes rather than base64.
  return Buffer.from(hmacMac(digestB64, nonce, trigger), 'base64');
}

function assertSessionId(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 0xffff) {
    throw new RangeError(`session id must be 1..0xFFFF, got ${n}`);
  }
}
