/**
 * The simulated DM 1.2 client's session as a pure state machine (notes §1,
 * §3, §5): `startSession` builds Package#1, `onServerMessage` answers each
 * server message. No I/O: the caller encodes, posts to `state.url`, adds
 * `authHeaders(state, body)` (x-syncml-hmac) and applies the returned events
 * (nonces to store, alerts delivered, tree changes).
 *
 * The management tree is the device's own mutable state: the server's
 * commands run against it here (through the command processor). The state
 * object is replaced on every step; its Large Object buffer is shared, so a
 * state must not be reused after it was stepped.
 *
 * Choices where the notes are silent:
 * - A 401/407 on our credentials is retried (Pkg1 resent with the Chal's
 *   nonce) at most `maxChallenges` times (default 2); a Chal naming another
 *   scheme switches to it, as libdmclient does. Any other header code >= 300
 *   ends the session ('rejected').
 * - SRVCRED: a correct server Cred gets 212, an absent one 200 (407 + Chal
 *   when `requireServerCred`), a wrong one 401 + Chal with a fresh server
 *   nonce; a message failing server authentication is not executed (its
 *   commands get no Status; the server resends them). After
 *   `maxServerChallenges` failures the session ends ('server-auth-failed').
 * - The client issues a new server nonce (Chal on its 212/200) when it holds
 *   none, after a Package#0 nonce resync, and every session with
 *   `serverNonceRotation: 'every-session'`.
 * - MaxObjSize: a Results item larger than the server's MaxObjSize is not
 *   sent; its Get Status becomes 413. Items that do not fit the server's
 *   MaxMsgSize are sent as Large Objects (MoreData chunks, Meta Size on the
 *   first) over several messages.
 * - The client's message carries Final only when the server's package is
 *   closed and nothing is left to send; while the server's package is open
 *   (its message had no Final) the client adds Alert 1222 unless it sends
 *   Results.
 */
import { randomBytes } from 'node:crypto';
import {
  AUTH_META_TYPE,
  authTypeFromMeta,
  basicCredential,
  type DeviceAuthType,
  decodeNonce,
  formatHmacHeader,
  hmacMac,
  md5Credential,
  parseHmacHeader,
  timingSafeEqualString,
  userDigest,
} from '../dm/auth/credentials.js';
import { dataText, encodedSize, encodeXml } from '../dm/codec/index.js';
import type {
  AlertCommand,
  Chal,
  Command,
  Cred,
  Item,
  ItemData,
  Meta,
  ResultsCommand,
  StatusCommand,
  SyncHdr,
  SyncMlEncoding,
  SyncMlMessage,
} from '../dm/codec/types.js';
import { createLargeObjectAssembly, type LargeObjectAssembly, processCommands, type UiHandler } from './command-processor.js';
import type { ManagementTree } from './tree/management-tree.js';

export const HMAC_HEADER = 'x-syncml-hmac';

/** The device's two credential sets (notes §3) as the session needs them. */
export interface ClientCredentials {
  authType: DeviceAuthType;
  clientUsername: string;
  clientPassword: string;
  /** CLCRED AAuthData: the nonce the server gave last, raw bytes. */
  clientNonce: Buffer;
  /** DMAcc ServerID; also the SRVCRED AAuthName. */
  serverId: string;
  serverPassword: string;
  /** SRVCRED AAuthData: the nonce this client issued to the server, raw bytes. */
  serverNonce: Buffer;
  /**
   * B64(MD5(clientUsername:clientPassword)) and B64(MD5(serverId:serverPassword))
   * when the caller keeps them (a simulated device does, see user-digests.ts);
   * made from the names and passwords when absent. Must match them when given.
   */
  clientDigest?: string;
  serverDigest?: string;
}

