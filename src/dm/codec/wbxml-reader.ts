/**
 * WBXML 1.1-1.3 reader for SyncML: header (version, public id numeric or via
 * the string table, charset, string table) and body tokens of code pages 0
 * (SyncML) and 1 (MetInf) into the neutral element tree. Iterative, bounded
 * by maxDepth/maxElements; every offset and length is checked.
 *
 * Accepted public ids: 0x1201 (SyncML 1.2), 0x0FD3 (SyncML 1.1), 0x1202 and
 * 0x1203 (MetInf/DevInf 1.2, sent by some devices), 0x01 (unknown), or 0x00 +
 * string-table index of `-//SYNCML//DTD SyncML 1.2//EN` / `... 1.1//EN`
 * (a table entry may end at the table's end without its NUL).
 * Accepted charsets: UTF-8 (0x6A), US-ASCII (0x03), ISO-8859-1 (0x04) and 0
 * (unknown, read as UTF-8).
 */

import { SyncMlDecodeError, type SyncMlDecodeReason } from './errors.js';
import { PAGE0_NAMES, PAGE1_NAMES } from './tags.js';
import { type ElementNode, newNode, partialHeaderOf } from './tree.js';
import type { DecodeLimits } from './types.js';

const SWITCH_PAGE = 0x00;
const END = 0x01;
const ENTITY = 0x02;
const STR_I = 0x03;
const STR_T = 0x83;
const OPAQUE = 0xc3;

const PUBLIC_IDS: ReadonlySet<number> = new Set([0x1201, 0x0fd3, 0x1202, 0x1203, 0x01]);
const PUBLIC_FPIS: ReadonlySet<string> = new Set(['-//SYNCML//DTD SYNCML 1.2//EN', '-//SYNCML//DTD SYNCML 1.1//EN']);

const GLOBAL_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0x04: 'LITERAL',
  0x40: 'EXT_I_0',
  0x41: 'EXT_I_1',
  0x42: 'EXT_I_2',
  0x43: 'PI',
  0x44: 'LITERAL_C',
  0x80: 'EXT_T_0',
  0x81: 'EXT_T_1',
  0x82: 'EXT_T_2',
  0x84: 'LITERAL_A',
  0xc0: 'EXT_0',
  0xc1: 'EXT_1',
  0xc2: 'EXT_2',
  0xc4: 'LITERAL_AC',
});

export function parseWbxmlTree(buf: Buffer, limits: DecodeLimits): ElementNode {
  const r = new WbxmlReader(buf, limits);
  try {
    return r.run();
  } catch (e) {
    if (e instanceof SyncMlDecodeError && e.header === undefined) e.header = partialHeaderOf(r.root);
    throw e;
  }
}

class WbxmlReader {
  root: ElementNode | undefined = undefined;
  private pos = 0;
  private encoding: 'utf8' | 'latin1' = 'utf8';
  private strtbl: Buffer = Buffer.alloc(0);

  constructor(
    private readonly buf: Buffer,
    private readonly limits: DecodeLimits,
  ) {}

  private fail(reason: SyncMlDecodeReason, msg: string, at = this.pos): never {
    throw new SyncMlDecodeError(reason, msg, at);
  }

  private byte(): number {
    const b = this.buf[this.pos];
    if (b === undefined) this.fail('truncated', 'input ends early');
    this.pos++;
    return b;
  }

