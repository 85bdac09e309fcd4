/**
 * The commands of an authenticated client message: our Statuses for them and
 * what they mean (notes §1, §2, §5, §9).
 *
 * - Alert 1200/1201/1222/1224/1225/1226 → 200 (1224/1226 also as effects);
 *   1223 → 200 and the session aborts; UI alerts (server → client only) and
 *   unknown codes → 406.
 * - Replace (DevInfo) → 200 and a `devinfo` effect with the ./DevInfo leaves.
 * - Status / Results → mapped to our requests (no Status, except 213/424 for
 *   Results Large Objects); the header Status answers our credentials.
 * - Anything a client may not send (Add, Get, Delete, Copy, Exec, Sequence,
 *   Atomic) → 405, children included.
 */
import { dataText } from '../codec/index.js';
import type { AlertCommand, Command, ItemCommand, StatusCommand, SyncMlMessage } from '../codec/types.js';
import { applyServerAuthStatus } from './auth-step.js';
import { DEFAULT_MAX_SERVER_AUTH_REJECTIONS, type SessionContext } from './context.js';
import type { SessionEffect } from './effects.js';
import { clientEventItems, genericAlertEffects } from './generic-alert.js';
import { commandStatus } from './reply.js';
import type { SessionState } from './state.js';
import { applyResults, applyStatus, fillPackedStatuses, requeueMessage } from './tracking.js';

export interface InboundOutcome {
  /** Our Statuses for the client's commands, in order (CmdID 0 until composed). */
  statuses: StatusCommand[];
  effects: SessionEffect[];
  /** The client sent Alert 1223. */
  aborted: boolean;
  /** The device refused our credentials once too often. */
  serverAuthGaveUp: boolean;
}

const OK_ALERTS = new Set([1200, 1201, 1222, 1223, 1224, 1225, 1226]);

/** `replyMsgId`: the MsgID of the reply being built (Results without MsgRef answer the one before). */
export function processInbound(
  state: SessionState,
  msg: SyncMlMessage,
  ctx: SessionContext,
  replyMsgId: number,
): InboundOutcome {
  const ids = { sessionId: state.sessionId, deviceId: state.deviceId };
  const out: InboundOutcome = { statuses: [], effects: [], aborted: false, serverAuthGaveUp: false };
  const clientMsgId = msg.header.msgId;

  // Header Statuses first: a refusal of our credentials voids that message's commands.
  for (const cmd of msg.body) {
    if (cmd.kind !== 'Status' || cmd.cmdRef !== 0) continue;
    const answer = applyServerAuthStatus(state, cmd, out.effects);
    if (answer !== 'rejected') continue;
    const max = ctx.limits?.maxServerAuthRejections ?? DEFAULT_MAX_SERVER_AUTH_REJECTIONS;
    const gaveUp = state.serverAuth.rejections >= max;
    out.effects.push({ type: 'server-auth-rejected', ...ids, status: cmd.data, gaveUp });
    if (gaveUp) out.serverAuthGaveUp = true;
    else requeueMessage(state, cmd.msgRef);
  }

  const touched = new Set<string>();
  const devInfo: Record<string, string> = {};
  const respond = (cmd: { kind: string; cmdId: number; noResp?: boolean }, code: number) => {
    if (cmd.noResp !== true) out.statuses.push(commandStatus(clientMsgId, cmd, code));
  };
  const refuse = (cmd: Command) => {
    if (cmd.kind === 'Status' || cmd.kind === 'Results') return;
    respond(cmd, 405);
    if (cmd.kind === 'Sequence' || cmd.kind === 'Atomic') cmd.commands.forEach(refuse);
  };

  for (const cmd of msg.body) {
    switch (cmd.kind) {
      case 'Status':
        if (cmd.cmdRef !== 0) applyStatus(state, cmd, touched);
        break;
      case 'Results':
        out.statuses.push(...applyResults(state, cmd, clientMsgId, replyMsgId - 1));
        break;
      case 'Alert':
        respond(cmd, OK_ALERTS.has(cmd.data) ? 200 : 406);
        alertEffects(state, cmd, ids, out);
        break;
      case 'Replace':
        collectDevInfo(cmd, devInfo);
        respond(cmd, 200);
        break;
      default:
        refuse(cmd);
    }
  }
  fillPackedStatuses(state, touched);
  if (Object.keys(devInfo).length > 0) out.effects.push(devInfoEffect(devInfo, ids));
  return out;
}

function alertEffects(
  state: SessionState,
  alert: AlertCommand,
  ids: { sessionId: string; deviceId: string },
  out: InboundOutcome,
): void {
  switch (alert.data) {
    case 1200:
    case 1201:
      state.initiator ??= alert.data === 1200 ? 'server' : 'client';
      break;
    case 1223:
      out.aborted = true;
      break;
    case 1224: {
      const effect: SessionEffect = { type: 'client-event', ...ids, items: clientEventItems(alert) };
      if (alert.correlator !== undefined) effect.correlator = alert.correlator;
      out.effects.push(effect);
      break;
    }
    case 1226:
      out.effects.push(...genericAlertEffects(alert, ids));
      break;
  }
}

/** DevInfo leaves by URI, from the Replace Items' Source (or Target) LocURI. */
function collectDevInfo(cmd: ItemCommand, into: Record<string, string>): void {
  for (const item of cmd.items) {
    const uri = item.source?.locUri ?? item.target?.locUri;
    // Linear: an anchored literal prefix.
    if (uri === undefined || !/^(\.\/)?DevInfo\//.test(uri)) continue;
    into[uri.startsWith('./') ? uri : `./${uri}`] = dataText(item.data);
  }
}

function devInfoEffect(nodes: Record<string, string>, ids: { sessionId: string; deviceId: string }): SessionEffect {
  const effect: SessionEffect = { type: 'devinfo', ...ids, nodes };
  const put = (key: 'devId' | 'man' | 'mod' | 'dmV' | 'lang', leaf: string) => {
    const v = nodes[`./DevInfo/${leaf}`];
    if (v !== undefined) effect[key] = v;
  };
  put('devId', 'DevId');
  put('man', 'Man');
  put('mod', 'Mod');
  put('dmV', 'DmV');
  put('lang', 'Lang');
  return effect;
}