/** What the session reads from the device. */
export interface SessionDevice {
  /** DevInfo/DevId, the SyncHdr Source. */
  devId: string;
  tree: ManagementTree;
  /** The DM server URL: the SyncHdr Target and the first POST address. */
  serverUrl: string;
  credentials: ClientCredentials;
  /** The encoding the device posts in (used to measure message sizes). */
  encoding: SyncMlEncoding;
  /** Advertised in Pkg1 (Meta MaxMsgSize / MaxObjSize). */
  maxMsgSize: number;
  maxObjSize: number;
  /** Generic Alerts (1226) to report in Pkg1; CmdIDs are reassigned. */
  genericAlerts?: readonly AlertCommand[];
  ui?: UiHandler;
  /** Default true. False: the server's Cred / HMAC is not checked (header Status 200). */
  verifyServerCred?: boolean;
  /** Default false: a server without Cred is accepted (header Status 200). */
  requireServerCred?: boolean;
  /** Default 'when-needed' (see the module comment). */
  serverNonceRotation?: 'when-needed' | 'every-session';
  /** Default 2. */
  maxChallenges?: number;
  /** Default 2. */
  maxServerChallenges?: number;
  /** Fresh server nonces; default 16 random bytes. */
  newNonce?: () => Buffer;
}

export type SessionTrigger =
  | {
      kind: 'server-initiated';
      /** From the Package#0: `sessionIdToHex(trigger.sessionId)`. */
      sessionIdHex: string;
      /** The trigger verified only with the resync nonce (notes §4). */
      resync?: boolean;
    }
  | { kind: 'client-initiated'; sessionIdHex?: string };

export type SessionOutcome = 'ok' | 'aborted' | 'auth-failed' | 'server-auth-failed' | 'rejected';

export type SessionEvent =
  /** Store as CLCRED AAuthData: the nonce for the next credentials. */
  | { kind: 'client-nonce'; nonce: Buffer }
  /** The server challenged with another scheme; the device switched to it. */
  | { kind: 'auth-type'; authType: DeviceAuthType }
  | { kind: 'authenticated'; level: 'session' | 'message' }
  /** Store as SRVCRED AAuthData: this client issued a new server nonce. */
  | { kind: 'server-nonce'; nonce: Buffer }
  | { kind: 'server-authenticated' }
  | { kind: 'server-auth-failed'; reason: 'missing' | 'bad' }
  /** The server statused a Generic Alert from `genericAlerts` (the original object). */
  | { kind: 'alert-status'; alert: AlertCommand; status: number }
  /** Successful Add/Replace/Delete/Copy/Exec on these URIs in one server message. */
  | { kind: 'tree-modified'; uris: string[] }
  /** The server's commands of one message were run against the tree (Statuses and Results left out). */
  | { kind: 'commands-run'; commands: Command[] }
  | { kind: 'ended'; outcome: SessionOutcome; detail?: string };

/** A reply waiting to be sent, or a Results item being sent in chunks. */
type Outgoing =
  | { kind: 'command'; command: StatusCommand | ResultsCommand | AlertCommand }
  | {
      kind: 'chunks';
      results: Omit<ResultsCommand, 'cmdId' | 'items'>;
      item: Omit<Item, 'data' | 'moreData'>;
      data: ItemData;
      /** Bytes for a Buffer, UTF-16 units for a string. */
      offset: number;
      totalBytes: number;
    };

export interface ClientSessionState {
  readonly device: SessionDevice;
  readonly sessionId: string;
  readonly initiator: 'server' | 'client';
  /** Where the next message goes: the server URL, or the last RespURI. */
  url: string;
  /** MsgID of the last message sent. */
  msgId: number;
  authType: DeviceAuthType;
  clientNonce: Buffer;
  /** 'session' after 212; 'message' after 200 (Cred again in the next message). */
  clientAuth: 'none' | 'session' | 'message';
  challenges: number;
  serverNonce: Buffer;
  /** The nonce in force before this session issued a new one (still accepted). */
  previousServerNonce: Buffer | undefined;
  serverAuthenticated: boolean;
  serverChallenges: number;
  /** Set once the header Status of the first server message is answered. */
  serverNonceIssued: boolean;
  resync: boolean;
  /** Generic Alerts in the last Pkg1 sent, by CmdID. */
  sentAlerts: { msgId: number; cmdId: number; alert: AlertCommand }[];
  largeObject: LargeObjectAssembly;
  outbox: Outgoing[];
  serverMaxMsgSize: number | undefined;
  serverMaxObjSize: number | undefined;
  /** The server's package is closed (its last real message had Final). */
  serverClosed: boolean;
  messagesReceived: number;
  done: boolean;
  outcome: SessionOutcome | undefined;
}

