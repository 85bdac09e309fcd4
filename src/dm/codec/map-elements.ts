/**
 * Element-level mapping helpers shared by the message mapper: value reading
 * (text, numbers, required children) and the LocRef, Cred, Meta and Item
 * shapes.
 */

import { SyncMlDecodeError } from './errors.js';
import { type ElementNode, parseUint, textOf } from './tree.js';
import type { Cred, Item, LocRef, Meta } from './types.js';

const NO_CHILDREN: readonly ElementNode[] = [];

export function kids(n: ElementNode): readonly ElementNode[] {
  return n.children ?? NO_CHILDREN;
}

export function missing(name: string, parent: string): SyncMlDecodeError {
  return new SyncMlDecodeError('missing-element', `<${name}> missing in <${parent}>`);
}

export function str(n: ElementNode): string {
  return textOf(n).trim();
}

export function num(n: ElementNode, parent: string): number {
  const v = parseUint(textOf(n));
  if (v === undefined) {
    throw new SyncMlDecodeError('bad-number', `<${n.name}> in <${parent}> is not a non-negative integer`);
  }
  return v;
}

export function req<T>(v: T | undefined, name: string, parent: string): T {
  if (v === undefined) throw missing(name, parent);
  return v;
}

export function mapLocRef(n: ElementNode): LocRef {
  let locUri: string | undefined;
  let locName: string | undefined;
  for (const k of kids(n)) {
    if (k.name === 'LocURI') locUri = str(k);
    else if (k.name === 'LocName') locName = str(k);
  }
  const ref: LocRef = { locUri: req(locUri, 'LocURI', n.name) };
  if (locName !== undefined) ref.locName = locName;
  return ref;
}

export function mapCred(n: ElementNode): Cred {
  let meta: Meta | undefined;
  let data: string | undefined;
  for (const k of kids(n)) {
    if (k.name === 'Meta') meta = mapMeta(k);
    else if (k.name === 'Data') data = credText(k);
  }
  const cred: Cred = { data: req(data, 'Data', 'Cred') };
  if (meta !== undefined) cred.meta = meta;
  return cred;
}

/**
 * Cred Data: OPAQUE bytes that are printable ASCII are taken as the text
 * (encoders that put the b64 string in OPAQUE); other bytes are a binary
 * digest and are base64-encoded, which is what the b64-formatted model holds.
 */
function credText(n: ElementNode): string {
  const o = n.opaque;
  if (o === undefined) return n.text.trim();
  for (let i = 0; i < o.length; i++) {
    const b = o[i]!;
    if (b < 0x20 || b > 0x7e) return o.toString('base64');
  }
  return o.toString('latin1').trim();
}

export function mapMeta(n: ElementNode): Meta {
  const m: Meta = {};
  fillMeta(n, m);
  return m;
}

function fillMeta(n: ElementNode, m: Meta): void {
  for (const k of kids(n)) {
    switch (k.name) {
      case 'Format':
        m.format = str(k);
        break;
      case 'Type':
        m.type = str(k);
        break;
      case 'Mark':
        m.mark = str(k);
        break;
      case 'Size':
        m.size = num(k, 'Meta');
        break;
      case 'NextNonce':
        // OPAQUE carries the raw nonce; the model holds base64 text.
        m.nextNonce = k.opaque === undefined ? k.text.trim() : k.opaque.toString('base64');
        break;
      case 'MaxMsgSize':
        m.maxMsgSize = num(k, 'Meta');
        break;
      case 'MaxObjSize':
        m.maxObjSize = num(k, 'Meta');
        break;
      case 'MetInf': // some encoders wrap the metinf elements
        fillMeta(k, m);
        break;
    }
  }
}

export function mapItem(n: ElementNode): Item {
  const it: Item = {};
  for (const k of kids(n)) {
    switch (k.name) {
      case 'Target':
        it.target = mapLocRef(k);
        break;
      case 'Source':
        it.source = mapLocRef(k);
        break;
      case 'Meta':
        it.meta = mapMeta(k);
        break;
      case 'Data':
        // OPAQUE stays bytes until the command's Meta is known too (settleItems).
        it.data = k.opaque ?? k.text;
        break;
      case 'MoreData':
        it.moreData = true;
        break;
    }
  }
  return it;
}
