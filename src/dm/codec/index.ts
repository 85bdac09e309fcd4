/**
 * SyncML DM wire codecs: media-type dispatch over the XML and WBXML codecs.
 * Pure functions; decoding throws only SyncMlDecodeError for bad input.
 */

import { SyncMlDecodeError } from './errors.js';
import type { DecodeLimits, SyncMlEncoding, SyncMlMessage } from './types.js';
import { decodeWbxml, encodeWbxml, encodedWbxmlSize, type WbxmlEncodeOptions } from './wbxml-codec.js';
import { decodeXml, encodeXml, encodedXmlSize } from './xml-codec.js';

export { type PartialSyncHdr, SyncMlDecodeError, type SyncMlDecodeReason } from './errors.js';
export { dataSize, dataText, joinChunks } from './item-data.js';
export * from './types.js';
export { decodeWbxml, encodeWbxml, type WbxmlEncodeOptions } from './wbxml-codec.js';
export { decodeXml, encodeXml } from './xml-codec.js';

export const DM_XML_CONTENT_TYPE = 'application/vnd.syncml.dm+xml';
export const DM_WBXML_CONTENT_TYPE = 'application/vnd.syncml.dm+wbxml';

/**
 * The encoding for a SyncML media type (parameters ignored, case-insensitive),
 * or undefined when it is not one.
 */
export function encodingForContentType(contentType: string): SyncMlEncoding | undefined {
  const semi = contentType.indexOf(';');
  const mt = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  switch (mt) {
    case 'application/vnd.syncml.dm+xml':
    case 'application/vnd.syncml+xml':
      return 'xml';
    case 'application/vnd.syncml.dm+wbxml':
    case 'application/vnd.syncml+wbxml':
      return 'wbxml';
    default:
      return undefined;
  }
}

/**
 * Decodes a SyncML message choosing the codec by media type. Throws
 * SyncMlDecodeError ('unsupported-media-type' for a foreign type).
 */
export function parseSyncMl(
  bytes: Buffer,
  contentType: string,
  limits?: Partial<DecodeLimits>,
): { message: SyncMlMessage; encoding: SyncMlEncoding } {
  const encoding = encodingForContentType(contentType);
  if (encoding === undefined) {
    throw new SyncMlDecodeError('unsupported-media-type', `not a SyncML media type: ${JSON.stringify(contentType)}`);
  }
  const message = encoding === 'xml' ? decodeXml(bytes, limits) : decodeWbxml(bytes, limits);
  return { message, encoding };
}

/** `options` apply to WBXML only. */
export function encodeSyncMl(msg: SyncMlMessage, encoding: SyncMlEncoding, options?: WbxmlEncodeOptions): Buffer {
  return encoding === 'xml' ? encodeXml(msg) : encodeWbxml(msg, options);
}

/** The DM media type to answer with. */
export function contentTypeFor(encoding: SyncMlEncoding): string {
  return encoding === 'xml' ? DM_XML_CONTENT_TYPE : DM_WBXML_CONTENT_TYPE;
}

/** Size in bytes of the encoded message (for MaxMsgSize checks): `encodeSyncMl(msg, encoding).length`, counted without encoding. */
export function encodedSize(msg: SyncMlMessage, encoding: SyncMlEncoding): number {
  return encoding === 'xml' ? encodedXmlSize(msg) : encodedWbxmlSize(msg);
}
