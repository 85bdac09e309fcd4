/**
 * A small strict XML tokenizer for the SyncML subset, producing the neutral
 * element tree. It never expands anything but the five predefined entities
 * and numeric character references, rejects every markup declaration
 * (`<!DOCTYPE`, `<!ENTITY`, ...) as 'doctype', and enforces maxDepth and
 * maxElements as it goes, so hostile input costs at most O(input) time and
 * memory and no recursion.
 *
 * Namespaces: prefixes are stripped (local names only); only the root's
 * namespace is checked (SyncML 1.2, 1.1 or none). A `<Data>` element that
 * contains child elements (embedded XML such as a TNDS tree) is returned as
 * its raw inner markup text.
 */

import { SyncMlDecodeError } from './errors.js';
import { type ElementNode, newNode, partialHeaderOf } from './tree.js';
import type { DecodeLimits } from './types.js';

const ACCEPTED_ROOT_NS: readonly string[] = ['syncml:syncml1.2', 'syncml:syncml1.1'];
const MAX_ENTITY_LEN = 12;

function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function isWsRange(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isWs(s.charCodeAt(i))) return false;
  return true;
}

function validXmlChar(c: number): boolean {
  return (
    c === 9 ||
    c === 10 ||
    c === 13 ||
    (c >= 0x20 && c <= 0xd7ff) ||
    (c >= 0xe000 && c <= 0xfffd) ||
    (c >= 0x10000 && c <= 0x10ffff)
  );
}

/** Parses `src` into an element tree rooted at `<SyncML>`. */
export function parseXmlTree(src: string, limits: DecodeLimits): ElementNode {
  const p = new XmlTreeParser(src, limits);
  try {
    return p.run();
  } catch (e) {
    if (e instanceof SyncMlDecodeError && e.header === undefined) e.header = partialHeaderOf(p.root);
    throw e;
  }
}

class XmlTreeParser {
  root: ElementNode | undefined = undefined;
  private readonly len: number;
  private readonly stack: ElementNode[] = [];
  private readonly qnames: string[] = [];
  private readonly contentStarts: number[] = [];
  private count = 0;
  private nextAmp = -1;
  private nextCr = -1;

  constructor(
    private readonly src: string,
    private readonly limits: DecodeLimits,
  ) {
    this.len = src.length;
  }

  private fail(reason: 'truncated' | 'malformed' | 'bad-entity' | 'doctype', msg: string, at: number): never {
    throw new SyncMlDecodeError(reason, msg, at);
  }

  run(): ElementNode {
    const src = this.src;
    const len = this.len;
    let pos = src.charCodeAt(0) === 0xfeff ? 1 : 0;
    while (pos < len) {
      const lt = src.indexOf('<', pos);
      if (lt < 0) {
        // Text running into the end of input is not kept (no half values in error headers).
        if (this.stack.length > 0) break;
        this.text(pos, len);
        break;
      }
      if (lt > pos) this.text(pos, lt);
      pos = this.markup(lt);
    }
    if (this.root === undefined) this.fail('truncated', 'no root element', len);
    if (this.stack.length > 0) this.fail('truncated', `<${this.qnames[this.qnames.length - 1]}> not closed`, len);
    return this.root;
  }

