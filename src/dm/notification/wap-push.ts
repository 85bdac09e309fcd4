/**
 * WAP Push over SMS for Package#0 (notes §4): a connectionless WSP Push PDU
 * carried in WDP over 8-bit SMS, with a User Data Header for port addressing
 * and, when needed, concatenation.
 *
 *   SMS user data = UDH | WSP PDU (or a slice of it)
 *   UDH  = UDHL | 05 04 <dst port 16> <src port 16> [| 00 03 <ref> <total> <seq>]
 *   WSP  = TID | 06 (Push) | headers-length (uintvar) | C4 (content type 0x44)
 *          | AF 87 (X-WAP-Application-ID: 0x07 = x-wap-application:syncml.dm) | body
 *
 * Pure: the caller sends the segments (SMPP, HTTP gateway) and picks the
 * concatenation reference. `parseWapPush` is the handset side, for tests and
 * the simulator.
 */
import { createHash } from 'node:crypto';

export const CONTENT_TYPE_DM_NOTIFICATION = 'application/vnd.syncml.notification';
export const APPLICATION_ID_SYNCML_DM = 'x-wap-application:syncml.dm';
/** WDP destination port of the WAP Push (connectionless session) service. */
export const WAP_PUSH_PORT = 2948;
/** Conventional WDP source port (WSP connectionless). */
export const WAP_SOURCE_PORT = 9200;
/** 8-bit SMS user data, UDH included. */
export const SMS_USER_DATA_MAX = 140;
/** Notes §4: WDP + WSP headers must stay within 48 bytes. */
export const MAX_WDP_WSP_HEADER = 48;

const WSP_PDU_PUSH = 0x06;
const WSP_HEADER_APPLICATION_ID = 0x2f;
const IEI_CONCAT_8 = 0x00;
const IEI_PORTS_8 = 0x04;
const IEI_PORTS_16 = 0x05;
const IEI_CONCAT_16 = 0x08;

/** WSP well-known content types used by DM (notes §1). */
const CONTENT_TYPES: ReadonlyMap<number, string> = new Map([
  [0x42, 'application/vnd.syncml.dm+wbxml'],
  [0x43, 'application/vnd.syncml.dm+xml'],
  [0x44, CONTENT_TYPE_DM_NOTIFICATION],
]);
const APPLICATION_IDS: ReadonlyMap<number, string> = new Map([[0x07, APPLICATION_ID_SYNCML_DM]]);

export interface WapPushSegment {
  /** The User Data Header including its length byte (UDHL). */
  udh: Buffer;
  /** This segment's slice of the WSP PDU. */
  payload: Buffer;
  /** udh ‖ payload: the SMS user data to send with the UDHI flag (esm_class 0x40). */
  full: Buffer;
}

export interface WapPushOptions {
  /** WSP transaction id; connectionless push gives it no meaning. Default 0. */
  transactionId?: number;
  /**
   * 8-bit concatenation reference. Default: the first byte of MD5(PDU), so
   * a resent trigger reuses its reference and different triggers to one
   * handset rarely collide, without hidden counters here.
   */
  reference?: number;
}

export interface ParsedWapPush {
  transactionId: number;
  /** A media type string, or the numeric code when it is not one we name. */
  contentType: string | number;
  /** A URI string, or the numeric code when it is not one we name; undefined if absent. */
  applicationId: string | number | undefined;
  destinationPort: number;
  sourcePort: number;
  body: Buffer;
}

export class WapPushParseError extends Error {
  override readonly name = 'WapPushParseError';
}

/** The connectionless WSP Push PDU for a DM notification body. */
export function buildWspPush(body: Buffer, transactionId = 0): Buffer {
  if (!Number.isInteger(transactionId) || transactionId < 0 || transactionId > 0xff) {
    throw new RangeError(`transaction id must be one byte: ${transactionId}`);
  }
  const headers = Buffer.from([0x80 | 0x44, 0x80 | WSP_HEADER_APPLICATION_ID, 0x80 | 0x07]);
  return Buffer.concat([Buffer.from([transactionId, WSP_PDU_PUSH]), encodeUintvar(headers.length), headers, body]);
}

