/**
 * What the caller hands the session engine with each client message, besides
 * the stored session state and the decoded message. Nothing here is stored:
 * it is rebuilt per HTTP request from the device registry, the request queue
 * and configuration.
 */
import type { HmacHeader } from '../auth/credentials.js';
import type { SyncMlEncoding, SyncMlMessage } from '../codec/types.js';
import type { ServerCommandRequest } from './server-commands.js';

/** The device's DM account as the gateway stores it. */
export interface DeviceAuthRecord {
  /** DevInfo/DevId, e.g. `IMEI:493005100592800`; must equal the SyncHdr Source LocURI. */
  deviceId: string;
  /** CLCRED scheme; SRVCRED uses the same one (basic/md5 → Cred, hmac → x-syncml-hmac). */
  authType: 'basic' | 'md5' | 'hmac';
  /** CLCRED AAuthName / AAuthSecret. */
  clientUsername: string;
  clientPassword: string;
  /** SRVCRED AAuthName (= DMAcc ServerID) / AAuthSecret. */
  serverId: string;
  serverPassword: string;
  /** Base64 nonce the device must use in its credentials (last NextNonce we issued). */
  clientNonce?: string;
  /** Base64 nonce for our SRVCRED (last NextNonce the device issued us). */
  serverNonce?: string;
}

export interface SessionLimits {
  /** Our MaxMsgSize, advertised in every reply's SyncHdr Meta (the HTTP layer enforces it on requests). */
  maxMsgSize?: number;
  /** Our MaxObjSize, advertised likewise. */
  maxObjSize?: number;
  /** Client MaxMsgSize assumed until its SyncHdr carries one. Default 16384. */
  defaultClientMaxMsgSize?: number;
  /** How many messages of the client's MaxMsgSize one server package may fill when taking requests. Default 4. */
  maxPackageMessages?: number;
  /**
   * Challenges (401/407) per session before giving up on the client's
   * credentials (a 401 without Chal). Default 1. A session not yet
   * authenticated stores nothing, so in practice this only tells 0 (never a
   * Chal) from more: each failed message is challenged afresh.
   */
  maxAuthChallenges?: number;
  /** Times the client may reject our credentials before the session is ended. Default 2. */
  maxServerAuthRejections?: number;
}

export interface SessionContext {
  /** Looked up by the SyncHdr Source LocURI; undefined when the device is unknown. */
  device: DeviceAuthRecord | undefined;
  /** Milliseconds since the epoch (stored as session timestamps). */
  now: number;
  /** A fresh ≥128-bit nonce; `newNonce` from src/dm/auth/credentials.ts fits. */
  newNonce: () => { b64: string };
  /**
   * The resync nonce (4 zero bytes), when this session answers a Package#0 trigger we signed with it (notes §4):
   * a client that verified the trigger only on that nonce opens its session with credentials on it too. Accepted
   * beside the device's nonce until the session first challenges or authenticates (effect `resync-nonce-used`);
   * the caller passes it only for a trigger it remembers sending, not yet used (ResyncOffers).
   */
  resyncNonce?: Buffer;
  /** For HMAC devices: the x-syncml-hmac header (raw or parsed) and the exact HTTP body bytes. */
  hmac?: { header: string | HmacHeader | undefined; body: Buffer };
  /** Our URL: Source LocURI of every reply. */
  serverUri: string;
  /** RespURI to advertise (e.g. serverUri + session token); omitted: none. */
  respUri?: string;
  /**
   * The device's queued requests, oldest first. The engine takes what fits
   * into the next package (effect `requests-taken`) and ignores ids it has
   * already taken or finished in this session, so passing the whole queue on
   * every call is safe.
   */
  pending: readonly ServerCommandRequest[];
  /** True when the device model is unknown: DevDetail leaves are fetched first. */
  modelUnknown?: boolean;
  /** The encoding of the exchange: binary data goes as Buffers in WBXML, as base64 text in XML. */
  encoding: SyncMlEncoding;
  /** Encoded size of a message in bytes, e.g. `(m) => encodedSize(m, encoding)` from src/dm/codec. */
  sizeOf: (msg: SyncMlMessage) => number;
  limits?: SessionLimits;
}

export const DEFAULT_CLIENT_MAX_MSG_SIZE = 16384;
export const DEFAULT_MAX_PACKAGE_MESSAGES = 4;
export const DEFAULT_MAX_AUTH_CHALLENGES = 1;
export const DEFAULT_MAX_SERVER_AUTH_REJECTIONS = 2;
