/**
 * The session state carried between client messages. It is stored as JSON
 * (Redis) between HTTP requests, so it holds only plain objects, arrays,
 * strings, numbers and booleans: binary data is base64 text, and the stored
 * last reply goes through `toStoredMessage`.
 */
import type { SyncMlMessage } from '../codec/types.js';
import type { SessionEndReason } from './effects.js';
import type { ServerCommandSpec } from './server-commands.js';

export const SESSION_STATE_VERSION = 1;

/** The device's answer for one spec, filled in as Statuses and Results arrive. */
export interface SpecOutcome {
  status?: number;
  data?: string;
  dataEncoding?: 'base64';
  format?: string;
  type?: string;
  response?: string[];
  /** A Results item arrived for this Get. */
  hasResults?: boolean;
}

export interface TrackedRequest {
  requestId: string;
  /** Engine-made requests (DevDetail) report through their own effect. */
  internal?: 'devdetail';
  container?: 'Sequence' | 'Atomic';
  commands: ServerCommandSpec[];
  /** Parallel to `commands`. */
  outcomes: SpecOutcome[];
  containerStatus?: number;
  /** Some command of it went out in a message. */
  sent: boolean;
}

/**
 * A top-level command still to send, by reference into a tracked request.
 * `specs` lists spec indexes; several only for a packed Add/Replace.
 */
export type OutUnit =
  | { kind: 'command'; requestId: string; specs: number[] }
  | { kind: 'container'; requestId: string; groups: number[][] }
  /** A Large Object: `offset` counts UTF-16 units of text, or bytes of binary (WBXML). */
  | { kind: 'chunked'; requestId: string; spec: number; offset: number };

/** Where one of our commands went: the key a client Status or Results refers to. */
export interface SentRef {
  msgId: number;
  cmdId: number;
  requestId: string;
  specs: number[];
  /** 'chunk' = a Large Object chunk other than the last (answered 213). */
  role: 'command' | 'container' | 'chunk';
}

/** A Results value arriving from the client in chunks (notes §1 Large Objects). */
export interface IncomingLargeObject {
  requestId: string;
  spec: number;
  sourceUri?: string;
  /** Meta Size of the first chunk. */
  size?: number;
  format?: string;
  type?: string;
  /** One entry per chunk as the codec gave it: text as is, bytes as base64 (the state is JSON). */
  chunks: { text?: string; base64?: string }[];
}

export interface SessionState {
  v: typeof SESSION_STATE_VERSION;
  sessionId: string;
  deviceId: string;
  phase: 'authenticating' | 'active' | 'closed';
  endReason?: SessionEndReason;
  startedAt: number;
  updatedAt: number;
  initiator?: 'server' | 'client';
  client: {
    /** MsgID of the last client message handled. */
    lastMsgId: number;
    maxMsgSize?: number;
    maxObjSize?: number;
    /** DevDetail/LrgObj when known. */
    largeObjects?: boolean;
  };
  server: {
    /** MsgID of our next reply. */
    nextMsgId: number;
    /** Our last message was a non-final message of a package. */
    packageOpen: boolean;
    /** At least one package of commands was started (DevDetail is fetched only in the first). */
    packagesStarted: number;
  };
  auth: {
    authenticated: boolean;
    challengesSent: number;
    /** The nonce the client must use next, when we issued one in this session. */
    clientNonce?: string;
  };
  serverAuth: {
    /** Current SRVCRED nonce (from the device's Chal), else the stored one. */
    nonce?: string;
    /** Keep putting our Cred in the SyncHdr (until the client answers 212). */
    sendCred: boolean;
    rejections: number;
  };
  requests: TrackedRequest[];
  outbox: OutUnit[];
  sent: SentRef[];
  /** Requests completed, rejected or returned in this session: never taken again in it. */
  finishedRequestIds: string[];
  incomingLo?: IncomingLargeObject;
  /** The reply to `client.lastMsgId`, for a retransmitted message. */
  lastReply?: StoredMessage;
}

/** A SyncML message in JSON form: Buffers (WBXML OPAQUE) become `{ $base64 }`. */
export type StoredMessage = { readonly $storedSyncMl: 1; message: unknown };

export function createSessionState(init: {
  sessionId: string;
  deviceId: string;
  now: number;
  firstMsgId: number;
  serverNonce?: string;
}): SessionState {
  return {
    v: SESSION_STATE_VERSION,
    sessionId: init.sessionId,
    deviceId: init.deviceId,
    phase: 'authenticating',
    startedAt: init.now,
    updatedAt: init.now,
    client: { lastMsgId: init.firstMsgId - 1 },
    // A session that opens on a retry after a 401/407 (which stored nothing)
    // numbers its replies on from that failure's reply, which had the
    // client's MsgID before this one: no two of our replies share a MsgID.
    server: { nextMsgId: init.firstMsgId, packageOpen: false, packagesStarted: 0 },
    auth: { authenticated: false, challengesSent: 0 },
    serverAuth: { sendCred: true, rejections: 0, ...(init.serverNonce !== undefined && { nonce: init.serverNonce }) },
    requests: [],
    outbox: [],
    sent: [],
    finishedRequestIds: [],
  };
}

export function serializeSessionState(state: SessionState): string {
  return JSON.stringify(state);
}

/** Parses stored state; throws on text that is not a state of this version. */
export function deserializeSessionState(text: string): SessionState {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || (value as { v?: unknown }).v !== SESSION_STATE_VERSION) {
    throw new Error('not a DM session state of version ' + SESSION_STATE_VERSION);
  }
  return value as SessionState;
}

/**
 * The message itself when it holds no Buffer (the common case: XML, and WBXML
 * without opaque data), else a copy with each Buffer as `{ $base64 }`. The
 * stored message is never changed in place, so sharing it is safe.
 */
export function toStoredMessage(msg: SyncMlMessage): StoredMessage {
  return { $storedSyncMl: 1, message: holdsBuffer(msg) ? encodeBuffers(msg) : msg };
}

function holdsBuffer(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (Buffer.isBuffer(v)) return true;
  if (Array.isArray(v)) {
    for (const x of v) if (holdsBuffer(x)) return true;
    return false;
  }
  for (const k in v) if (holdsBuffer((v as Record<string, unknown>)[k])) return true;
  return false;
}

export function fromStoredMessage(stored: StoredMessage): SyncMlMessage {
  return decodeBuffers(stored.message) as SyncMlMessage;
}

function encodeBuffers(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return { $base64: v.toString('base64') };
  if (Array.isArray(v)) return v.map(encodeBuffers);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = encodeBuffers(x);
    return out;
  }
  return v;
}

function decodeBuffers(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decodeBuffers);
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && typeof o.$base64 === 'string') return Buffer.from(o.$base64, 'base64');
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = decodeBuffers(o[k]);
    return out;
  }
  return v;
}
