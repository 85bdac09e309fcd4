/**
 * The neutral element tree both wire decoders produce and the message
 * mapper consumes. Names are local names (XML prefixes stripped; WBXML tokens
 * resolved through the code-page tables).
 */

import type { PartialSyncHdr } from './errors.js';

export interface ElementNode {
  readonly name: string;
  /** Child elements in document order; undefined when there are none. */
  children: ElementNode[] | undefined;
  /** Character data ('' when none). Whitespace between child elements is dropped. */
  text: string;
  /** WBXML OPAQUE content, when it was the element's only content: a view into the input bytes. */
  opaque: Buffer | undefined;
}

export function newNode(name: string): ElementNode {
  return { name, children: undefined, text: '', opaque: undefined };
}

export function childNamed(node: ElementNode, name: string): ElementNode | undefined {
  const kids = node.children;
  if (kids === undefined) return undefined;
  for (const k of kids) if (k.name === name) return k;
  return undefined;
}

/** Character content as a string (OPAQUE bytes read as UTF-8). */
export function textOf(node: ElementNode): string {
  return node.opaque === undefined ? node.text : node.opaque.toString('utf8');
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/**
 * Parses a non-negative decimal integer (surrounding XML whitespace allowed,
 * at most 15 digits so it stays exact); undefined when not one.
 */
export function parseUint(text: string): number | undefined {
  let i = 0;
  let end = text.length;
  while (i < end && isSpace(text.charCodeAt(i))) i++;
  while (end > i && isSpace(text.charCodeAt(end - 1))) end--;
  if (end === i || end - i > 15) return undefined;
  let v = 0;
  for (; i < end; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Reads whatever SyncHdr fields a (possibly partial) tree holds (empty
 * values and invalid MsgIDs left out). Never throws; used to enrich decode
 * errors.
 */
export function partialHeaderOf(root: ElementNode | undefined): PartialSyncHdr | undefined {
  if (root === undefined) return undefined;
  const hdr = childNamed(root, 'SyncHdr');
  if (hdr === undefined) return undefined;
  const str = (name: string): string | undefined => {
    const n = childNamed(hdr, name);
    return n === undefined ? undefined : textOf(n).trim();
  };
  const loc = (name: string): string | undefined => {
    const n = childNamed(hdr, name);
    const l = n === undefined ? undefined : childNamed(n, 'LocURI');
    return l === undefined ? undefined : textOf(l).trim();
  };
  const msgIdText = str('MsgID');
  const fields: PartialSyncHdr = {
    verDtd: str('VerDTD'),
    verProto: str('VerProto'),
    sessionId: str('SessionID'),
    msgId: msgIdText === undefined ? undefined : parseUint(msgIdText),
    targetLocUri: loc('Target'),
    sourceLocUri: loc('Source'),
  };
  const out: PartialSyncHdr = {};
  let any = false;
  for (const key of Object.keys(fields) as (keyof PartialSyncHdr)[]) {
    if (fields[key] !== undefined && fields[key] !== '') {
      (out as Record<string, unknown>)[key] = fields[key];
      any = true;
    }
  }
  return any ? out : undefined;
}