  private text(start: number, end: number): void {
    const src = this.src;
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) {
      if (!isWsRange(src, start, end)) this.fail('malformed', 'text outside the root element', start);
      return;
    }
    if (top.children !== undefined && isWsRange(src, start, end)) return;
    if (this.nextAmp < start) this.nextAmp = this.indexOrLen('&', start);
    if (this.nextCr < start) this.nextCr = this.indexOrLen('\r', start);
    const t = this.nextAmp < end || this.nextCr < end ? this.decodeText(start, end) : src.slice(start, end);
    top.text = top.text === '' ? t : top.text + t;
  }

  private indexOrLen(ch: string, from: number): number {
    const i = this.src.indexOf(ch, from);
    return i < 0 ? this.len : i;
  }

  private decodeText(start: number, end: number): string {
    const src = this.src;
    let out = '';
    let seg = start;
    let i = start;
    while (i < end) {
      const c = src.charCodeAt(i);
      if (c === 38) {
        out += src.slice(seg, i);
        let semi = i + 1;
        while (semi < end && semi - i <= MAX_ENTITY_LEN && src.charCodeAt(semi) !== 59) semi++;
        if (semi >= end || src.charCodeAt(semi) !== 59) {
          if (end === this.len) this.fail('truncated', 'input ends inside an entity reference', i);
          this.fail('bad-entity', 'unterminated entity reference', i);
        }
        out += this.entity(i + 1, semi);
        i = semi + 1;
        seg = i;
      } else if (c === 13) {
        out += src.slice(seg, i) + '\n';
        i++;
        if (i < end && src.charCodeAt(i) === 10) i++;
        seg = i;
      } else {
        i++;
      }
    }
    return seg === start ? src.slice(start, end) : out + src.slice(seg, end);
  }

  private entity(a: number, b: number): string {
    const src = this.src;
    const name = src.slice(a, b);
    switch (name) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }
    let code = Number.NaN;
    if (/^#x[0-9A-Fa-f]{1,6}$/.test(name)) code = Number.parseInt(name.slice(2), 16);
    else if (/^#[0-9]{1,7}$/.test(name)) code = Number.parseInt(name.slice(1), 10);
    else this.fail('bad-entity', `undefined entity &${name};`, a - 1);
    if (!validXmlChar(code)) this.fail('bad-entity', `invalid character reference &${name};`, a - 1);
    return String.fromCodePoint(code);
  }

  private markup(lt: number): number {
    const src = this.src;
    if (lt + 1 >= this.len) this.fail('truncated', 'input ends after <', lt);
    const c = src.charCodeAt(lt + 1);
    if (c === 47) return this.endTag(lt);
    if (c === 33) return this.bang(lt);
    if (c === 63) {
      const e = src.indexOf('?>', lt + 2);
      if (e < 0) this.fail('truncated', 'unterminated processing instruction', lt);
      return e + 2;
    }
    return this.startTag(lt);
  }

  private bang(lt: number): number {
    const src = this.src;
    if (src.startsWith('<!--', lt)) {
      const e = src.indexOf('-->', lt + 4);
      if (e < 0) this.fail('truncated', 'unterminated comment', lt);
      return e + 3;
    }
    if (src.startsWith('<![CDATA[', lt)) {
      const top = this.stack[this.stack.length - 1];
      if (top === undefined) this.fail('malformed', 'CDATA outside the root element', lt);
      const e = src.indexOf(']]>', lt + 9);
      if (e < 0) this.fail('truncated', 'unterminated CDATA section', lt);
      let t = src.slice(lt + 9, e);
      if (t.includes('\r')) t = t.replace(/\r\n?/g, '\n');
      top.text = top.text === '' ? t : top.text + t;
      return e + 3;
    }
    const rest = src.slice(lt, lt + 9);
    if (rest.length < 9 && ('<![CDATA['.startsWith(rest) || '<!--'.startsWith(rest))) {
      this.fail('truncated', 'input ends inside markup', lt);
    }
    this.fail('doctype', 'markup declarations (DOCTYPE, ENTITY, ...) are not allowed', lt);
  }

  private startTag(lt: number): number {
    const src = this.src;
    const len = this.len;
    let i = lt + 1;
    const nameStart = i;
    while (i < len) {
      const c = src.charCodeAt(i);
      if (isWs(c) || c === 47 || c === 62) break;
      if (c === 60 || c === 61 || c === 34 || c === 39) this.fail('malformed', 'bad character in element name', i);
      i++;
    }
    if (i >= len) this.fail('truncated', 'input ends inside a start tag', lt);
    if (i === nameStart) this.fail('malformed', 'missing element name', lt);
    const qname = src.slice(nameStart, i);
    const isRoot = this.stack.length === 0;
    let rootNs: string | undefined;
    let selfClose = false;
    for (;;) {
      while (i < len && isWs(src.charCodeAt(i))) i++;
      if (i >= len) this.fail('truncated', 'input ends inside a start tag', lt);
      const c = src.charCodeAt(i);
      if (c === 62) {
        i++;
        break;
      }
      if (c === 47) {
        if (i + 1 >= len) this.fail('truncated', 'input ends inside a start tag', lt);
        if (src.charCodeAt(i + 1) !== 62) this.fail('malformed', 'expected /> in start tag', i);
        selfClose = true;
        i += 2;
        break;
      }
      const an = i;
      while (i < len) {
        const d = src.charCodeAt(i);
        if (isWs(d) || d === 61 || d === 62 || d === 47) break;
        if (d === 60 || d === 34 || d === 39) this.fail('malformed', 'bad character in attribute name', i);
        i++;
      }
      const ae = i;
      while (i < len && isWs(src.charCodeAt(i))) i++;
      if (i >= len) this.fail('truncated', 'input ends inside a start tag', lt);
      if (ae === an || src.charCodeAt(i) !== 61) this.fail('malformed', 'expected name="value" attribute', i);
      i++;
      while (i < len && isWs(src.charCodeAt(i))) i++;
      if (i >= len) this.fail('truncated', 'input ends inside a start tag', lt);
      const q = src.charCodeAt(i);
      if (q !== 34 && q !== 39) this.fail('malformed', 'attribute value must be quoted', i);
      const close = src.indexOf(q === 34 ? '"' : "'", i + 1);
      if (close < 0) this.fail('truncated', 'input ends inside an attribute value', i);
      if (isRoot && this.isRootNsAttr(qname, an, ae)) rootNs = src.slice(i + 1, close).trim();
      i = close + 1;
    }
    this.openElement(qname, isRoot, rootNs, selfClose, lt, i);
    return i;
  }

  /** `xmlns` for an unprefixed root, `xmlns:p` for a root named `p:SyncML`. */
  private isRootNsAttr(qname: string, an: number, ae: number): boolean {
    const colon = qname.indexOf(':');
    const want = colon < 0 ? 'xmlns' : `xmlns:${qname.slice(0, colon)}`;
    return ae - an === want.length && this.src.startsWith(want, an);
  }

  private openElement(
    qname: string,
    isRoot: boolean,
    rootNs: string | undefined,
    selfClose: boolean,
    lt: number,
    contentStart: number,
  ): void {
    const colon = qname.indexOf(':');
    const node = newNode(colon < 0 ? qname : qname.slice(colon + 1));
    if (++this.count > this.limits.maxElements) {
      throw new SyncMlDecodeError('too-many-elements', `more than ${this.limits.maxElements} elements`, lt);
    }
    if (this.stack.length + 1 > this.limits.maxDepth) {
      throw new SyncMlDecodeError('too-deep', `nesting deeper than ${this.limits.maxDepth}`, lt);
    }
    if (isRoot) {
      if (this.root !== undefined) this.fail('malformed', 'content after the root element', lt);
      if (node.name !== 'SyncML') throw new SyncMlDecodeError('not-syncml', `root element is <${qname}>`, lt);
      if (rootNs !== undefined && rootNs !== '' && !ACCEPTED_ROOT_NS.includes(rootNs.toLowerCase())) {
        throw new SyncMlDecodeError('not-syncml', `unsupported namespace ${JSON.stringify(rootNs)}`, lt);
      }
      this.root = node;
    } else {
      const parent = this.stack[this.stack.length - 1]!;
      if (parent.children === undefined) {
        parent.children = [node];
        if (parent.text !== '' && isWsRange(parent.text, 0, parent.text.length)) parent.text = '';
      } else {
        parent.children.push(node);
      }
    }
    if (!selfClose) {
      this.stack.push(node);
      this.qnames.push(qname);
      this.contentStarts.push(contentStart);
    }
  }

  private endTag(lt: number): number {
    const src = this.src;
    const gt = src.indexOf('>', lt + 2);
    if (gt < 0) this.fail('truncated', 'input ends inside an end tag', lt);
    let nameEnd = gt;
    while (nameEnd > lt + 2 && isWs(src.charCodeAt(nameEnd - 1))) nameEnd--;
    const top = this.stack.pop();
    const qname = this.qnames.pop();
    const contentStart = this.contentStarts.pop();
    if (top === undefined || qname === undefined || contentStart === undefined) {
      this.fail('malformed', 'end tag without a matching start tag', lt);
    }
    if (nameEnd - (lt + 2) !== qname.length || !src.startsWith(qname, lt + 2)) {
      this.fail('malformed', `expected </${qname}>`, lt);
    }
    if (top.name === 'Data' && top.children !== undefined) {
      top.text = src.slice(contentStart, lt);
      top.children = undefined;
    }
    return gt + 1;
  }
}