export interface SessionStep {
  state: ClientSessionState;
  reply?: SyncMlMessage;
  /**
   * The reply as an XML device sends it, when checking it against the
   * server's MaxMsgSize already encoded it whole: sent as is rather than
   * encoded a second time.
   */
  replyBytes?: Buffer;
  done: boolean;
  events: SessionEvent[];
}

/** What the transport saw besides the decoded message (for a server HMAC). */
export interface ServerTransportInfo {
  hmacHeader?: string;
  body?: Buffer;
}

const DEFAULT_MAX_CHALLENGES = 2;
/** Room kept free for Final and a 1222 when filling a message to MaxMsgSize. */
const SIZE_MARGIN = 128;
const MODIFYING = new Set(['Add', 'Replace', 'Delete', 'Copy', 'Exec']);
const RESYNC_NONCE = Buffer.alloc(4);

export function startSession(
  trigger: SessionTrigger,
  device: SessionDevice,
  now: Date,
): { state: ClientSessionState; message: SyncMlMessage } {
  const resync = trigger.kind === 'server-initiated' && trigger.resync === true;
  const creds = device.credentials;
  const state: ClientSessionState = {
    device,
    sessionId:
      trigger.sessionIdHex ?? ((Math.floor(now.getTime() / 1000) % 0xffff) + 1).toString(16).toUpperCase(),
    initiator: trigger.kind === 'server-initiated' ? 'server' : 'client',
    url: device.serverUrl,
    msgId: 0,
    authType: creds.authType,
    // After a resync the session starts with credentials on that nonce (notes §4).
    clientNonce: resync ? RESYNC_NONCE : creds.clientNonce,
    clientAuth: 'none',
    challenges: 0,
    serverNonce: resync ? RESYNC_NONCE : creds.serverNonce,
    previousServerNonce: undefined,
    serverAuthenticated: false,
    serverChallenges: 0,
    serverNonceIssued: false,
    resync,
    sentAlerts: [],
    largeObject: createLargeObjectAssembly(),
    outbox: [],
    serverMaxMsgSize: undefined,
    serverMaxObjSize: undefined,
    serverClosed: false,
    messagesReceived: 0,
    done: false,
    outcome: undefined,
  };
  return pkg1(state, undefined);
}

/**
 * Headers the transport adds after encoding: x-syncml-hmac over the exact
 * body bytes when the device uses HMAC, nothing otherwise.
 */
export function authHeaders(state: ClientSessionState, body: Buffer): Record<string, string> {
  if (state.authType !== 'hmac') return {};
  const creds = state.device.credentials;
  const mac = hmacMac(clientDigest(creds), state.clientNonce, body);
  return { [HMAC_HEADER]: formatHmacHeader({ username: creds.clientUsername, mac }) };
}

