/**
 * The server side of an OMA DM 1.2 session as a pure step function:
 * `(state, client message, context) → { state, reply, effects }`.
 * No I/O, no timers, no module state: the caller decodes the HTTP body,
 * loads the state (undefined for a new session), applies the effects, stores
 * the new state and encodes the reply.
 *
 * Order of checks for every message (notes §1, §3):
 * 1. VerDTD 1.2 / VerProto DM/1.2, else header Status 505 / 513.
 * 2. A new session needs a known device (else 403, `unknown-device`) and an
 *    Alert 1200/1201 (else 400, `no-session`).
 * 3. SessionID and Source must be the session's (else 400); a repeated MsgID
 *    gets the stored reply again; a gap, or anything after the session
 *    closed, gets 400 (401 after an authentication failure). These answers
 *    leave the session as it was (but for our MsgID counter).
 * 4. Client credentials (auth-step.ts); a failure reply holds only Statuses,
 *    and a session not yet authenticated stores nothing for it.
 * 5. The commands (inbound.ts), then what we send: the rest of our package,
 *    Alert 1222 while the client's package goes on, a new package of
 *    commands once both packages are closed and every command answered, or
 *    the close (Statuses + Final, no commands).
 */
import type { Command, SyncMlMessage } from '../codec/types.js';
import {
  authenticateClient,
  type ClientAuthOutcome,
  needsClientAuth,
  type ReplySigner,
  replySigner,
  serverCred,
} from './auth-step.js';
import type { DeviceAuthRecord, SessionContext } from './context.js';
import type { ProtocolErrorReason, SessionEffect, SessionEndReason, UndeliveredReason } from './effects.js';
import { processInbound } from './inbound.js';
import { composeMessage } from './outbox.js';
import { takeRequests } from './plan.js';
import {
  headerStatus,
  nextMessageAlert,
  replyHeader,
  STATUS_DTD_VERSION_UNSUPPORTED,
  STATUS_PROTOCOL_VERSION_UNSUPPORTED,
  uniformStatuses,
  VER_DTD,
  VER_PROTO,
} from './reply.js';
import { createSessionState, fromStoredMessage, type SessionState, toStoredMessage } from './state.js';
import { abandonAll, collectFinished, failLargeObject } from './tracking.js';

export interface SessionStepResult {
  /** Store this for the next message; undefined: nothing to store (no session exists, or the message changed nothing). */
  state: SessionState | undefined;
  /** Encode in the client's encoding and send as the HTTP response body. */
  reply: SyncMlMessage;
  effects: SessionEffect[];
  /** HMAC devices: sign the encoded reply with `signReply(replySigner, body)` into x-syncml-hmac. */
  replySigner?: ReplySigner;
  /**
   * The session is over. Keep the state until it expires anyway: a
   * retransmitted last message is answered from it.
   */
  closed: boolean;
}

export function handleClientMessage(
  prev: SessionState | undefined,
  msg: SyncMlMessage,
  ctx: SessionContext,
): SessionStepResult {
  const hdr = msg.header;
  if (hdr.verDtd.trim() !== VER_DTD || hdr.verProto.trim() !== VER_PROTO) {
    const code = hdr.verDtd.trim() !== VER_DTD ? STATUS_DTD_VERSION_UNSUPPORTED : STATUS_PROTOCOL_VERSION_UNSUPPORTED;
    return refuse(prev, msg, ctx, code, 'unsupported-version', `VerDTD ${hdr.verDtd}, VerProto ${hdr.verProto}`);
  }
  if (prev === undefined) return startSession(msg, ctx);
  if (hdr.sessionId !== prev.sessionId) {
    return refuse(prev, msg, ctx, 400, 'session-id-mismatch', `SessionID ${hdr.sessionId}, expected ${prev.sessionId}`);
  }
  if (hdr.source.locUri !== prev.deviceId) {
    return refuse(prev, msg, ctx, 400, 'source-mismatch', `Source ${hdr.source.locUri}, expected ${prev.deviceId}`);
  }
  if (hdr.msgId === prev.client.lastMsgId && prev.lastReply !== undefined) return retransmit(prev, ctx);
  if (prev.phase === 'closed') {
    const code = prev.endReason === 'auth-failed' ? 401 : 400;
    return refuse(prev, msg, ctx, code, 'session-closed', `session ended (${prev.endReason ?? 'closed'})`);
  }
  if (hdr.msgId !== prev.client.lastMsgId + 1) {
    return refuse(prev, msg, ctx, 400, 'msgid-gap', `MsgID ${hdr.msgId}, expected ${prev.client.lastMsgId + 1}`);
  }
  const device = ctx.device;
  if (device === undefined || device.deviceId !== prev.deviceId) return unknownDevice(prev, msg, ctx);
  return advance(cloneForStep(prev), msg, ctx, device);
}