/** Splits a Package#0 into SMS user data segments. */
export function buildWapPush(body: Buffer, options: WapPushOptions = {}): WapPushSegment[] {
  const pdu = buildWspPush(body, options.transactionId ?? 0);
  const ports = Buffer.from([IEI_PORTS_16, 4, 0, 0, 0, 0]);
  ports.writeUInt16BE(WAP_PUSH_PORT, 2);
  ports.writeUInt16BE(WAP_SOURCE_PORT, 4);

  if (1 + ports.length + pdu.length <= SMS_USER_DATA_MAX) {
    return [segment(Buffer.concat([Buffer.from([ports.length]), ports]), pdu)];
  }
  const reference = options.reference ?? createHash('md5').update(pdu).digest()[0]!;
  if (!Number.isInteger(reference) || reference < 0 || reference > 0xff) {
    throw new RangeError(`concatenation reference must be one byte: ${reference}`);
  }
  // Ports go in every segment, as Kannel does, so any segment identifies the application.
  const udhLen = 1 + ports.length + 5;
  const room = SMS_USER_DATA_MAX - udhLen;
  const total = Math.ceil(pdu.length / room);
  if (total > 0xff) throw new RangeError(`PDU of ${pdu.length} bytes needs ${total} SMS (max 255)`);
  const segments: WapPushSegment[] = [];
  for (let i = 0; i < total; i++) {
    const udh = Buffer.concat([
      Buffer.from([udhLen - 1]),
      ports,
      Buffer.from([IEI_CONCAT_8, 3, reference, total, i + 1]),
    ]);
    segments.push(segment(udh, pdu.subarray(i * room, (i + 1) * room)));
  }
  return segments;
}

/** Reassembles segments (any order) and decodes the WSP Push: the handset side. */
export function parseWapPush(segments: readonly (Buffer | { full: Buffer })[]): ParsedWapPush {
  if (segments.length === 0) throw new WapPushParseError('no segments');
  const parsed = segments.map((s) => parseUserData(Buffer.isBuffer(s) ? s : s.full));
  const first = parsed[0]!;
  let ordered = parsed;
  if (first.concat !== undefined) {
    const { reference, total } = first.concat;
    if (parsed.length !== total) throw new WapPushParseError(`have ${parsed.length} of ${total} segments`);
    ordered = new Array(total);
    for (const p of parsed) {
      if (p.concat === undefined || p.concat.reference !== reference || p.concat.total !== total) {
        throw new WapPushParseError('segments from different messages');
      }
      const { seq } = p.concat;
      if (seq < 1 || seq > total || ordered[seq - 1] !== undefined) {
        throw new WapPushParseError(`bad or repeated sequence number ${seq}`);
      }
      ordered[seq - 1] = p;
    }
  } else if (parsed.length > 1) {
    throw new WapPushParseError('several segments without concatenation header');
  }
  const head = ordered[0]!;
  if (head.ports === undefined) throw new WapPushParseError('no WDP port addressing');
  const pdu = Buffer.concat(ordered.map((p) => p.payload));
  return { ...parseWspPush(pdu), destinationPort: head.ports.destination, sourcePort: head.ports.source };
}

function segment(udh: Buffer, payload: Buffer): WapPushSegment {
  return { udh, payload: Buffer.from(payload), full: Buffer.concat([udh, payload]) };
}

interface UserData {
  ports?: { destination: number; source: number };
  concat?: { reference: number; total: number; seq: number };
  payload: Buffer;
}

function parseUserData(full: Buffer): UserData {
  if (full.length < 1) throw new WapPushParseError('empty user data');
  const udhl = full[0]!;
  if (1 + udhl > full.length) throw new WapPushParseError('UDH longer than user data');
  const out: UserData = { payload: full.subarray(1 + udhl) };
  let i = 1;
  while (i < 1 + udhl) {
    if (i + 2 > 1 + udhl) throw new WapPushParseError('truncated UDH element');
    const iei = full[i]!;
    const len = full[i + 1]!;
    const v = full.subarray(i + 2, i + 2 + len);
    if (i + 2 + len > 1 + udhl) throw new WapPushParseError(`UDH element 0x${iei.toString(16)} overruns UDH`);
    if (iei === IEI_PORTS_16 && len === 4) {
      out.ports = { destination: v.readUInt16BE(0), source: v.readUInt16BE(2) };
    } else if (iei === IEI_PORTS_8 && len === 2) {
      out.ports = { destination: v[0]!, source: v[1]! };
    } else if (iei === IEI_CONCAT_8 && len === 3) {
      out.concat = { reference: v[0]!, total: v[1]!, seq: v[2]! };
    } else if (iei === IEI_CONCAT_16 && len === 4) {
      out.concat = { reference: v.readUInt16BE(0), total: v[2]!, seq: v[3]! };
    }
    // Other elements (e.g. SMSC control) do not concern the push: skipped.
    i += 2 + len;
  }
  return out;
}