export function onServerMessage(
  prev: ClientSessionState,
  msg: SyncMlMessage,
  transport: ServerTransportInfo = {},
): SessionStep {
  if (prev.done) return { state: prev, done: true, events: [] };
  const s: ClientSessionState = { ...prev, messagesReceived: prev.messagesReceived + 1 };
  const events: SessionEvent[] = [];
  const end = (outcome: SessionOutcome, detail?: string): SessionStep => {
    s.done = true;
    s.outcome = outcome;
    events.push(detail === undefined ? { kind: 'ended', outcome } : { kind: 'ended', outcome, detail });
    return { state: s, done: true, events };
  };

  if (msg.header.respUri) s.url = msg.header.respUri;
  if (msg.header.meta?.maxMsgSize !== undefined) s.serverMaxMsgSize = msg.header.meta.maxMsgSize;
  if (msg.header.meta?.maxObjSize !== undefined) s.serverMaxObjSize = msg.header.meta.maxObjSize;

  // 1. The server's verdict on our credentials.
  const clientAuth = applyHeaderStatus(s, msg, events);
  if (clientAuth.verdict === 'fail') return end(clientAuth.outcome, clientAuth.detail);

  // 2. Our verdict on the server's credentials.
  const hdr = answerServerCredentials(s, msg, transport, events);
  if (hdr.failed && s.serverChallenges > (s.device.maxServerChallenges ?? DEFAULT_MAX_CHALLENGES)) {
    return end('server-auth-failed');
  }

  // 3. Statuses for the Generic Alerts we sent.
  for (const cmd of msg.body) {
    if (cmd.kind !== 'Status' || cmd.cmd !== 'Alert') continue;
    if (cmd.data === 401 || cmd.data === 407) continue;
    const sent = s.sentAlerts.find((a) => a.cmdId === cmd.cmdRef && a.msgId === cmd.msgRef);
    if (sent) events.push({ kind: 'alert-status', alert: sent.alert, status: cmd.data });
  }

  const hasCommands = msg.body.some((c) => c.kind !== 'Status' && c.kind !== 'Results' && !isAlert(c, 1222));
  if (msg.final) s.serverClosed = true;
  else if (hasCommands) s.serverClosed = false;

  // The header Status is built once it is known that a reply goes out.
  const headerStatus = () => {
    const chal = hdr.chal ?? (hdr.rotate ? serverChal(hdr.rotate, issueServerNonce(s, events, true)) : undefined);
    return buildHeaderStatus(msg.header, hdr.code, chal);
  };
  if (clientAuth.verdict === 'retry') {
    const { state, message } = pkg1(s, headerStatus());
    return { state, reply: message, done: false, events };
  }
  if (hdr.failed) {
    // Nothing of an unauthenticated server runs; it resends with credentials.
    return reply(s, headerStatus(), events);
  }

  const result = processCommands(s.device.tree, msg.body, {
    msgId: msg.header.msgId,
    nextCmdId: () => 0,
    largeObject: s.largeObject,
    ...(s.device.ui !== undefined && { ui: s.device.ui }),
  });
  const run = msg.body.filter((c) => c.kind !== 'Status' && c.kind !== 'Results');
  if (run.length > 0) events.push({ kind: 'commands-run', commands: run });
  if (result.aborted) return end('aborted');
  const modified = modifiedUris(result.statuses);
  if (modified.length > 0) events.push({ kind: 'tree-modified', uris: modified });

  const replies = enforceMaxObjSize(result.replies, s.serverMaxObjSize);
  s.outbox = [...s.outbox, ...replies.map(toOutgoing), ...result.outgoingAlerts.map(toOutgoing)];

  if (msg.final && s.outbox.length === 0 && hdr.chal === undefined) {
    // The reply would hold only the header Status: not sent (notes §1).
    return end('ok');
  }
  return reply(s, headerStatus(), events);
}

// ---- Package#1 --------------------------------------------------------------

function pkg1(s: ClientSessionState, headerStatus: StatusCommand | undefined): { state: ClientSessionState; message: SyncMlMessage } {
  const msgId = s.msgId + 1;
  let cmdId = 1;
  const body: Command[] = [];
  if (headerStatus) body.push({ ...headerStatus, cmdId: cmdId++ });
  body.push({ kind: 'Alert', cmdId: cmdId++, data: s.initiator === 'server' ? 1200 : 1201, items: [] });
  body.push({ kind: 'Replace', cmdId: cmdId++, items: devInfoItems(s.device.tree) });
  const sentAlerts: ClientSessionState['sentAlerts'] = [];
  for (const alert of s.device.genericAlerts ?? []) {
    const id = cmdId++;
    body.push({ ...alert, cmdId: id });
    sentAlerts.push({ msgId, cmdId: id, alert });
  }
  const header = clientHeader(s, msgId, true);
  const state: ClientSessionState = { ...s, msgId, sentAlerts };
  return { state, message: { header, body, final: true } };
}

function devInfoItems(tree: ManagementTree): Item[] {
  const info = tree.read('./DevInfo');
  const items: Item[] = [];
  for (const name of info?.children ?? []) {
    const uri = `./DevInfo/${name}`;
    const leaf = tree.read(uri);
    if (leaf?.kind !== 'leaf') continue;
    items.push({
      source: { locUri: uri },
      meta: { format: 'chr', type: 'text/plain' },
      data: dataText(leaf.data),
    });
  }
  return items;
}