/**
 * The state a step works on, leaving `prev` as it was. The last reply is
 * shared, not copied: a step only ever replaces it (done), and it is the
 * largest part of the state.
 */
function cloneForStep(prev: SessionState): SessionState {
  const { lastReply, ...rest } = prev;
  const next = structuredClone(rest) as SessionState;
  if (lastReply !== undefined) next.lastReply = lastReply;
  return next;
}

function startSession(msg: SyncMlMessage, ctx: SessionContext): SessionStepResult {
  const hdr = msg.header;
  const device = ctx.device;
  if (device === undefined || device.deviceId !== hdr.source.locUri) return unknownDevice(undefined, msg, ctx);
  if (!msg.body.some((c) => c.kind === 'Alert' && (c.data === 1200 || c.data === 1201))) {
    return refuse(undefined, msg, ctx, 400, 'no-session', 'no session state and no Alert 1200/1201');
  }
  const state = createSessionState({
    sessionId: hdr.sessionId,
    deviceId: device.deviceId,
    now: ctx.now,
    firstMsgId: hdr.msgId,
    ...(device.serverNonce !== undefined && { serverNonce: device.serverNonce }),
  });
  return advance(state, msg, ctx, device);
}

function advance(
  state: SessionState,
  msg: SyncMlMessage,
  ctx: SessionContext,
  device: DeviceAuthRecord,
): SessionStepResult {
  const hdr = msg.header;
  const ids = { sessionId: state.sessionId, deviceId: state.deviceId };
  state.client.lastMsgId = hdr.msgId;
  state.updatedAt = ctx.now;
  if (hdr.meta?.maxMsgSize !== undefined) state.client.maxMsgSize = hdr.meta.maxMsgSize;
  if (hdr.meta?.maxObjSize !== undefined) state.client.maxObjSize = hdr.meta.maxObjSize;
  const msgId = state.server.nextMsgId++;
  const effects: SessionEffect[] = [];

  let headerCode = 200;
  let chal: ReturnType<typeof headerStatus>['chal'];
  if (needsClientAuth(state, device)) {
    const wasAuthenticated = state.auth.authenticated;
    const auth = authenticateClient(state, msg, device, ctx);
    if (!auth.ok && wasAuthenticated) return unauthenticatedInSession(state, msg, ctx, auth, msgId);
    effects.push(...auth.effects);
    if (!auth.ok) return authFailure(state, msg, ctx, device, auth, msgId, effects);
    headerCode = auth.status;
    chal = auth.chal;
    if (auth.firstTime) {
      state.phase = 'active';
      const init = msg.body.find((c) => c.kind === 'Alert' && (c.data === 1200 || c.data === 1201));
      const initiator = init?.kind === 'Alert' && init.data === 1200 ? 'server' : 'client';
      effects.push({ type: 'session-started', ...ids, initiator });
    }
  }

  const inbound = processInbound(state, msg, ctx, msgId);
  effects.push(...inbound.effects);
  const lead: Command[] = [headerStatus(msg, headerCode, chal), ...inbound.statuses];
  // Built after the body: a Chal in the client's header Status changes our Cred.
  const header = () =>
    replyHeader({
      sessionId: state.sessionId,
      msgId,
      deviceId: state.deviceId,
      ctx,
      cred: serverCred(state, device),
      serverId: device.serverId,
    });
  const finish = (reply: SyncMlMessage) => done(state, reply, effects, device);

  if (inbound.aborted || inbound.serverAuthGaveUp) {
    effects.push(...collectFinished(state, ids, false));
    const [reason, why]: [SessionEndReason, UndeliveredReason] = inbound.aborted
      ? ['client-abort', 'session-aborted']
      : ['server-auth-failed', 'server-auth-failed'];
    end(state, effects, reason, why);
    return finish(composeMessage(state, { header: header(), lead }, ctx, { sendUnits: false, final: true }));
  }

  const clientDone = msg.final;
  if (clientDone && state.incomingLo !== undefined) failLargeObject(state);
  effects.push(...collectFinished(state, ids, clientDone && !state.server.packageOpen));

  let reply: SyncMlMessage;
  if (state.server.packageOpen || (clientDone && state.outbox.length > 0)) {
    reply = composeMessage(state, { header: header(), lead }, ctx, { sendUnits: true });
    state.server.packageOpen = !reply.final;
  } else if (!clientDone) {
    // The client's package goes on: ask for its next message, no Final.
    reply = composeMessage(state, { header: header(), lead: [...lead, nextMessageAlert()] }, ctx, {
      sendUnits: false,
      final: false,
    });
  } else {
    const h = header();
    effects.push(...takeRequests(state, ctx, h));
    if (state.outbox.length > 0) {
      state.server.packagesStarted += 1;
      reply = composeMessage(state, { header: h, lead }, ctx, { sendUnits: true });
      state.server.packageOpen = !reply.final;
    } else {
      end(state, effects, 'completed', 'session-ended');
      reply = composeMessage(state, { header: h, lead }, ctx, { sendUnits: false, final: true });
    }
  }
  return finish(reply);
}

