/**
 * Maps the neutral element tree to the typed SyncMlMessage. Tolerant of
 * child order where harmless (fields are picked by name), but keeps the
 * order of commands in SyncBody and containers and of repeated Items/Refs.
 * Unknown non-command elements are ignored; unknown commands are rejected
 * ('unsupported-command') because the engine could not Status them.
 */

import { SyncMlDecodeError } from './errors.js';
import { settleItems } from './item-data.js';
import { kids, mapCred, mapItem, mapLocRef, mapMeta, num, req, str } from './map-elements.js';
import { type ElementNode, partialHeaderOf } from './tree.js';
import type {
  AlertCommand,
  Chal,
  Command,
  ContainerCommand,
  ExecCommand,
  Item,
  ItemCommand,
  LocRef,
  Meta,
  ResultsCommand,
  StatusCommand,
  SyncHdr,
  SyncMlMessage,
} from './types.js';

/** Maps a complete tree; on failure attaches the best-effort partial header. */
export function treeToMessage(root: ElementNode): SyncMlMessage {
  try {
    return mapRoot(root);
  } catch (e) {
    if (e instanceof SyncMlDecodeError && e.header === undefined) e.header = partialHeaderOf(root);
    throw e;
  }
}

function mapRoot(root: ElementNode): SyncMlMessage {
  let hdr: ElementNode | undefined;
  let body: ElementNode | undefined;
  for (const k of kids(root)) {
    if (k.name === 'SyncHdr') hdr = k;
    else if (k.name === 'SyncBody') body = k;
  }
  const header = mapHeader(req(hdr, 'SyncHdr', 'SyncML'));
  const b = req(body, 'SyncBody', 'SyncML');
  const commands: Command[] = [];
  let final = false;
  for (const k of kids(b)) {
    if (k.name === 'Final') final = true;
    else commands.push(mapCommand(k));
  }
  return { header, body: commands, final };
}

function mapHeader(n: ElementNode): SyncHdr {
  let verDtd: string | undefined;
  let verProto: string | undefined;
  let sessionId: string | undefined;
  let msgId: number | undefined;
  let target: LocRef | undefined;
  let source: LocRef | undefined;
  const h: Partial<SyncHdr> = {};
  for (const k of kids(n)) {
    switch (k.name) {
      case 'VerDTD':
        verDtd = str(k);
        break;
      case 'VerProto':
        verProto = str(k);
        break;
      case 'SessionID':
        sessionId = str(k);
        break;
      case 'MsgID':
        msgId = num(k, 'SyncHdr');
        break;
      case 'Target':
        target = mapLocRef(k);
        break;
      case 'Source':
        source = mapLocRef(k);
        break;
      case 'RespURI':
        h.respUri = str(k);
        break;
      case 'NoResp':
        h.noResp = true;
        break;
      case 'Cred':
        h.cred = mapCred(k);
        break;
      case 'Meta':
        h.meta = mapMeta(k);
        break;
    }
  }
  const out: SyncHdr = {
    verDtd: req(verDtd, 'VerDTD', 'SyncHdr'),
    verProto: req(verProto, 'VerProto', 'SyncHdr'),
    sessionId: req(sessionId, 'SessionID', 'SyncHdr'),
    msgId: req(msgId, 'MsgID', 'SyncHdr'),
    target: req(target, 'Target', 'SyncHdr'),
    source: req(source, 'Source', 'SyncHdr'),
  };
  if (h.respUri !== undefined) out.respUri = h.respUri;
  if (h.noResp) out.noResp = true;
  if (h.cred !== undefined) out.cred = h.cred;
  if (h.meta !== undefined) out.meta = h.meta;
  return out;
}

function mapCommand(n: ElementNode): Command {
  switch (n.name) {
    case 'Add':
    case 'Replace':
    case 'Delete':
    case 'Get':
    case 'Copy':
      return mapItemCommand(n, n.name);
    case 'Alert':
      return mapAlert(n);
    case 'Exec':
      return mapExec(n);
    case 'Sequence':
    case 'Atomic':
      return mapContainer(n, n.name);
    case 'Status':
      return mapStatus(n);
    case 'Results':
      return mapResults(n);
    default:
      throw new SyncMlDecodeError('unsupported-command', `<${n.name}> is not a DM command`);
  }
}

interface Common {
  cmdId: number | undefined;
  noResp: boolean;
  meta: Meta | undefined;
  items: Item[];
}

/** Reads CmdID, NoResp, Meta and Item children; returns the rest via `other`. */
function common(n: ElementNode, other?: (k: ElementNode) => void): Common {
  const c: Common = { cmdId: undefined, noResp: false, meta: undefined, items: [] };
  for (const k of kids(n)) {
    switch (k.name) {
      case 'CmdID':
        c.cmdId = num(k, n.name);
        break;
      case 'NoResp':
        c.noResp = true;
        break;
      case 'Meta':
        c.meta = mapMeta(k);
        break;
      case 'Item':
        c.items.push(mapItem(k));
        break;
      default:
        if (other !== undefined) other(k);
    }
  }
  settleItems(c.items, c.meta);
  return c;
}

