/**
 * Reads a SOAP response from the gateway with the project's own XML scanner
 * (src/xml/xml-scanner.ts): strict and linear, no markup declarations. The
 * result is a tree of local names (namespace prefixes dropped): an element
 * with children is an object keyed by their names (a repeated child becomes
 * an array), an element with only text is that text ('' when empty).
 * Attributes are not kept: no response of the contract carries meaning in one.
 */
import { XmlScanner, isXmlWsRange, type XmlScanFailure } from '../xml/xml-scanner.js';

export type XmlNode = string | XmlTree;
export interface XmlTree {
  [name: string]: XmlNode | XmlNode[];
}

/** Enough for a page of 1,000 tasks with results, or an import answer listing every rejected row of a chunk. */
const LIMITS = { maxDepth: 32, maxElements: 2_000_000 };

export class MalformedResponseError extends Error {}

interface Frame {
  name: string;
  children: XmlTree | undefined;
  text: string;
}

class ResponseReader extends XmlScanner {
  private readonly frames: Frame[] = [];
  root: XmlNode | undefined;

  protected fail(_reason: XmlScanFailure, msg: string): never {
    throw new MalformedResponseError(`malformed XML in the gateway's answer: ${msg}`);
  }

  protected attribute(): void {
    // Not kept (see the module comment).
  }

  protected startElement(qname: string, _depth: number, selfClose: boolean): void {
    const colon = qname.indexOf(':');
    const frame: Frame = { name: colon < 0 ? qname : qname.slice(colon + 1), children: undefined, text: '' };
    if (selfClose) this.close(frame);
    else this.frames.push(frame);
  }

  protected endElement(): void {
    this.close(this.frames.pop()!);
  }

  private close(frame: Frame): void {
    const value: XmlNode = frame.children ?? frame.text;
    const parent = this.frames[this.frames.length - 1];
    if (!parent) {
      this.root = { [frame.name]: value };
      return;
    }
    parent.children ??= Object.create(null) as XmlTree;
    const seen = parent.children[frame.name];
    if (seen === undefined) parent.children[frame.name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else parent.children[frame.name] = [seen, value];
  }

  protected characters(start: number, end: number): void {
    const top = this.frames[this.frames.length - 1]!;
    if (isXmlWsRange(this.src, start, end) && top.text === '') return;
    top.text += this.decodedText(start, end);
  }

  protected cdata(text: string): void {
    this.frames[this.frames.length - 1]!.text += text;
  }
}

/** The Body's one child of a SOAP envelope: its name and content. */
export function readSoapBody(xml: string): { name: string; content: XmlNode } {
  const reader = new ResponseReader(xml, LIMITS);
  reader.scan();
  const envelope = (reader.root as XmlTree | undefined)?.Envelope;
  const body = envelope && typeof envelope === 'object' && !Array.isArray(envelope) ? envelope.Body : undefined;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new MalformedResponseError('the gateway answered without a SOAP Body');
  const names = Object.keys(body);
  if (names.length !== 1) throw new MalformedResponseError('the SOAP Body of the answer does not hold exactly one element');
  const name = names[0]!;
  return { name, content: body[name] as XmlNode };
}
