/**
 * Builds the neutral element tree of a SyncML XML message with the project's
 * XML scanner (src/xml/xml-scanner.ts: strict, linear, limits while reading,
 * no markup declarations).
 *
 * Namespaces: prefixes are stripped (local names only); only the root's
 * namespace is checked (SyncML 1.2, 1.1 or none). A `<Data>` element that
 * contains child elements (embedded XML such as a TNDS tree) is returned as
 * its raw inner markup text.
 */

import { isXmlWsRange, XmlScanner, type XmlScanFailure } from '../../xml/xml-scanner.js';
import { SyncMlDecodeError } from './errors.js';
import { type ElementNode, newNode, partialHeaderOf } from './tree.js';
import type { DecodeLimits } from './types.js';

const ACCEPTED_ROOT_NS: readonly string[] = ['syncml:syncml1.2', 'syncml:syncml1.1'];

/** Parses `src` into an element tree rooted at `<SyncML>`. */
export function parseXmlTree(src: string, limits: DecodeLimits): ElementNode {
  const p = new SyncMlTreeBuilder(src, limits);
  try {
    p.scan();
    return p.root!;
  } catch (e) {
    if (e instanceof SyncMlDecodeError && e.header === undefined) e.header = partialHeaderOf(p.root);
    throw e;
  }
}

class SyncMlTreeBuilder extends XmlScanner {
  root: ElementNode | undefined = undefined;
  private readonly stack: ElementNode[] = [];
  private rootNs: string | undefined = undefined;

  protected fail(reason: XmlScanFailure, msg: string, at: number): never {
    throw new SyncMlDecodeError(reason, msg, at);
  }

  protected attribute(qname: string, an: number, ae: number, vs: number, ve: number): void {
    if (this.depth === 0 && this.isRootNsAttr(qname, an, ae)) this.rootNs = this.src.slice(vs, ve).trim();
  }

  /** `xmlns` for an unprefixed root, `xmlns:p` for a root named `p:SyncML`. */
  private isRootNsAttr(qname: string, an: number, ae: number): boolean {
    const colon = qname.indexOf(':');
    const want = colon < 0 ? 'xmlns' : `xmlns:${qname.slice(0, colon)}`;
    return ae - an === want.length && this.src.startsWith(want, an);
  }

  protected startElement(qname: string, depth: number, selfClose: boolean, lt: number): void {
    const colon = qname.indexOf(':');
    const node = newNode(colon < 0 ? qname : qname.slice(colon + 1));
    if (depth === 0) {
      if (node.name !== 'SyncML') throw new SyncMlDecodeError('not-syncml', `root element is <${qname}>`, lt);
      const ns = this.rootNs;
      if (ns !== undefined && ns !== '' && !ACCEPTED_ROOT_NS.includes(ns.toLowerCase())) {
        throw new SyncMlDecodeError('not-syncml', `unsupported namespace ${JSON.stringify(ns)}`, lt);
      }
      this.root = node;
    } else {
      const parent = this.stack[this.stack.length - 1]!;
      if (parent.children === undefined) {
        parent.children = [node];
        if (parent.text !== '' && isXmlWsRange(parent.text, 0, parent.text.length)) parent.text = '';
      } else {
        parent.children.push(node);
      }
    }
    if (!selfClose) this.stack.push(node);
  }

  protected endElement(_qname: string, contentStart: number, lt: number): void {
    const top = this.stack.pop()!;
    if (top.name === 'Data' && top.children !== undefined) {
      top.text = this.src.slice(contentStart, lt);
      top.children = undefined;
    }
  }

  protected characters(start: number, end: number): void {
    const top = this.stack[this.stack.length - 1]!;
    if (top.children !== undefined && isXmlWsRange(this.src, start, end)) return;
    const t = this.decodedText(start, end);
    top.text = top.text === '' ? t : top.text + t;
  }

  protected cdata(text: string): void {
    const top = this.stack[this.stack.length - 1]!;
    top.text = top.text === '' ? text : top.text + text;
  }
}