function mapItemCommand(n: ElementNode, kind: ItemCommand['kind']): ItemCommand {
  const c = common(n);
  const cmd: ItemCommand = { kind, cmdId: req(c.cmdId, 'CmdID', kind), items: c.items };
  if (c.noResp) cmd.noResp = true;
  if (c.meta !== undefined) cmd.meta = c.meta;
  return cmd;
}

function mapAlert(n: ElementNode): AlertCommand {
  let data: number | undefined;
  let correlator: string | undefined;
  const c = common(n, (k) => {
    if (k.name === 'Data') data = num(k, 'Alert');
    else if (k.name === 'Correlator') correlator = str(k);
  });
  const cmd: AlertCommand = {
    kind: 'Alert',
    cmdId: req(c.cmdId, 'CmdID', 'Alert'),
    data: req(data, 'Data', 'Alert'),
    items: c.items,
  };
  if (c.noResp) cmd.noResp = true;
  if (correlator !== undefined) cmd.correlator = correlator;
  return cmd;
}

function mapExec(n: ElementNode): ExecCommand {
  let correlator: string | undefined;
  const c = common(n, (k) => {
    if (k.name === 'Correlator') correlator = str(k);
  });
  const cmd: ExecCommand = {
    kind: 'Exec',
    cmdId: req(c.cmdId, 'CmdID', 'Exec'),
    // The DTD allows exactly one Item; extra Items are ignored.
    item: req(c.items[0], 'Item', 'Exec'),
  };
  if (c.noResp) cmd.noResp = true;
  if (c.meta !== undefined) cmd.meta = c.meta;
  if (correlator !== undefined) cmd.correlator = correlator;
  return cmd;
}

function mapContainer(n: ElementNode, kind: ContainerCommand['kind']): ContainerCommand {
  const commands: Command[] = [];
  const c = common(n, (k) => {
    commands.push(mapCommand(k));
  });
  const cmd: ContainerCommand = { kind, cmdId: req(c.cmdId, 'CmdID', kind), commands };
  if (c.noResp) cmd.noResp = true;
  if (c.meta !== undefined) cmd.meta = c.meta;
  // Items directly inside a container are not in the DTD; they are ignored.
  return cmd;
}

function mapStatus(n: ElementNode): StatusCommand {
  let msgRef: number | undefined;
  let cmdRef: number | undefined;
  let cmd: string | undefined;
  let data: number | undefined;
  let chal: Chal | undefined;
  const targetRefs: string[] = [];
  const sourceRefs: string[] = [];
  const c = common(n, (k) => {
    switch (k.name) {
      case 'MsgRef':
        msgRef = num(k, 'Status');
        break;
      case 'CmdRef':
        cmdRef = num(k, 'Status');
        break;
      case 'Cmd':
        cmd = str(k);
        break;
      case 'TargetRef':
        targetRefs.push(str(k));
        break;
      case 'SourceRef':
        sourceRefs.push(str(k));
        break;
      case 'Chal': {
        let meta: Meta = {};
        for (const m of kids(k)) if (m.name === 'Meta') meta = mapMeta(m);
        chal = { meta };
        break;
      }
      case 'Data':
        data = num(k, 'Status');
        break;
    }
  });
  const st: StatusCommand = {
    kind: 'Status',
    cmdId: req(c.cmdId, 'CmdID', 'Status'),
    msgRef: req(msgRef, 'MsgRef', 'Status'),
    cmdRef: req(cmdRef, 'CmdRef', 'Status'),
    cmd: req(cmd, 'Cmd', 'Status'),
    targetRefs,
    sourceRefs,
    data: req(data, 'Data', 'Status'),
    items: c.items,
  };
  if (chal !== undefined) st.chal = chal;
  return st;
}

function mapResults(n: ElementNode): ResultsCommand {
  let msgRef: number | undefined;
  let cmdRef: number | undefined;
  let targetRef: string | undefined;
  let sourceRef: string | undefined;
  const c = common(n, (k) => {
    switch (k.name) {
      case 'MsgRef':
        msgRef = num(k, 'Results');
        break;
      case 'CmdRef':
        cmdRef = num(k, 'Results');
        break;
      case 'TargetRef':
        targetRef = str(k);
        break;
      case 'SourceRef':
        sourceRef = str(k);
        break;
    }
  });
  const r: ResultsCommand = {
    kind: 'Results',
    cmdId: req(c.cmdId, 'CmdID', 'Results'),
    cmdRef: req(cmdRef, 'CmdRef', 'Results'),
    items: c.items,
  };
  if (msgRef !== undefined) r.msgRef = msgRef;
  if (c.meta !== undefined) r.meta = c.meta;
  if (targetRef !== undefined) r.targetRef = targetRef;
  if (sourceRef !== undefined) r.sourceRef = sourceRef;
  return r;
}
