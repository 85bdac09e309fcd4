/**
 * Walks a SyncMlMessage in DTD element order and feeds a Sink. Both
 * encoders (XML, WBXML) share this walk, so element order lives in one place:
 *
 * - SyncHdr: VerDTD, VerProto, SessionID, MsgID, Target, Source, RespURI?, NoResp?, Cred?, Meta?
 * - generic command: CmdID, NoResp?, Meta?, Item*
 * - Item: Target?, Source?, Meta?, Data?, MoreData?
 * - Alert: CmdID, NoResp?, Data, Correlator?, Item*
 * - Exec: CmdID, NoResp?, Meta?, Correlator?, Item
 * - Status: CmdID, MsgRef, CmdRef, Cmd, TargetRef*, SourceRef*, Chal?, Data, Item*
 * - Results: CmdID, MsgRef?, CmdRef, Meta?, TargetRef?, SourceRef?, Item*
 * - Sequence/Atomic: CmdID, NoResp?, Meta?, commands
 * - MetInf: Format, Type, Mark, Size, NextNonce, MaxMsgSize, MaxObjSize
 */

import { TAG, type TagDef } from './tags.js';
import type { Command, Item, LocRef, Meta, StatusCommand, SyncMlMessage } from './types.js';

export interface Sink {
  /** Start tag of an element with child elements. */
  open(tag: TagDef): void;
  close(tag: TagDef): void;
  /** Element with text content ('' writes an empty element). */
  text(tag: TagDef, value: string): void;
  /** Element with binary content. */
  opaque(tag: TagDef, value: Buffer): void;
  /** Empty flag element (Final, NoResp, MoreData). */
  empty(tag: TagDef): void;
}

/** `opaqueItemData`: Item Data strings go to the sink as their UTF-8 bytes (WBXML only). */
export function emitMessage(msg: SyncMlMessage, s: Sink, opaqueItemData = false): void {
  s.open(TAG.SyncML);
  const h = msg.header;
  s.open(TAG.SyncHdr);
  s.text(TAG.VerDTD, h.verDtd);
  s.text(TAG.VerProto, h.verProto);
  s.text(TAG.SessionID, h.sessionId);
  s.text(TAG.MsgID, String(h.msgId));
  emitLocRef(TAG.Target, h.target, s);
  emitLocRef(TAG.Source, h.source, s);
  if (h.respUri !== undefined) s.text(TAG.RespURI, h.respUri);
  if (h.noResp) s.empty(TAG.NoResp);
  if (h.cred !== undefined) {
    s.open(TAG.Cred);
    if (h.cred.meta !== undefined) emitMeta(h.cred.meta, s);
    s.text(TAG.Data, h.cred.data);
    s.close(TAG.Cred);
  }
  if (h.meta !== undefined) emitMeta(h.meta, s);
  s.close(TAG.SyncHdr);
  s.open(TAG.SyncBody);
  for (const c of msg.body) emitCommand(c, s, opaqueItemData);
  if (msg.final) s.empty(TAG.Final);
  s.close(TAG.SyncBody);
  s.close(TAG.SyncML);
}

