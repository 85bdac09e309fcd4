/**
 * What Item Data means, settled once here: Meta Format decides, WBXML OPAQUE
 * is only how bytes travel (issue 13: clients on the SyncML reference
 * toolkit send every node value as OPAQUE). Text formats (chr, int, bool,
 * xml, date, time, float, node, and b64, whose value is its base64 text) are
 * strings; `bin` is bytes. No reader above the codec decodes Data itself.
 */
import { isUtf8 } from 'node:buffer';
import type { Item, ItemData, Meta } from './types.js';

/** OMA DM RepPro: an Item without Format in its own or its command's Meta is `chr`. */
export const DEFAULT_FORMAT = 'chr';

function isBin(format: string | undefined): boolean {
  return format !== undefined && (format === 'bin' || format.toLowerCase() === 'bin');
}

/**
 * OPAQUE bytes as the value they carry: a Buffer (copied, so the model never
 * aliases the input) for `bin` or bytes that are not UTF-8 (a Large Object
 * chunk cut inside a character); else the UTF-8 text.
 */
export function settleBytes(bytes: Buffer, format: string | undefined): ItemData {
  if (isBin(format) || !isUtf8(bytes)) return Buffer.from(bytes);
  return bytes.toString('utf8');
}

/** Settles the OPAQUE data of decoded Items; Item Meta Format overrides the command's. */
export function settleItems(items: Item[], commandMeta: Meta | undefined): void {
  for (const it of items) {
    const d = it.data;
    if (d !== undefined && typeof d !== 'string') {
      it.data = settleBytes(d, it.meta?.format ?? commandMeta?.format ?? DEFAULT_FORMAT);
    }
  }
}

/**
 * A Large Object's value from its chunks in order, as if it had come whole:
 * bytes when it is `bin` and came as bytes (WBXML OPAQUE), else text (in XML
 * a `bin` value is carried as its base64 text). Chunks after the first often
 * carry no Meta, so only the first chunk's carrier and the object's Format
 * count; text chunks are joined by their UTF-8 bytes, so a character cut
 * between OPAQUE chunks comes out whole.
 */
export function joinChunks(chunks: readonly ItemData[], format: string | undefined): ItemData {
  if (chunks.every((c) => typeof c === 'string')) return (chunks as string[]).join('');
  const bytes = Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
  const asBytes = isBin(format) && typeof chunks[0] !== 'string';
  return asBytes ? bytes : settleBytes(bytes, DEFAULT_FORMAT);
}

/** Size in bytes of a value as carried (Meta Size): UTF-8 bytes of text, or the bytes. */
export function dataSize(data: ItemData): number {
  return typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length;
}

/**
 * The data as text for readers that want text whatever the Format (DevInfo
 * leaves, UI alert answers, the DevId): bytes are read as UTF-8.
 */
export function dataText(data: ItemData | undefined): string {
  if (data === undefined) return '';
  return typeof data === 'string' ? data : data.toString('utf8');
}