function clientHeader(s: ClientSessionState, msgId: number, withMeta: boolean): SyncHdr {
  const creds = s.device.credentials;
  const header: SyncHdr = {
    verDtd: '1.2',
    verProto: 'DM/1.2',
    sessionId: s.sessionId,
    msgId,
    target: { locUri: s.device.serverUrl },
    source: { locUri: s.device.devId, locName: creds.clientUsername },
  };
  const cred = clientCred(s);
  if (cred) header.cred = cred;
  if (withMeta) header.meta = { maxMsgSize: s.device.maxMsgSize, maxObjSize: s.device.maxObjSize };
  return header;
}

/** Cred while not authenticated for the session; HMAC travels in a header instead. */
function clientCred(s: ClientSessionState): Cred | undefined {
  if (s.clientAuth === 'session' || s.authType === 'hmac') return undefined;
  const creds = s.device.credentials;
  const data =
    s.authType === 'basic'
      ? basicCredential(creds.clientUsername, creds.clientPassword)
      : md5Credential(clientDigest(creds), s.clientNonce);
  return { meta: { type: AUTH_META_TYPE[s.authType], format: 'b64' }, data };
}

// ---- authentication ---------------------------------------------------------

function clientDigest(creds: ClientCredentials): string {
  return creds.clientDigest ?? userDigest(creds.clientUsername, creds.clientPassword);
}

type ClientAuthVerdict =
  | { verdict: 'ok' | 'retry' }
  | { verdict: 'fail'; outcome: SessionOutcome; detail: string };

function applyHeaderStatus(s: ClientSessionState, msg: SyncMlMessage, events: SessionEvent[]): ClientAuthVerdict {
  const status = msg.body.find((c): c is StatusCommand => c.kind === 'Status' && c.cmdRef === 0);
  // A server that omits it breaks the rules, but nothing is gained by failing.
  if (!status) return { verdict: 'ok' };
  const meta = status.chal?.meta;
  if (meta?.nextNonce !== undefined) {
    s.clientNonce = decodeNonce(meta.nextNonce);
    events.push({ kind: 'client-nonce', nonce: s.clientNonce });
  }
  if (status.data === 212 || status.data === 200) {
    const level = status.data === 212 ? 'session' : 'message';
    if (s.clientAuth !== 'session') {
      if (s.clientAuth === 'none') events.push({ kind: 'authenticated', level });
      s.clientAuth = level;
    }
    return { verdict: 'ok' };
  }
  if (status.data === 401 || status.data === 407) {
    if (!status.chal) return { verdict: 'fail', outcome: 'auth-failed', detail: `${status.data} without Chal` };
    const challenged = authTypeFromMeta(meta?.type);
    if (challenged !== undefined && challenged !== s.authType) {
      s.authType = challenged;
      events.push({ kind: 'auth-type', authType: challenged });
    }
    s.clientAuth = 'none';
    s.challenges += 1;
    if (s.challenges > (s.device.maxChallenges ?? DEFAULT_MAX_CHALLENGES)) {
      return { verdict: 'fail', outcome: 'auth-failed', detail: `challenged ${s.challenges} times` };
    }
    return { verdict: 'retry' };
  }
  if (status.data >= 300) return { verdict: 'fail', outcome: 'rejected', detail: `header Status ${status.data}` };
  return { verdict: 'ok' };
}

