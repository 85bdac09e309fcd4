/**
 * What a client message caused, as values the caller applies (persist a
 * nonce, record DevInfo, resolve a request, log a protocol error…). Every
 * effect names the session and device; all are plain JSON.
 */
import type { AuthFailureReason } from '../auth/verify.js';
import type { CommandResult } from './server-commands.js';

interface EffectBase {
  sessionId: string;
  /** The SyncHdr Source LocURI (for `unknown-device`, the unrecognised id). */
  deviceId: string;
}

export type ProtocolErrorReason =
  | 'unsupported-version'
  | 'session-id-mismatch'
  | 'source-mismatch'
  | 'msgid-gap'
  | 'no-session'
  | 'session-closed';

export type SessionEndReason = 'completed' | 'client-abort' | 'auth-failed' | 'server-auth-failed' | 'unknown-device';

export type UndeliveredReason =
  | 'session-aborted'
  | 'auth-failed'
  | 'server-auth-failed'
  | 'unknown-device'
  | 'no-status'
  | 'session-ended'
  /** Sent in an earlier session that ended without its answer reaching us (see dm/server/lost-requests.ts). */
  | 'session-lost';

/** A value the codec gave as bytes (Format `bin`): base64 text plus this marker. */
export interface DataValue {
  data?: string;
  dataEncoding?: 'base64';
}

export interface GenericAlertEffect extends EffectBase, DataValue {
  type: 'generic-alert';
  /** Meta Type with any `Reversed-Domain-Name:` / `Content-Type:` prefix removed, trimmed. */
  alertType: string;
  /** Meta Type as received. */
  rawType?: string;
  /** Item Source LocURI (the related MO node). */
  source?: string;
  format?: string;
  /** Meta Mark; `informational` when absent (notes §5). */
  mark: string;
  correlator?: string;
}

export interface ClientEventItem extends DataValue {
  eventType?: string;
  rawType?: string;
  source?: string;
  format?: string;
}

export type SessionEffect =
  /** Credentials accepted for the first time in this session. */
  | (EffectBase & { type: 'session-started'; initiator: 'server' | 'client' })
  /** Source LocURI not in the registry: answered 403, no session created. */
  | (EffectBase & { type: 'unknown-device' })
  /** A message the session could not take; answered with a header Status only, state untouched. */
  | (EffectBase & { type: 'protocol-error'; reason: ProtocolErrorReason; msgId: number; detail: string })
  /** A repeated MsgID: the stored reply was sent again. */
  | (EffectBase & { type: 'retransmission'; msgId: number })
  /** Credentials missing or wrong: challenged (401/407 + Chal). */
  | (EffectBase & { type: 'auth-challenge'; status: 401 | 407; reason: AuthFailureReason })
  /** The challenge budget is spent: session ended without commands. */
  | (EffectBase & { type: 'auth-failed'; status: 401 | 407; reason: AuthFailureReason })
  /**
   * The credentials were accepted on the resync nonce a Package#0 trigger invited (SessionContext.resyncNonce): the
   * invitation is used up, and the Chal of the 212 carries a fresh nonce (notes §4).
   */
  | (EffectBase & { type: 'resync-nonce-used' })
  /** We sent this NextNonce for the device's CLCRED: persist it as `clientNonce`. */
  | (EffectBase & { type: 'client-nonce-issued'; nonce: string })
  /** The device sent us this NextNonce for our SRVCRED: persist it as `serverNonce`. */
  | (EffectBase & { type: 'server-nonce-issued'; nonce: string })
  /** The device refused our credentials (header Status 401/407); `gaveUp` when the session ends for it. */
  | (EffectBase & { type: 'server-auth-rejected'; status: number; gaveUp: boolean })
  | (EffectBase & {
      type: 'devinfo';
      devId?: string;
      man?: string;
      mod?: string;
      dmV?: string;
      lang?: string;
      /** Every DevInfo leaf received, by URI (Ext, Bearer… included). */
      nodes: Record<string, string>;
    })
  | (EffectBase & {
      type: 'devdetail';
      fwV?: string;
      swV?: string;
      hwV?: string;
      devTyp?: string;
      oem?: string;
      lrgObj?: boolean;
    })
  | GenericAlertEffect
  /** Alert 1224 (client event), e.g. Windows LoginStatus. */
  | (EffectBase & { type: 'client-event'; correlator?: string; items: ClientEventItem[] })
  /** These requests are now in this session (mark them in flight). */
  | (EffectBase & { type: 'requests-taken'; requestIds: string[] })
  /** The request can never be sent as given (invalid, or too large for the device's limits). */
  | (EffectBase & { type: 'request-rejected'; requestId: string; reason: string })
  /** Every spec of the request has its Status (and Results for a Get). */
  | (EffectBase & { type: 'command-result'; requestId: string; results: CommandResult[]; containerStatus?: number })
  /**
   * The request did not complete in this session. `not-sent`: nothing reached
   * the device, safe to requeue; `sent-no-status`: sent, no answer (may or may
   * not have run); `partial`: `results` holds the specs that were answered.
   */
  | (EffectBase & {
      type: 'command-undelivered';
      requestId: string;
      reason: UndeliveredReason;
      delivery: 'not-sent' | 'sent-no-status' | 'partial';
      results: CommandResult[];
    })
  | (EffectBase & { type: 'session-ended'; reason: SessionEndReason });

export type SessionEffectType = SessionEffect['type'];