function emitCommand(c: Command, s: Sink, opaque: boolean): void {
  switch (c.kind) {
    case 'Status':
      emitStatus(c, s, opaque);
      return;
    case 'Results': {
      s.open(TAG.Results);
      s.text(TAG.CmdID, String(c.cmdId));
      if (c.msgRef !== undefined) s.text(TAG.MsgRef, String(c.msgRef));
      s.text(TAG.CmdRef, String(c.cmdRef));
      if (c.meta !== undefined) emitMeta(c.meta, s);
      if (c.targetRef !== undefined) s.text(TAG.TargetRef, c.targetRef);
      if (c.sourceRef !== undefined) s.text(TAG.SourceRef, c.sourceRef);
      for (const it of c.items) emitItem(it, s, opaque);
      s.close(TAG.Results);
      return;
    }
    case 'Alert':
      s.open(TAG.Alert);
      s.text(TAG.CmdID, String(c.cmdId));
      if (c.noResp) s.empty(TAG.NoResp);
      s.text(TAG.Data, String(c.data));
      if (c.correlator !== undefined) s.text(TAG.Correlator, c.correlator);
      for (const it of c.items) emitItem(it, s, opaque);
      s.close(TAG.Alert);
      return;
    case 'Exec':
      s.open(TAG.Exec);
      s.text(TAG.CmdID, String(c.cmdId));
      if (c.noResp) s.empty(TAG.NoResp);
      if (c.meta !== undefined) emitMeta(c.meta, s);
      if (c.correlator !== undefined) s.text(TAG.Correlator, c.correlator);
      emitItem(c.item, s, opaque);
      s.close(TAG.Exec);
      return;
    case 'Sequence':
    case 'Atomic': {
      const t = TAG[c.kind];
      s.open(t);
      s.text(TAG.CmdID, String(c.cmdId));
      if (c.noResp) s.empty(TAG.NoResp);
      if (c.meta !== undefined) emitMeta(c.meta, s);
      for (const child of c.commands) emitCommand(child, s, opaque);
      s.close(t);
      return;
    }
    default: {
      const t = TAG[c.kind];
      s.open(t);
      s.text(TAG.CmdID, String(c.cmdId));
      if (c.noResp) s.empty(TAG.NoResp);
      if (c.meta !== undefined) emitMeta(c.meta, s);
      for (const it of c.items) emitItem(it, s, opaque);
      s.close(t);
    }
  }
}

function emitStatus(c: StatusCommand, s: Sink, opaque: boolean): void {
  s.open(TAG.Status);
  s.text(TAG.CmdID, String(c.cmdId));
  s.text(TAG.MsgRef, String(c.msgRef));
  s.text(TAG.CmdRef, String(c.cmdRef));
  s.text(TAG.Cmd, c.cmd);
  for (const r of c.targetRefs) s.text(TAG.TargetRef, r);
  for (const r of c.sourceRefs) s.text(TAG.SourceRef, r);
  if (c.chal !== undefined) {
    s.open(TAG.Chal);
    emitMeta(c.chal.meta, s);
    s.close(TAG.Chal);
  }
  s.text(TAG.Data, String(c.data));
  for (const it of c.items) emitItem(it, s, opaque);
  s.close(TAG.Status);
}

function emitLocRef(t: TagDef, ref: LocRef, s: Sink): void {
  s.open(t);
  s.text(TAG.LocURI, ref.locUri);
  if (ref.locName !== undefined) s.text(TAG.LocName, ref.locName);
  s.close(t);
}

function emitItem(it: Item, s: Sink, opaque: boolean): void {
  s.open(TAG.Item);
  if (it.target !== undefined) emitLocRef(TAG.Target, it.target, s);
  if (it.source !== undefined) emitLocRef(TAG.Source, it.source, s);
  if (it.meta !== undefined) emitMeta(it.meta, s);
  const d = it.data;
  if (d !== undefined) {
    if (typeof d !== 'string') s.opaque(TAG.Data, d);
    else if (opaque) s.opaque(TAG.Data, Buffer.from(d, 'utf8'));
    else s.text(TAG.Data, d);
  }
  if (it.moreData) s.empty(TAG.MoreData);
  s.close(TAG.Item);
}

function emitMeta(m: Meta, s: Sink): void {
  s.open(TAG.Meta);
  if (m.format !== undefined) s.text(TAG.Format, m.format);
  if (m.type !== undefined) s.text(TAG.Type, m.type);
  if (m.mark !== undefined) s.text(TAG.Mark, m.mark);
  if (m.size !== undefined) s.text(TAG.Size, String(m.size));
  if (m.nextNonce !== undefined) s.text(TAG.NextNonce, m.nextNonce);
  if (m.maxMsgSize !== undefined) s.text(TAG.MaxMsgSize, String(m.maxMsgSize));
  if (m.maxObjSize !== undefined) s.text(TAG.MaxObjSize, String(m.maxObjSize));
  s.close(TAG.Meta);
}