/**
 * 401/407 to a session's first message without valid credentials, and no
 * state to store: whoever sent it has not proved to be the device, so the
 * exchange leaves nothing behind (no session, no place among the open ones,
 * no contact recorded; the device's nonce as it was, see `rechallenge` in
 * auth-step.ts). The device's retry (Pkg1 again, with Cred over the Chal's
 * nonce, the next MsgID) starts the session afresh. The challenge budget is
 * therefore per message, not per session: a client that keeps failing gets a
 * Chal each time, as it would by opening new sessions.
 */
function authFailure(
  state: SessionState,
  msg: SyncMlMessage,
  ctx: SessionContext,
  device: DeviceAuthRecord,
  auth: Extract<ClientAuthOutcome, { ok: false }>,
  msgId: number,
  effects: SessionEffect[],
): SessionStepResult {
  const lead: Command[] = [headerStatus(msg, auth.status, auth.chal), ...uniformStatuses(msg, auth.status)];
  // No Cred of ours to a client that has not proved who it is, and no RespURI:
  // nothing is stored under a token, so the retry goes where the first message
  // went (a client without RespURI uses the server URI it started with) and is
  // a new session there. A RespURI token is handed out only with a session
  // stored under it, so one that finds no state is one that lapsed or ended.
  const { respUri: _none, ...noRespUri } = ctx;
  const header = replyHeader({ sessionId: state.sessionId, msgId, deviceId: state.deviceId, ctx: noRespUri });
  const reply = composeMessage(state, { header, lead }, ctx, { sendUnits: false, final: true });
  const signer = replySigner(state, device);
  return { state: undefined, reply, effects, ...(signer && { replySigner: signer }), closed: auth.giveUp };
}

/**
 * A message without valid credentials inside an authenticated session (an
 * HMAC device's every message is checked): whoever sent it did not prove to
 * be the device, so it changes nothing. Not its MsgID (the device's own
 * message with that MsgID must still be served, not taken for a
 * retransmission), not the nonce (the device signs with the one it has), not
 * the failure budget. The answer is the header Status alone, no Chal.
 */
