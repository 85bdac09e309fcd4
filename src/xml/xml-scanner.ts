/**
 * The one hardened XML reader of the project: a strict, single-pass scanner
 * that hands elements, attributes and text to a subclass which builds what it
 * needs (the SyncML element tree in src/dm/codec/xml-tokenizer.ts, the SOAP
 * envelope in src/wsi/soap-envelope.ts).
 *
 * Why hand-written: every step moves forward through the input with indexOf
 * or a character loop and never scans the same characters twice (the
 * next-'&' and next-CR positions are cached, not searched per text run), so
 * any input costs O(length) time and memory, whatever runs of '<', '=',
 * quotes or attributes it holds; there is no regular expression on the input
 * but two anchored, bounded ones on entity names of at most MAX_ENTITY_LEN
 * characters. It expands nothing but the five predefined entities and
 * numeric character references, refuses every markup declaration
 * (`<!DOCTYPE`, `<!ENTITY`, ...) as 'doctype', and enforces maxDepth and
 * maxElements while reading, so nothing is built past a limit and there is no
 * recursion.
 */

export type XmlScanFailure = 'truncated' | 'malformed' | 'bad-entity' | 'doctype' | 'too-deep' | 'too-many-elements';

export interface XmlScanLimits {
  maxDepth: number;
  maxElements: number;
}

const MAX_ENTITY_LEN = 12;
// Anchored and bounded (an entity name is at most MAX_ENTITY_LEN characters): linear.
const HEX_CHAR_REF = /^#x[0-9A-Fa-f]{1,6}$/;
const DEC_CHAR_REF = /^#[0-9]{1,7}$/;

export function isXmlWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

export function isXmlWsRange(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isXmlWs(s.charCodeAt(i))) return false;
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

export abstract class XmlScanner {
  protected readonly len: number;
  /** Qualified names of the open elements, outermost first. */
  private readonly qnames: string[] = [];
  private readonly contentStarts: number[] = [];
  private count = 0;
  private sawRoot = false;
  private nextAmp = -1;
  private nextCr = -1;

  constructor(
    protected readonly src: string,
    private readonly limits: XmlScanLimits,
  ) {
    this.len = src.length;
  }

  /** Throws the subclass's error type; never returns. */
  protected abstract fail(reason: XmlScanFailure, msg: string, at: number): never;
  /** One attribute of the start tag being read (called before its startElement); the value is src[valueStart, valueEnd), undecoded. */
  protected abstract attribute(qname: string, nameStart: number, nameEnd: number, valueStart: number, valueEnd: number): void;
  /** A start tag, after its attributes; `depth` is the number of elements already open (0 for the root). */
  protected abstract startElement(qname: string, depth: number, selfClose: boolean, lt: number): void;
  /** The end tag of an element that was not self-closed; its content is src[contentStart, lt). */
  protected abstract endElement(qname: string, contentStart: number, lt: number): void;
  /** Character data inside an element, src[start, end), undecoded (see decodedText). */
  protected abstract characters(start: number, end: number): void;
  /** A CDATA section's text inside an element (line ends normalised). */
  protected abstract cdata(text: string): void;

  /** Number of elements open now. */
  protected get depth(): number {
    return this.qnames.length;
  }

  scan(): void {
    const src = this.src;
    const len = this.len;
    let pos = src.charCodeAt(0) === 0xfeff ? 1 : 0;
    while (pos < len) {
      const lt = src.indexOf('<', pos);
      if (lt < 0) {
        // Text running into the end of input is not kept (no half values in error reports).
        if (this.qnames.length > 0) break;
        this.text(pos, len);
        break;
      }
      if (lt > pos) this.text(pos, lt);
      pos = this.markup(lt);
    }
    if (!this.sawRoot) this.fail('truncated', 'no root element', len);
    if (this.qnames.length > 0) this.fail('truncated', `<${this.qnames[this.qnames.length - 1]}> not closed`, len);
  }

  private text(start: number, end: number): void {
    if (this.qnames.length === 0) {
      if (!isXmlWsRange(this.src, start, end)) this.fail('malformed', 'text outside the root element', start);
      return;
    }
    this.characters(start, end);
  }

  private indexOrLen(ch: string, from: number): number {
    const i = this.src.indexOf(ch, from);
    return i < 0 ? this.len : i;
  }

