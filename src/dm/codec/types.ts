/**
 * Typed model of an OMA DM 1.2 (SyncML DM) message.
 *
 * This is the boundary type between the wire codecs (XML, WBXML) and the DM
 * engine and simulator. It mirrors the SyncML 1.2 DTD subset that DM uses;
 * element order on the wire is the encoder's job, never the caller's.
 */

export type SyncMlEncoding = 'xml' | 'wbxml';

/** Meta information (syncml:metinf); only the fields DM uses. */
export interface Meta {
  format?: string;
  type?: string;
  mark?: string;
  /** Total size of a Large Object, in bytes (first chunk only). */
  size?: number;
  /** Base64 text exactly as carried on the wire. */
  nextNonce?: string;
  maxMsgSize?: number;
  maxObjSize?: number;
}

export interface LocRef {
  locUri: string;
  locName?: string;
}

export interface Cred {
  meta?: Meta;
  data: string;
}

export interface Chal {
  meta: Meta;
}

/**
 * Item data. Decoded, it is settled by Meta Format (Item Meta, else the
 * command's, else `chr`), not by how it travelled (see item-data.ts):
 * - string: text, whether inline or WBXML OPAQUE (chr, int, bool, xml, node,
 *   and b64, whose value is its base64 text);
 * - Buffer: bytes: OPAQUE in Format `bin`, or OPAQUE bytes that are not
 *   UTF-8 (a Large Object chunk cut inside a character: see joinChunks).
 * Encoded, a Buffer goes as WBXML OPAQUE, or in XML as base64 text.
 */
export type ItemData = string | Buffer;

export interface Item {
  target?: LocRef;
  source?: LocRef;
  meta?: Meta;
  data?: ItemData;
  /** Present on every chunk of a Large Object but the last. */
  moreData?: boolean;
}

export interface SyncHdr {
  verDtd: string;
  verProto: string;
  sessionId: string;
  msgId: number;
  target: LocRef;
  source: LocRef;
  respUri?: string;
  noResp?: boolean;
  cred?: Cred;
  meta?: Meta;
}

interface CommandBase {
  cmdId: number;
  noResp?: boolean;
}

/** Add, Replace, Delete, Get and Copy share one shape. */
export interface ItemCommand extends CommandBase {
  kind: 'Add' | 'Replace' | 'Delete' | 'Get' | 'Copy';
  meta?: Meta;
  items: Item[];
}

export interface AlertCommand extends CommandBase {
  kind: 'Alert';
  /** The alert code, e.g. 1201, 1222, 1226. */
  data: number;
  correlator?: string;
  items: Item[];
}

export interface ExecCommand extends CommandBase {
  kind: 'Exec';
  meta?: Meta;
  correlator?: string;
  /** The DTD allows exactly one Item. */
  item: Item;
}

export interface ContainerCommand extends CommandBase {
  kind: 'Sequence' | 'Atomic';
  meta?: Meta;
  commands: Command[];
}

export interface StatusCommand {
  kind: 'Status';
  cmdId: number;
  msgRef: number;
  /** 0 answers the SyncHdr. */
  cmdRef: number;
  /** The answered command's element name, or 'SyncHdr'. */
  cmd: string;
  targetRefs: string[];
  sourceRefs: string[];
  chal?: Chal;
  /** The status code, e.g. 200, 212, 401, 404. */
  data: number;
  items: Item[];
}

export interface ResultsCommand {
  kind: 'Results';
  cmdId: number;
  msgRef?: number;
  cmdRef: number;
  meta?: Meta;
  targetRef?: string;
  sourceRef?: string;
  items: Item[];
}

export type Command =
  | ItemCommand
  | AlertCommand
  | ExecCommand
  | ContainerCommand
  | StatusCommand
  | ResultsCommand;

export type CommandKind = Command['kind'];

export interface SyncMlMessage {
  header: SyncHdr;
  body: Command[];
  /** `<Final/>` closes the sender's package. */
  final: boolean;
}

/** Limits applied while decoding untrusted bytes. */
export interface DecodeLimits {
  maxBytes: number;
  maxDepth: number;
  maxElements: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = {
  maxBytes: 4 * 1024 * 1024,
  maxDepth: 32,
  maxElements: 100_000,
};