function answerServerCredentials(
  s: ClientSessionState,
  msg: SyncMlMessage,
  transport: ServerTransportInfo,
  events: SessionEvent[],
): ServerCredAnswer {
  const check = s.device.verifyServerCred === false ? 'missing' : checkServerCredential(s, msg, transport);
  const required = s.device.verifyServerCred !== false && s.device.requireServerCred === true;
  const chalType = serverChalType(s, msg, transport);
  if (check === 'bad' || (check === 'missing' && !s.serverAuthenticated && required)) {
    s.serverChallenges += 1;
    events.push({ kind: 'server-auth-failed', reason: check });
    const nonce = issueServerNonce(s, events, false);
    return { code: check === 'bad' ? 401 : 407, chal: serverChal(chalType, nonce), failed: true, rotate: undefined };
  }
  let code = 200;
  if (check === 'ok') {
    if (!s.serverAuthenticated) events.push({ kind: 'server-authenticated' });
    s.serverAuthenticated = true;
    code = transport.hmacHeader !== undefined ? 200 : 212;
  }
  const needNonce =
    !s.serverNonceIssued &&
    (s.resync || s.serverNonce.length === 0 || s.device.serverNonceRotation === 'every-session');
  s.serverNonceIssued = true;
  if (needNonce) return { code, chal: serverChal(chalType, issueServerNonce(s, events, true)), failed: false, rotate: undefined };
  // HMAC: a new nonce with every message (notes §3), issued only if a reply is sent.
  const rotate = check === 'ok' && transport.hmacHeader !== undefined ? chalType : undefined;
  return { code, chal: undefined, failed: false, rotate };
}

interface ServerCredAnswer {
  code: number;
  /** A Chal the reply must carry (failure, or a nonce the server needs). */
  chal: Chal | undefined;
  failed: boolean;
  /** Issue a fresh nonce of this type with the reply, if one is sent. */
  rotate: DeviceAuthType | undefined;
}

function checkServerCredential(
  s: ClientSessionState,
  msg: SyncMlMessage,
  transport: ServerTransportInfo,
): 'ok' | 'missing' | 'bad' {
  const creds = s.device.credentials;
  const digest = creds.serverDigest ?? userDigest(creds.serverId, creds.serverPassword);
  const nonces = [s.serverNonce, ...(s.previousServerNonce ? [s.previousServerNonce] : [])];
  if (transport.hmacHeader !== undefined) {
    const h = parseHmacHeader(transport.hmacHeader);
    if (h?.algorithm !== 'MD5' || h.username !== creds.serverId || !transport.body) return 'bad';
    const body = transport.body;
    return nonces.some((n) => timingSafeEqualString(hmacMac(digest, n, body), h.mac)) ? 'ok' : 'bad';
  }
  const cred = msg.header.cred;
  if (!cred) return 'missing';
  const type = authTypeFromMeta(cred.meta?.type);
  const data = cred.data.trim();
  if (type === 'basic') return timingSafeEqualString(basicCredential(creds.serverId, creds.serverPassword), data) ? 'ok' : 'bad';
  if (type === 'md5') return nonces.some((n) => timingSafeEqualString(md5Credential(digest, n), data)) ? 'ok' : 'bad';
  return 'bad';
}

function serverChalType(s: ClientSessionState, msg: SyncMlMessage, transport: ServerTransportInfo): DeviceAuthType {
  if (transport.hmacHeader !== undefined) return 'hmac';
  const fromCred = msg.header.cred ? authTypeFromMeta(msg.header.cred.meta?.type) : undefined;
  if (fromCred) return fromCred;
  // Basic needs no nonce; challenge a server for md5 when the client itself uses basic.
  return s.authType === 'basic' ? 'md5' : s.authType;
}

function serverChal(type: DeviceAuthType, nonce: Buffer): Chal {
  return { meta: { type: AUTH_META_TYPE[type], format: 'b64', nextNonce: nonce.toString('base64') } };
}

function issueServerNonce(s: ClientSessionState, events: SessionEvent[], keepPrevious: boolean): Buffer {
  const nonce = s.device.newNonce ? s.device.newNonce() : randomNonce();
  s.previousServerNonce = keepPrevious ? s.serverNonce : undefined;
  s.serverNonce = nonce;
  events.push({ kind: 'server-nonce', nonce });
  return nonce;
}

/**
 * 16 random bytes cut from a larger block: one call into the system's
 * generator per 256 nonces instead of one each (a fleet issues one every
 * session). Each nonce is a copy, so none keeps the block alive.
 */
let randomBlock = Buffer.alloc(0);
let randomOffset = 0;

function randomNonce(): Buffer {
  if (randomOffset + 16 > randomBlock.length) {
    randomBlock = randomBytes(4096);
    randomOffset = 0;
  }
  const nonce = Buffer.from(randomBlock.subarray(randomOffset, randomOffset + 16));
  randomOffset += 16;
  return nonce;
}

