/**
 * The one error type the SyncML decoders throw for bad input.
 *
 * `reason` is a stable machine-readable code; `header` carries whatever part
 * of the SyncHdr had already been read (best effort), so the DM endpoint can
 * log the device and, where the header is complete enough, answer with a
 * SyncML Status instead of a bare HTTP error.
 */

export type SyncMlDecodeReason =
  /** `<!DOCTYPE`, `<!ENTITY` or another markup declaration in XML. */
  | 'doctype'
  /** The input ends in the middle of the document. */
  | 'truncated'
  /** Element nesting deeper than `DecodeLimits.maxDepth`. */
  | 'too-deep'
  /** More elements than `DecodeLimits.maxElements`. */
  | 'too-many-elements'
  /** More bytes than `DecodeLimits.maxBytes`. */
  | 'too-large'
  /** WBXML STR_T (or public-id index) outside the string table. */
  | 'bad-string-table-offset'
  /** Root is not `SyncML`, or a foreign namespace / public id. */
  | 'not-syncml'
  /** A required element (SyncHdr, SessionID, MsgID, CmdID, Status Data, ...) is absent. */
  | 'missing-element'
  /** A numeric element is not a non-negative decimal integer. */
  | 'bad-number'
  /** WBXML: a token outside the SyncML/MetInf code pages, or an unsupported global token. */
  | 'unknown-token'
  /** Unsupported character set (XML declaration, BOM, WBXML charset). */
  | 'bad-encoding'
  /** WBXML: a tag token with the attribute bit set (SyncML has no attributes). */
  | 'attribute'
  /** WBXML: a multi-byte integer longer than 5 bytes or above 2^32-1. */
  | 'bad-mb-uint32'
  /** WBXML version other than 1.1-1.3. */
  | 'unsupported-version'
  /** XML: unknown entity reference or invalid character reference; WBXML: bad ENTITY. */
  | 'bad-entity'
  /** A SyncBody/container child that is not a DM command (Sync, Map, Put, ...). */
  | 'unsupported-command'
  /** Content type is not a SyncML media type (parseSyncMl only). */
  | 'unsupported-media-type'
  /** Any other well-formedness error (mismatched end tag, stray text, trailing bytes). */
  | 'malformed';

/** The part of the SyncHdr read before the failure (each field only if read and valid). */
export interface PartialSyncHdr {
  sessionId?: string;
  msgId?: number;
  /** Source/LocURI: the device id for client messages. */
  sourceLocUri?: string;
  targetLocUri?: string;
  verDtd?: string;
  verProto?: string;
}

export class SyncMlDecodeError extends Error {
  override readonly name = 'SyncMlDecodeError';
  readonly reason: SyncMlDecodeReason;
  /** Best-effort partial header; undefined when no header field was read. */
  header: PartialSyncHdr | undefined;
  /** Byte (WBXML) or character (XML) offset where the problem was found, if known. */
  readonly offset: number | undefined;

  constructor(reason: SyncMlDecodeReason, message: string, offset?: number) {
    super(offset === undefined ? `${reason}: ${message}` : `${reason}: ${message} (at ${offset})`);
    this.reason = reason;
    this.offset = offset;
    this.header = undefined;
  }
}
