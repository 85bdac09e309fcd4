/**
 * SyncML DM WBXML codec (hand-written; no usable npm package exists).
 *
 * Output: WBXML version 0x02, public id 0x1201 as mb_u_int32 (`A4 01`),
 * charset UTF-8 (0x6A), empty string table; strings as STR_I, Buffer item
 * data as OPAQUE; code page switches only right before a tag of the other
 * page (as libwbxml does). A string containing U+0000 (not representable in
 * STR_I) is written as OPAQUE UTF-8 bytes. NextNonce is written as STR_I
 * base64 text, like libwbxml's xml2wbxml.
 *
 * With `opaqueItemData`, every Item Data string goes as OPAQUE UTF-8 bytes,
 * as clients on the SyncML reference toolkit write it (simulator, tests).
 *
 * Input (see wbxml-reader.ts): OPAQUE Item Data is settled by Meta Format
 * (item-data.ts: text for text formats, a Buffer for `bin`);
 * for NextNonce it is taken as the raw nonce and returned base64-encoded
 * (the model carries base64 text); for Cred Data, printable-ASCII bytes are
 * taken as the text and other bytes are base64-encoded; elsewhere OPAQUE
 * bytes are read as UTF-8 text.
 */

import { emitMessage, type Sink } from './emit.js';
import { SyncMlDecodeError } from './errors.js';
import { resolveLimits } from './limits.js';
import type { TagDef } from './tags.js';
import { treeToMessage } from './tree-to-message.js';
import type { DecodeLimits, SyncMlMessage } from './types.js';
import { parseWbxmlTree } from './wbxml-reader.js';

/** Decodes a SyncML DM WBXML message. Throws SyncMlDecodeError on bad input. */
export function decodeWbxml(bytes: Buffer, limits?: Partial<DecodeLimits>): SyncMlMessage {
  const lim = resolveLimits(limits);
  if (bytes.length > lim.maxBytes) {
    throw new SyncMlDecodeError('too-large', `message larger than ${lim.maxBytes} bytes`);
  }
  return treeToMessage(parseWbxmlTree(bytes, lim));
}

export interface WbxmlEncodeOptions {
  /** Write every Item Data as OPAQUE (text as its UTF-8 bytes), like SyncML RTK clients. */
  opaqueItemData?: boolean;
}

/** Encodes a message as SyncML DM WBXML. */
export function encodeWbxml(msg: SyncMlMessage, options?: WbxmlEncodeOptions): Buffer {
  const w = new WbxmlWriter();
  emitMessage(msg, w, options?.opaqueItemData === true);
  return w.finish();
}

/**
 * The byte length of `encodeWbxml(msg)` (without options), counted without
 * writing: see encodedXmlSize for why.
 */
export function encodedWbxmlSize(msg: SyncMlMessage): number {
  const c = new WbxmlSizeCounter();
  emitMessage(msg, c);
  return c.bytes;
}

const HEADER = [0x02, 0xa4, 0x01, 0x6a, 0x00];
const END = 0x01;
const STR_I = 0x03;
const OPAQUE = 0xc3;
const SWITCH_PAGE = 0x00;
const CONTENT = 0x40;

/** Short ASCII strings are copied byte by byte: cheaper than Buffer#write's native call. */
function writeShort(buf: Buffer, pos: number, value: string): number {
  const n = value.length;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x80) return pos + buf.write(value, pos, 'utf8');
    buf[pos + i] = c;
  }
  return pos + n;
}

/** Bytes of an mb_u_int32 (WBXML's multi-byte length): 7 bits a byte, at most 5. */
function mbUint32Bytes(v: number): number {
  let n = 1;
  while (n < 5 && v >= 2 ** (7 * n)) n++;
  return n;
}

/** Counts what WbxmlWriter would write, byte for byte (page switches included). */
class WbxmlSizeCounter implements Sink {
  bytes = HEADER.length;
  private page = 0;

  private tag(tag: TagDef): void {
    if (tag.page !== this.page) {
      this.bytes += 2;
      this.page = tag.page;
    }
    this.bytes += 1;
  }

  open(tag: TagDef): void {
    this.tag(tag);
  }

  close(): void {
    this.bytes += 1;
  }

  text(tag: TagDef, value: string): void {
    if (value === '') {
      this.tag(tag);
      return;
    }
    if (value.includes('\0')) {
      this.opaqueOf(tag, Buffer.byteLength(value, 'utf8'));
      return;
    }
    this.tag(tag);
    // STR_I, the UTF-8 bytes, the terminating 0, END.
    this.bytes += Buffer.byteLength(value, 'utf8') + 3;
  }

  opaque(tag: TagDef, value: Buffer): void {
    this.opaqueOf(tag, value.length);
  }

  private opaqueOf(tag: TagDef, length: number): void {
    this.tag(tag);
    // OPAQUE, the length, the bytes, END.
    this.bytes += 1 + mbUint32Bytes(length) + length + 1;
  }

  empty(tag: TagDef): void {
    this.tag(tag);
  }
}

class WbxmlWriter implements Sink {
  private buf = Buffer.allocUnsafe(2048);
  private pos = 0;
  private page = 0;

  constructor() {
    for (const b of HEADER) this.buf[this.pos++] = b;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private tag(tag: TagDef, content: boolean): void {
    this.ensure(3);
    if (tag.page !== this.page) {
      this.buf[this.pos++] = SWITCH_PAGE;
      this.buf[this.pos++] = tag.page;
      this.page = tag.page;
    }
    this.buf[this.pos++] = content ? tag.token | CONTENT : tag.token;
  }

  open(tag: TagDef): void {
    this.tag(tag, true);
  }

  close(): void {
    this.ensure(1);
    this.buf[this.pos++] = END;
  }

  text(tag: TagDef, value: string): void {
    if (value === '') {
      this.tag(tag, false);
      return;
    }
    if (value.includes('\0')) {
      this.opaque(tag, Buffer.from(value, 'utf8'));
      return;
    }
    this.tag(tag, true);
    this.ensure(value.length * 3 + 3);
    const buf = this.buf;
    buf[this.pos++] = STR_I;
    this.pos = value.length <= 16 ? writeShort(buf, this.pos, value) : this.pos + buf.write(value, this.pos, 'utf8');
    buf[this.pos++] = 0;
    buf[this.pos++] = END;
  }

  opaque(tag: TagDef, value: Buffer): void {
    this.tag(tag, true);
    this.ensure(value.length + 7);
    const buf = this.buf;
    buf[this.pos++] = OPAQUE;
    this.mbUint32(value.length);
    this.pos += value.copy(buf, this.pos);
    buf[this.pos++] = END;
  }

  empty(tag: TagDef): void {
    this.tag(tag, false);
  }

  private mbUint32(v: number): void {
    const n = mbUint32Bytes(v);
    for (let i = n - 1; i >= 0; i--) {
      const group = Math.floor(v / 2 ** (7 * i)) & 0x7f;
      this.buf[this.pos++] = i > 0 ? group | 0x80 : group;
    }
  }
}
