/**
 * Building blocks of our replies: the SyncHdr and the Statuses for the
 * client's header and commands (notes §1: every SyncHdr and command gets a
 * Status; MsgRef = the client's MsgID, CmdRef 0 for the header).
 */
import type { AlertCommand, Chal, Command, Cred, Item, StatusCommand, SyncHdr, SyncMlMessage } from '../codec/types.js';
import type { SessionContext } from './context.js';

export const VER_DTD = '1.2';
export const VER_PROTO = 'DM/1.2';

/**
 * Header Status for an unsupported VerDTD / VerProto. The notes list no code
 * for it; these are the SyncML Representation Protocol's "DTD version not
 * supported" and "protocol version not supported".
 */
export const STATUS_DTD_VERSION_UNSUPPORTED = 505;
export const STATUS_PROTOCOL_VERSION_UNSUPPORTED = 513;

export function replyHeader(opts: {
  sessionId: string;
  msgId: number;
  deviceId: string;
  ctx: SessionContext;
  cred?: Cred | undefined;
  /** Our SRVCRED name, put in Source LocName with a Cred. */
  serverId?: string | undefined;
}): SyncHdr {
  const { ctx } = opts;
  const header: SyncHdr = {
    verDtd: VER_DTD,
    verProto: VER_PROTO,
    sessionId: opts.sessionId,
    msgId: opts.msgId,
    target: { locUri: opts.deviceId },
    source: { locUri: ctx.serverUri },
  };
  if (opts.cred !== undefined && opts.serverId !== undefined) header.source.locName = opts.serverId;
  if (ctx.respUri !== undefined) header.respUri = ctx.respUri;
  if (opts.cred !== undefined) header.cred = opts.cred;
  const max = ctx.limits?.maxMsgSize;
  const obj = ctx.limits?.maxObjSize;
  if (max !== undefined || obj !== undefined) {
    header.meta = {};
    if (max !== undefined) header.meta.maxMsgSize = max;
    if (obj !== undefined) header.meta.maxObjSize = obj;
  }
  return header;
}

/** Status for the client's SyncHdr; CmdID is assigned when the message is composed. */
export function headerStatus(msg: SyncMlMessage, code: number, chal?: Chal): StatusCommand {
  const status: StatusCommand = {
    kind: 'Status',
    cmdId: 0,
    msgRef: msg.header.msgId,
    cmdRef: 0,
    cmd: 'SyncHdr',
    targetRefs: [msg.header.target.locUri],
    sourceRefs: [msg.header.source.locUri],
    data: code,
    items: [],
  };
  if (chal !== undefined) status.chal = chal;
  return status;
}

export function commandStatus(
  clientMsgId: number,
  cmd: { kind: string; cmdId: number },
  code: number,
  refs: { target?: string | undefined; source?: string | undefined } = {},
  items: Item[] = [],
): StatusCommand {
  return {
    kind: 'Status',
    cmdId: 0,
    msgRef: clientMsgId,
    cmdRef: cmd.cmdId,
    cmd: cmd.kind,
    targetRefs: refs.target === undefined ? [] : [refs.target],
    sourceRefs: refs.source === undefined ? [] : [refs.source],
    data: code,
    items,
  };
}

/**
 * The same code for every command of the client's message (auth failures
 * answer all of them alike); Status and Results get none, NoResp commands none.
 */
export function uniformStatuses(msg: SyncMlMessage, code: number): StatusCommand[] {
  const out: StatusCommand[] = [];
  const walk = (cmds: Command[]) => {
    for (const cmd of cmds) {
      if (cmd.kind === 'Status' || cmd.kind === 'Results' || cmd.noResp === true) continue;
      out.push(commandStatus(msg.header.msgId, cmd, code));
      if (cmd.kind === 'Sequence' || cmd.kind === 'Atomic') walk(cmd.commands);
    }
  };
  walk(msg.body);
  return out;
}

export function nextMessageAlert(): AlertCommand {
  return { kind: 'Alert', cmdId: 0, data: 1222, items: [] };
}