/** Decodes a connectionless WSP Push PDU (WAP-230 §8.2.4.1, §8.4). */
export function parseWspPush(pdu: Buffer): Omit<ParsedWapPush, 'destinationPort' | 'sourcePort'> {
  const r = new Reader(pdu);
  const transactionId = r.byte();
  const type = r.byte();
  if (type !== WSP_PDU_PUSH) throw new WapPushParseError(`not a WSP Push PDU: type 0x${type.toString(16)}`);
  const headersLen = r.uintvar();
  const headersEnd = r.pos + headersLen;
  if (headersEnd > pdu.length) throw new WapPushParseError('headers overrun the PDU');
  const contentType = readContentType(r);
  let applicationId: string | number | undefined;
  while (r.pos < headersEnd) {
    const b = r.peek();
    if (b >= 0x80) {
      r.byte();
      const field = b & 0x7f;
      const value = readFieldValue(r);
      if (field === WSP_HEADER_APPLICATION_ID) applicationId = decodeApplicationId(value);
    } else if (b >= 0x20) {
      r.text(); // application header name
      r.text(); // and its text value
    } else {
      throw new WapPushParseError(`bad header byte 0x${b.toString(16)}`);
    }
  }
  if (r.pos !== headersEnd) throw new WapPushParseError('headers length mismatch');
  return { transactionId, contentType, applicationId, body: Buffer.from(pdu.subarray(headersEnd)) };
}

type FieldValue = { short: number } | { text: string } | { bytes: Buffer };

function readFieldValue(r: Reader): FieldValue {
  const b = r.peek();
  if (b >= 0x80) return { short: r.byte() & 0x7f };
  if (b >= 0x20) return { text: r.text() };
  return { bytes: r.bytes(r.valueLength()) };
}

function decodeApplicationId(v: FieldValue): string | number {
  if ('text' in v) return v.text;
  // A long integer: big-endian bytes after the length.
  const code = 'short' in v ? v.short : v.bytes.reduce((n, x) => n * 256 + x, 0);
  return APPLICATION_IDS.get(code) ?? code;
}

function readContentType(r: Reader): string | number {
  const v = readFieldValue(r);
  if ('text' in v) return v.text;
  if ('short' in v) return CONTENT_TYPES.get(v.short) ?? v.short;
  // Content-general-form: media (well-known or text) followed by parameters we ignore.
  const inner = new Reader(v.bytes);
  const media = readFieldValue(inner);
  if ('text' in media) return media.text;
  if ('short' in media) return CONTENT_TYPES.get(media.short) ?? media.short;
  return media.bytes.reduce((n, x) => n * 256 + x, 0);
}

function encodeUintvar(n: number): Buffer {
  const out = [n & 0x7f];
  for (let v = n >>> 7; v > 0; v >>>= 7) out.unshift(0x80 | (v & 0x7f));
  return Buffer.from(out);
}

/** Bounds-checked cursor; every overrun becomes a WapPushParseError. */
class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  peek(): number {
    if (this.pos >= this.buf.length) throw new WapPushParseError('unexpected end of PDU');
    return this.buf[this.pos]!;
  }

  byte(): number {
    const b = this.peek();
    this.pos++;
    return b;
  }

  bytes(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw new WapPushParseError('value overruns the PDU');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  uintvar(): number {
    let n = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      n = n * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) return n;
    }
    throw new WapPushParseError('uintvar longer than 5 bytes');
  }

  /** Value-length: 0..30 inline, or 31 followed by a uintvar. */
  valueLength(): number {
    const b = this.byte();
    return b === 31 ? this.uintvar() : b;
  }

  /** NUL-terminated text; a leading quote (0x7F) is not part of the value. */
  text(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw new WapPushParseError('unterminated text');
    let start = this.pos;
    if (this.buf[start] === 0x7f) start++;
    this.pos = end + 1;
    return this.buf.toString('utf8', start, end);
  }
}