function buildHeaderStatus(server: SyncHdr, code: number, chal: Chal | undefined): StatusCommand {
  const status: StatusCommand = {
    kind: 'Status',
    cmdId: 0,
    msgRef: server.msgId,
    cmdRef: 0,
    cmd: 'SyncHdr',
    targetRefs: [server.target.locUri],
    sourceRefs: [server.source.locUri],
    data: code,
    items: [],
  };
  if (chal) status.chal = chal;
  return status;
}

// ---- replies ------------------------------------------------------------------

/**
 * Fills one message from the outbox within the server's MaxMsgSize. Final
 * when the server's package is closed and the outbox is drained; Alert 1222
 * while the server's package is open and no Results are sent.
 */
function reply(prev: ClientSessionState, headerStatus: StatusCommand, events: SessionEvent[]): SessionStep {
  const s: ClientSessionState = { ...prev, msgId: prev.msgId + 1, outbox: [...prev.outbox] };
  const header = clientHeader(s, s.msgId, false);
  const body: Command[] = [{ ...headerStatus, cmdId: 1 }];
  const limit = s.serverMaxMsgSize;
  const measured = fill(s, header, body, limit);
  const final = s.serverClosed && s.outbox.length === 0;
  if (!s.serverClosed && !body.some((c) => c.kind === 'Results')) {
    body.push({ kind: 'Alert', cmdId: body.length + 1, data: 1222, items: [] });
  }
  const step: SessionStep = { state: s, reply: { header, body, final }, done: false, events };
  // Measured with Final: the very reply only when it is final (and so has no 1222 added).
  if (measured !== undefined && final) step.replyBytes = measured;
  return step;
}

/** Returns the bytes of `{ header, body, final: true }` when everything fit at once and the device speaks XML. */
function fill(s: ClientSessionState, header: SyncHdr, body: Command[], limit: number | undefined): Buffer | undefined {
  const enc = s.device.encoding;
  const size = (cmds: Command[]) => encodedSize({ header, body: cmds, final: true }, enc);
  if (limit === undefined) {
    for (const out of s.outbox) {
      if (out.kind === 'command') body.push({ ...out.command, cmdId: body.length + 1 });
      else body.push(chunkResults(out, Number.POSITIVE_INFINITY, body.length + 1).results);
    }
    s.outbox = [];
    return undefined;
  }
  const budget = limit - SIZE_MARGIN;
  // Fast path: everything fits.
  const all = s.outbox.every((o) => o.kind === 'command')
    ? [...body, ...s.outbox.map((o, i) => ({ ...(o as { command: Command }).command, cmdId: body.length + 1 + i }))]
    : undefined;
  if (all) {
    const bytes = enc === 'xml' ? encodeXml({ header, body: all, final: true }) : undefined;
    if ((bytes?.length ?? size(all)) <= budget) {
      body.splice(0, body.length, ...all);
      s.outbox = [];
      return bytes;
    }
  }
  while (s.outbox.length > 0) {
    const next = s.outbox[0]!;
    const cmdId = body.length + 1;
    if (next.kind === 'command') {
      const candidate = { ...next.command, cmdId };
      if (size([...body, candidate]) <= budget) {
        body.push(candidate);
        s.outbox.shift();
        continue;
      }
      if (next.command.kind === 'Results' && next.command.items.length > 0) {
        // Split into one Results per item, then chunk the item that does not fit.
        s.outbox.splice(0, 1, ...splitResults(next.command));
        continue;
      }
      if (body.length === 1) {
        // A lone command larger than the limit: nothing better can be done.
        body.push(candidate);
        s.outbox.shift();
      }
      return undefined;
    }
    // A Large Object in progress: send as much as fits.
    const base = size([...body, chunkResults(next, 0, cmdId).results]);
    let room = budget - base;
    if (room <= 0 && body.length > 1) return undefined;
    room = Math.max(room, 16);
    for (let attempt = 0; attempt < 6; attempt++) {
      const piece = chunkResults(next, room, cmdId);
      const over = size([...body, piece.results]) - budget;
      if (over <= 0 || room <= 16) {
        body.push(piece.results);
        next.offset = piece.nextOffset;
        if (piece.last) s.outbox.shift();
        break;
      }
      room = Math.max(16, room - over - 8);
    }
    if (s.outbox[0] === next) return undefined;
  }
  return undefined;
}