function unauthenticatedInSession(
  state: SessionState,
  msg: SyncMlMessage,
  ctx: SessionContext,
  auth: Extract<ClientAuthOutcome, { ok: false }>,
  msgId: number,
): SessionStepResult {
  const header = replyHeader({ sessionId: state.sessionId, msgId, deviceId: state.deviceId, ctx });
  const reply: SyncMlMessage = { header, body: [{ ...headerStatus(msg, auth.status), cmdId: 1 }], final: true };
  const effects: SessionEffect[] = [
    { type: 'auth-failed', sessionId: state.sessionId, deviceId: state.deviceId, status: auth.status, reason: auth.reason },
  ];
  return { state: undefined, reply, effects, closed: false };
}

function end(state: SessionState, effects: SessionEffect[], reason: SessionEndReason, why: UndeliveredReason): void {
  effects.push(...abandonAll(state, { sessionId: state.sessionId, deviceId: state.deviceId }, why));
  state.phase = 'closed';
  state.endReason = reason;
  state.server.packageOpen = false;
  effects.push({ type: 'session-ended', sessionId: state.sessionId, deviceId: state.deviceId, reason });
}

function done(
  state: SessionState,
  reply: SyncMlMessage,
  effects: SessionEffect[],
  device: DeviceAuthRecord,
): SessionStepResult {
  state.lastReply = toStoredMessage(reply);
  const signer = replySigner(state, device);
  return { state, reply, effects, ...(signer && { replySigner: signer }), closed: state.phase === 'closed' };
}

function retransmit(prev: SessionState, ctx: SessionContext): SessionStepResult {
  const signer = ctx.device && replySigner(prev, ctx.device);
  return {
    state: prev,
    reply: fromStoredMessage(prev.lastReply!),
    effects: [{ type: 'retransmission', sessionId: prev.sessionId, deviceId: prev.deviceId, msgId: prev.client.lastMsgId }],
    ...(signer && { replySigner: signer }),
    closed: prev.phase === 'closed',
  };
}

/**
 * A header Status alone, with Final. The session is left as it was, except
 * that our MsgID counter moves on so no two replies share a MsgID.
 */
function refuse(
  prev: SessionState | undefined,
  msg: SyncMlMessage,
  ctx: SessionContext,
  code: number,
  reason: ProtocolErrorReason,
  detail: string,
): SessionStepResult {
  const hdr = msg.header;
  const state = prev && { ...prev, server: { ...prev.server, nextMsgId: prev.server.nextMsgId + 1 } };
  const header = replyHeader({
    sessionId: hdr.sessionId,
    msgId: prev?.server.nextMsgId ?? 1,
    deviceId: hdr.source.locUri,
    ctx,
  });
  const reply: SyncMlMessage = { header, body: [{ ...headerStatus(msg, code), cmdId: 1 }], final: true };
  const ids = { sessionId: hdr.sessionId, deviceId: hdr.source.locUri };
  return {
    state,
    reply,
    effects: [{ type: 'protocol-error', ...ids, reason, msgId: hdr.msgId, detail }],
    closed: state?.phase === 'closed',
  };
}

/**
 * 403 to a device we do not know; no session, no commands. A device removed
 * from the registry mid-session ends that session.
 */
function unknownDevice(prev: SessionState | undefined, msg: SyncMlMessage, ctx: SessionContext): SessionStepResult {
  const hdr = msg.header;
  const header = replyHeader({ sessionId: hdr.sessionId, msgId: prev?.server.nextMsgId ?? 1, deviceId: hdr.source.locUri, ctx });
  const reply: SyncMlMessage = { header, body: [{ ...headerStatus(msg, 403), cmdId: 1 }], final: true };
  const effects: SessionEffect[] = [{ type: 'unknown-device', sessionId: hdr.sessionId, deviceId: hdr.source.locUri }];
  if (prev === undefined) return { state: undefined, reply, effects, closed: true };
  const state = structuredClone(prev);
  state.client.lastMsgId = hdr.msgId;
  state.server.nextMsgId += 1;
  end(state, effects, 'unknown-device', 'unknown-device');
  state.lastReply = toStoredMessage(reply);
  return { state, reply, effects, closed: true };
}