  private mbUint32(): number {
    const start = this.pos;
    let v = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      v = v * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) {
        if (v > 0xffffffff) this.fail('bad-mb-uint32', 'mb_u_int32 overflows 32 bits', start);
        return v;
      }
    }
    this.fail('bad-mb-uint32', 'mb_u_int32 longer than 5 bytes', start);
  }

  run(): ElementNode {
    this.header();
    return this.body();
  }

  private header(): void {
    const version = this.byte();
    if (version < 0x01 || version > 0x03) {
      this.fail('unsupported-version', `WBXML version byte 0x${version.toString(16)}`, 0);
    }
    const publicId = this.mbUint32();
    const fpiIndex = publicId === 0 ? this.mbUint32() : -1;
    const charset = this.mbUint32();
    if (charset === 0x04) this.encoding = 'latin1';
    else if (charset !== 0x6a && charset !== 0x03 && charset !== 0) {
      this.fail('bad-encoding', `unsupported charset MIBenum ${charset}`);
    }
    const tblLen = this.mbUint32();
    if (tblLen > this.buf.length - this.pos) this.fail('truncated', 'string table exceeds input');
    this.strtbl = this.buf.subarray(this.pos, this.pos + tblLen);
    this.pos += tblLen;
    if (publicId !== 0) {
      if (!PUBLIC_IDS.has(publicId)) this.fail('not-syncml', `public id 0x${publicId.toString(16)}`, 1);
    } else {
      const fpi = this.tableString(fpiIndex).trim().toUpperCase();
      if (!PUBLIC_FPIS.has(fpi)) this.fail('not-syncml', `public id ${JSON.stringify(fpi)}`, 1);
    }
  }

  private tableString(offset: number): string {
    const t = this.strtbl;
    if (offset >= t.length) this.fail('bad-string-table-offset', `offset ${offset} outside string table`);
    // The last entry may end at the table's end without a NUL: handset
    // encoders write the FPI that way, and libwbxml reads it.
    const nul = t.indexOf(0, offset);
    return this.decode(t, offset, nul < 0 ? t.length : nul);
  }

  /** Short ASCII strings (CmdIDs, codes, formats) decode faster in JS than via a native call. */
  private decode(b: Buffer, start: number, end: number): string {
    if (end - start <= 6) {
      let r = '';
      for (let i = start; i < end; i++) {
        const c = b[i]!;
        if (c >= 0x80) return b.toString(this.encoding, start, end);
        r += String.fromCharCode(c);
      }
      return r;
    }
    return b.toString(this.encoding, start, end);
  }

  private body(): ElementNode {
    const buf = this.buf;
    const len = buf.length;
    const stack: ElementNode[] = [];
    let page = 0;
    let count = 0;
    for (;;) {
      if (this.pos >= len) this.fail('truncated', stack.length > 0 ? 'element not closed' : 'no root element');
      const at = this.pos;
      const tok = buf[this.pos++]!;
      switch (tok) {
        case SWITCH_PAGE:
          page = this.byte();
          continue;
        case END: {
          if (stack.pop() === undefined) this.fail('malformed', 'END without open element', at);
          if (stack.length === 0) return this.finish();
          continue;
        }
        case ENTITY: {
          const code = this.mbUint32();
          if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
            this.fail('bad-entity', `ENTITY ${code} is not a character`, at);
          }
          this.appendText(stack, String.fromCodePoint(code), at);
          continue;
        }
        case STR_I: {
          // A JS scan beats Buffer#indexOf's native call for the short strings SyncML has.
          let end = this.pos;
          while (end < len && buf[end] !== 0) end++;
          if (end >= len) this.fail('truncated', 'unterminated inline string', at);
          const s = this.decode(buf, this.pos, end);
          this.pos = end + 1;
          this.appendText(stack, s, at);
          continue;
        }
        case STR_T:
          this.appendText(stack, this.tableString(this.mbUint32()), at);
          continue;
        case OPAQUE: {
          const n = this.mbUint32();
          if (n > len - this.pos) this.fail('truncated', 'OPAQUE data exceeds input', at);
          this.appendOpaque(stack, buf.subarray(this.pos, this.pos + n), at);
          this.pos += n;
          continue;
        }
      }
      const global = GLOBAL_NAMES[tok];
      if (global !== undefined) this.fail('unknown-token', `unsupported global token ${global}`, at);
      if (tok & 0x80) this.fail('attribute', 'attributes are not used in SyncML', at);
      const table = page === 0 ? PAGE0_NAMES : page === 1 ? PAGE1_NAMES : undefined;
      const name = table?.[tok & 0x3f];
      if (name === undefined) {
        this.fail('unknown-token', `tag 0x${(tok & 0x3f).toString(16)} on code page ${page}`, at);
      }
      if (++count > this.limits.maxElements) {
        this.fail('too-many-elements', `more than ${this.limits.maxElements} elements`, at);
      }
      if (stack.length + 1 > this.limits.maxDepth) {
        this.fail('too-deep', `nesting deeper than ${this.limits.maxDepth}`, at);
      }
      const node = newNode(name);
      const parent = stack[stack.length - 1];
      if (parent === undefined) {
        if (name !== 'SyncML') this.fail('not-syncml', `root element is <${name}>`, at);
        this.root = node;
      } else if (parent.children === undefined) {
        parent.children = [node];
      } else {
        parent.children.push(node);
      }
      if (tok & 0x40) {
        stack.push(node);
      } else if (parent === undefined) {
        return this.finish();
      }
    }
  }

  private finish(): ElementNode {
    if (this.pos !== this.buf.length) this.fail('malformed', 'bytes after the root element');
    return this.root!;
  }

  private appendText(stack: ElementNode[], s: string, at: number): void {
    const top = stack[stack.length - 1];
    if (top === undefined) this.fail('malformed', 'text outside the root element', at);
    if (top.opaque !== undefined) {
      top.text = top.opaque.toString('utf8');
      top.opaque = undefined;
    }
    top.text = top.text === '' ? s : top.text + s;
  }

  private appendOpaque(stack: ElementNode[], b: Buffer, at: number): void {
    const top = stack[stack.length - 1];
    if (top === undefined) this.fail('malformed', 'OPAQUE outside the root element', at);
    if (top.text === '' && top.opaque === undefined) {
      top.opaque = b; // a view: only Item Data keeps bytes, and settleBytes copies them
    } else {
      this.appendText(stack, b.toString('utf8'), at);
    }
  }
}