/** One Results per item; an item that alone is too big becomes a chunked object. */
function splitResults(results: ResultsCommand): Outgoing[] {
  const { items, cmdId: _cmdId, ...rest } = results;
  if (items.length === 1) {
    const { data, moreData: _more, ...item } = items[0]!;
    const value = data ?? '';
    return [{ kind: 'chunks', results: rest, item, data: value, offset: 0, totalBytes: byteLength(value) }];
  }
  return items.map((item) => ({ kind: 'command', command: { ...rest, cmdId: 0, items: [item] } }));
}

/** The next chunk of at most `room` bytes (payload), with MoreData unless it is the last. */
function chunkResults(
  out: Extract<Outgoing, { kind: 'chunks' }>,
  room: number,
  cmdId: number,
): { results: ResultsCommand; nextOffset: number; last: boolean } {
  const [piece, nextOffset] =
    typeof out.data === 'string'
      ? sliceUtf8(out.data, out.offset, room)
      : [out.data.subarray(out.offset, out.offset + room), Math.min(out.data.length, out.offset + room)];
  const last = nextOffset >= out.data.length;
  const meta: Meta = { ...out.item.meta };
  if (out.offset === 0) meta.size = out.totalBytes;
  const item: Item = { ...out.item, data: piece };
  if (Object.keys(meta).length > 0) item.meta = meta;
  if (!last) item.moreData = true;
  return { results: { ...out.results, cmdId, items: [item] }, nextOffset, last };
}

/** The longest prefix from `start` whose UTF-8 encoding fits `maxBytes` (code points kept whole). */
function sliceUtf8(text: string, start: number, maxBytes: number): [string, number] {
  let bytes = 0;
  let i = start;
  while (i < text.length) {
    const cp = text.codePointAt(i)!;
    const len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + len > maxBytes) break;
    bytes += len;
    i += cp >= 0x10000 ? 2 : 1;
  }
  return [text.slice(start, i), i];
}

function byteLength(data: ItemData): number {
  return typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length;
}

/** Drops Results items above MaxObjSize and answers their Get with 413. */
function enforceMaxObjSize(
  replies: (StatusCommand | ResultsCommand)[],
  maxObjSize: number | undefined,
): (StatusCommand | ResultsCommand)[] {
  if (maxObjSize === undefined) return replies;
  const tooBig: { cmdRef: number; uri: string | undefined }[] = [];
  const kept: (StatusCommand | ResultsCommand)[] = [];
  for (const r of replies) {
    if (r.kind !== 'Results') {
      kept.push(r);
      continue;
    }
    const items = r.items.filter((item) => {
      const fits = byteLength(item.data ?? '') <= maxObjSize;
      if (!fits) tooBig.push({ cmdRef: r.cmdRef, uri: item.source?.locUri });
      return fits;
    });
    if (items.length > 0) kept.push({ ...r, items });
  }
  if (tooBig.length === 0) return replies;
  return kept.map((r) =>
    r.kind === 'Status' && r.cmd === 'Get' && tooBig.some((t) => t.cmdRef === r.cmdRef && t.uri === r.targetRefs[0])
      ? { ...r, data: 413 }
      : r,
  );
}

function toOutgoing(command: StatusCommand | ResultsCommand | AlertCommand): Outgoing {
  return { kind: 'command', command };
}

function modifiedUris(statuses: StatusCommand[]): string[] {
  const uris: string[] = [];
  for (const st of statuses) {
    if (!MODIFYING.has(st.cmd) || st.data < 200 || st.data > 299) continue;
    if (st.data === 213 || st.data === 215 || st.data === 216) continue;
    const uri = st.targetRefs[0];
    if (uri !== undefined) uris.push(uri);
  }
  return uris;
}

function isAlert(cmd: Command, code: number): boolean {
  return cmd.kind === 'Alert' && cmd.data === code;
}
