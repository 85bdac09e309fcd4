/**
 * DM 2.0 Package#0 (version 2, seed 001 §5.2.1; notes §7): a 2-byte header
 * VER (4 bits, 0x2) | OC (5 bits, the option count) | reserved (7 bits, 0),
 * then OC options in ascending option number, each `delta (4 bits) |
 * length (12 bits)` and `length` value bytes, delta being the option number
 * minus the previous option's (the first's from 0).
 *
 * Unconfirmed, chosen here (notes: "length width unconfirmed"): the 12-bit
 * length beside the delta (values up to 4,095 bytes, a SERVER-ID included);
 * TIMESTAMP as 4 bytes, big-endian POSIX seconds; NOTIFICATION-ID 2 bytes;
 * PREFERRED-CON-TYPE 1 byte; SHA256-DIGEST over secret ‖ the notification
 * with the digest's 32 value bytes zeroed ‖ auth data, the secret being the
 * server password the device holds for us (SRVCRED AAuthSecret) and the auth
 * data empty: DM 2.0 has no server-nonce exchange to draw one from (a DM 1.2
 * device learns ours in its sessions); freshness comes from TIMESTAMP, which
 * a device checks, and repeats collapse by NOTIFICATION-ID.
 */
import crypto from 'node:crypto';

export const PACKAGE0_V2_VERSION = 0x2;

export const OPTION = {
  serverId: 1,
  preferredConType: 2,
  notificationId: 3,
  sha256Digest: 4,
  timestamp: 5,
  reqMos: 6,
} as const;

export type PreferredConType = 0 | 1 | 2 | 3;

export interface Package0V2 {
  serverId: string;
  /** 0 any, 1 cellular, 2 WLAN, 3 wireline. */
  preferredConType?: PreferredConType;
  /** 0..0xFFFF: a repeated id is the same notification (one session). */
  notificationId?: number;
  /** Seconds since the epoch. */
  timestamp?: number;
  /** Ask the client for its MO list (MOS) in Package#1. */
  reqMos?: boolean;
}

export class Package0Error extends Error {
  override readonly name = 'Package0Error';
}

/** The notification, signed with SHA256-DIGEST. */
export function encodePackage0V2(p: Package0V2, secret: { password: string; authData: Buffer }): Buffer {
  const options: [number, Buffer][] = [[OPTION.serverId, Buffer.from(p.serverId, 'utf8')]];
  if (p.preferredConType !== undefined) options.push([OPTION.preferredConType, Buffer.from([p.preferredConType])]);
  if (p.notificationId !== undefined) options.push([OPTION.notificationId, u16(p.notificationId)]);
  options.push([OPTION.sha256Digest, Buffer.alloc(32)]);
  if (p.timestamp !== undefined) options.push([OPTION.timestamp, u32(p.timestamp)]);
  if (p.reqMos) options.push([OPTION.reqMos, Buffer.alloc(0)]);
  const parts: Buffer[] = [Buffer.from([(PACKAGE0_V2_VERSION << 4) | (options.length >> 1), (options.length & 1) << 7])];
  let previous = 0;
  let digestAt = -1;
  let offset = 2;
  for (const [number, value] of options) {
    if (value.length > 0xfff) throw new Package0Error(`option ${number} is longer than 4095 bytes`);
    parts.push(Buffer.from([((number - previous) << 4) | (value.length >> 8), value.length & 0xff]));
    offset += 2;
    if (number === OPTION.sha256Digest) digestAt = offset;
    parts.push(value);
    offset += value.length;
    previous = number;
  }
  const out = Buffer.concat(parts);
  digest(out, digestAt, secret).copy(out, digestAt);
  return out;
}

export interface ParsedPackage0V2 extends Package0V2 {
  /** Where the digest's value starts, when present (for verification). */
  digestAt?: number;
  digest?: Buffer;
}

/** Reads a version 2 notification; throws Package0Error on anything malformed. */
export function parsePackage0V2(bytes: Buffer): ParsedPackage0V2 {
  if (bytes.length < 2) throw new Package0Error('shorter than its header');
  const version = bytes[0]! >> 4;
  if (version !== PACKAGE0_V2_VERSION) throw new Package0Error(`version ${version}, not 2`);
  const count = ((bytes[0]! & 0x0f) << 1) | (bytes[1]! >> 7);
  if ((bytes[1]! & 0x7f) !== 0) throw new Package0Error('reserved bits set');
  const out: ParsedPackage0V2 = { serverId: '' };
  let at = 2;
  let number = 0;
  let sawServerId = false;
  for (let i = 0; i < count; i++) {
    if (at + 2 > bytes.length) throw new Package0Error(`option ${i + 1} of ${count} is cut off`);
    const delta = bytes[at]! >> 4;
    const length = ((bytes[at]! & 0x0f) << 8) | bytes[at + 1]!;
    at += 2;
    if (delta === 0) throw new Package0Error('options not in ascending order');
    number += delta;
    if (at + length > bytes.length) throw new Package0Error(`option ${number} is cut off`);
    const value = bytes.subarray(at, at + length);
    switch (number) {
      case OPTION.serverId:
        out.serverId = value.toString('utf8');
        sawServerId = true;
        break;
      case OPTION.preferredConType:
        if (length !== 1 || value[0]! > 3) throw new Package0Error('PREFERRED-CON-TYPE must be one byte 0-3');
        out.preferredConType = value[0] as PreferredConType;
        break;
      case OPTION.notificationId:
        if (length !== 2) throw new Package0Error('NOTIFICATION-ID must be 2 bytes');
        out.notificationId = value.readUInt16BE(0);
        break;
      case OPTION.sha256Digest:
        if (length !== 32) throw new Package0Error('SHA256-DIGEST must be 32 bytes');
        out.digestAt = at;
        out.digest = Buffer.from(value);
        break;
      case OPTION.timestamp:
        if (length !== 4) throw new Package0Error('TIMESTAMP must be 4 bytes');
        out.timestamp = value.readUInt32BE(0);
        break;
      case OPTION.reqMos:
        if (length !== 0) throw new Package0Error('REQ-MOS carries no value');
        out.reqMos = true;
        break;
      default:
        // Unknown options are skipped: a later version may add some.
        break;
    }
    at += length;
  }
  if (at !== bytes.length) throw new Package0Error('bytes after the last option');
  if (!sawServerId) throw new Package0Error('no SERVER-ID');
  return out;
}

/** Whether the notification's SHA256-DIGEST matches this secret (false when it carries none). */
export function verifyPackage0V2(bytes: Buffer, parsed: ParsedPackage0V2, secret: { password: string; authData: Buffer }): boolean {
  if (parsed.digestAt === undefined || parsed.digest === undefined) return false;
  const zeroed = Buffer.from(bytes);
  zeroed.fill(0, parsed.digestAt, parsed.digestAt + 32);
  return crypto.timingSafeEqual(digest(zeroed, parsed.digestAt, secret), parsed.digest);
}

function digest(notification: Buffer, digestAt: number, secret: { password: string; authData: Buffer }): Buffer {
  const zeroed = Buffer.from(notification);
  if (digestAt >= 0) zeroed.fill(0, digestAt, digestAt + 32);
  return crypto.createHash('sha256').update(Buffer.from(secret.password, 'utf8')).update(zeroed).update(secret.authData).digest();
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(Math.floor(n) >>> 0);
  return b;
}