  /** Text with entities expanded and CR / CRLF read as LF. Positions must not go backwards between calls. */
  protected decodedText(start: number, end: number): string {
    if (this.nextAmp < start) this.nextAmp = this.indexOrLen('&', start);
    if (this.nextCr < start) this.nextCr = this.indexOrLen('\r', start);
    return this.nextAmp < end || this.nextCr < end ? this.decodeText(start, end) : this.src.slice(start, end);
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
    const name = this.src.slice(a, b);
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
    if (HEX_CHAR_REF.test(name)) code = Number.parseInt(name.slice(2), 16);
    else if (DEC_CHAR_REF.test(name)) code = Number.parseInt(name.slice(1), 10);
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
      if (this.qnames.length === 0) this.fail('malformed', 'CDATA outside the root element', lt);
      const e = src.indexOf(']]>', lt + 9);
      if (e < 0) this.fail('truncated', 'unterminated CDATA section', lt);
      const t = src.slice(lt + 9, e);
      // Linear: a single character class, no quantifier that can backtrack.
      this.cdata(t.includes('\r') ? t.replace(/\r\n?/g, '\n') : t);
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
      if (isXmlWs(c) || c === 47 || c === 62) break;
      if (c === 60 || c === 61 || c === 34 || c === 39) this.fail('malformed', 'bad character in element name', i);
      i++;
    }
    if (i >= len) this.fail('truncated', 'input ends inside a start tag', lt);
    if (i === nameStart) this.fail('malformed', 'missing element name', lt);
    const qname = src.slice(nameStart, i);
    let selfClose = false;
    for (;;) {
      while (i < len && isXmlWs(src.charCodeAt(i))) i++;
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
        if (isXmlWs(d) || d === 61 || d === 62 || d === 47) break;
        if (d === 60 || d === 34 || d === 39) this.fail('malformed', 'bad character in attribute name', i);
        i++;
      }
      const ae = i;
      while (i < len && isXmlWs(src.charCodeAt(i))) i++;
      if (i >= len) this.fail('truncated', 'input ends inside a start tag', lt);
      if (ae === an || src.charCodeAt(i) !== 61) this.fail('malformed', 'expected name="value" attribute', i);
      i++;
      while (i < len && isXmlWs(src.charCodeAt(i))) i++;
      if (i >= len) this.fail('truncated', 'input ends inside a start tag', lt);
      const q = src.charCodeAt(i);
      if (q !== 34 && q !== 39) this.fail('malformed', 'attribute value must be quoted', i);
      const close = src.indexOf(q === 34 ? '"' : "'", i + 1);
      if (close < 0) this.fail('truncated', 'input ends inside an attribute value', i);
      this.attribute(qname, an, ae, i + 1, close);
      i = close + 1;
    }
    this.openElement(qname, selfClose, lt, i);
    return i;
  }

  private openElement(qname: string, selfClose: boolean, lt: number, contentStart: number): void {
    if (++this.count > this.limits.maxElements) this.fail('too-many-elements', `more than ${this.limits.maxElements} elements`, lt);
    const depth = this.qnames.length;
    if (depth + 1 > this.limits.maxDepth) this.fail('too-deep', `nesting deeper than ${this.limits.maxDepth}`, lt);
    if (depth === 0) {
      if (this.sawRoot) this.fail('malformed', 'content after the root element', lt);
      this.sawRoot = true;
    }
    this.startElement(qname, depth, selfClose, lt);
    if (!selfClose) {
      this.qnames.push(qname);
      this.contentStarts.push(contentStart);
    }
  }

  private endTag(lt: number): number {
    const src = this.src;
    const gt = src.indexOf('>', lt + 2);
    if (gt < 0) this.fail('truncated', 'input ends inside an end tag', lt);
    let nameEnd = gt;
    while (nameEnd > lt + 2 && isXmlWs(src.charCodeAt(nameEnd - 1))) nameEnd--;
    const qname = this.qnames.pop();
    const contentStart = this.contentStarts.pop();
    if (qname === undefined || contentStart === undefined) this.fail('malformed', 'end tag without a matching start tag', lt);
    if (nameEnd - (lt + 2) !== qname.length || !src.startsWith(qname, lt + 2)) {
      this.fail('malformed', `expected </${qname}>`, lt);
    }
    this.endElement(qname, contentStart, lt);
    return gt + 1;
  }
}
