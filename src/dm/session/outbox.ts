/**
 * Composing one reply: Statuses and control alerts first, then as many
 * queued commands as fit in the client's MaxMsgSize (notes §1):
 * - CmdIDs restart at 1 in every message, in document order;
 * - a command that does not fit waits for the next message of the package
 *   (the client asks for it with Alert 1222); Final only on the last one;
 * - a packed Add/Replace too big for any message is split into single items;
 *   a single Add/Replace value too big for any message becomes a Large
 *   Object: chunks with MoreData, Meta Size on the first, one chunk per
 *   message, nothing after a chunk but the last;
 * - every sent command is remembered (MsgID, CmdID → request and specs).
 */
import type { Command, SyncHdr, SyncMlMessage } from '../codec/types.js';
import type { SessionContext } from './context.js';
import { clientMaxMsgSize } from './plan.js';
import {
  type Payload,
  payloadLength,
  payloadOf,
  renderChunk,
  renderCommand,
  renderContainer,
  safeCut,
} from './render.js';
import { commandStatus } from './reply.js';
import type { NodeWriteSpec } from './server-commands.js';
import type { OutUnit, SentRef, SessionState, TrackedRequest } from './state.js';

export interface Draft {
  header: SyncHdr;
  /** Statuses and our control alerts (CmdID assigned here, in order). */
  lead: Command[];
}

/**
 * Composes the reply. With `sendUnits`, queued commands are added and Final
 * is set when the queue is empty afterwards; otherwise Final is `final`.
 * Mutates `state.outbox`, `state.sent` and the requests' `sent` flags.
 */
export function composeMessage(
  state: SessionState,
  draft: Draft,
  ctx: SessionContext,
  opts: { sendUnits: boolean; final?: boolean },
): SyncMlMessage {
  let next = 1;
  const nextId = () => next++;
  const lead = draft.lead.map((c) => ({ ...c, cmdId: nextId() }));
  if (!opts.sendUnits) return { header: draft.header, body: lead, final: opts.final ?? true };

  const limit = clientMaxMsgSize(state, ctx);
  const msgId = draft.header.msgId;
  const added: Command[] = [];
  const size = (cmds: Command[]) => ctx.sizeOf({ header: draft.header, body: [...lead, ...cmds], final: true });
  // What the next message of the package will at least carry: the header Status
  // and a Status for the client's Alert 1222. Deferring only pays off against that.
  const minimal = minimalLead(lead);
  const emptySize = (cmds: Command[]) => ctx.sizeOf({ header: draft.header, body: [...minimal, ...cmds], final: true });
  // Never wait when this message is already as bare as the next would be.
  const canWait = lead.length > minimal.length;
  const record = (ref: Omit<SentRef, 'msgId'>) => state.sent.push({ msgId, ...ref });

  while (state.outbox.length > 0) {
    const unit = state.outbox[0]!;
    const req = state.requests.find((r) => r.requestId === unit.requestId);
    if (req === undefined) {
      state.outbox.shift();
      continue;
    }
    if (unit.kind === 'chunked') {
      const placed = placeChunk(req, unit, ctx, { added, limit, size, emptySize, canWait, cmdId: next, record });
      if (placed === 'deferred') break;
      next += 1;
      added.push(placed.cmd);
      req.sent = true;
      if (!placed.last) break;
      state.outbox.shift();
      continue;
    }

    const saved = next;
    const cmd = renderUnit(req, unit, ctx, nextId);
    if (size([...added, cmd]) > limit) {
      if (added.length > 0 || (canWait && emptySize([cmd]) <= limit)) {
        // The next message of the package will have room for it.
        next = saved;
        break;
      }
      // Too big for any message: split a packed command, chunk a single value.
      if (unit.kind === 'command' && unit.specs.length > 1) {
        next = saved;
        state.outbox.splice(0, 1, ...unit.specs.map((i): OutUnit => ({ ...unit, specs: [i] })));
        continue;
      }
      const index = unit.kind === 'command' ? unit.specs[0] : undefined;
      const spec = index === undefined ? undefined : req.commands[index];
      if (index !== undefined && (spec?.verb === 'Add' || spec?.verb === 'Replace') && spec.data !== undefined) {
        next = saved;
        state.outbox[0] = { kind: 'chunked', requestId: req.requestId, spec: index, offset: 0 };
        continue;
      }
      // Nothing smaller to send: it goes alone and the device answers for it (413).
    }
    added.push(cmd);
    req.sent = true;
    recordUnit(req, unit, cmd, record);
    state.outbox.shift();
  }
  return { header: draft.header, body: [...lead, ...added], final: state.outbox.length === 0 };
}

function minimalLead(lead: Command[]): Command[] {
  const first = lead[0];
  if (first?.kind !== 'Status' || first.cmdRef !== 0) return [];
  return [first, commandStatus(first.msgRef, { kind: 'Alert', cmdId: first.cmdId + 1 }, 200)];
}

function renderUnit(req: TrackedRequest, unit: OutUnit, ctx: SessionContext, nextId: () => number): Command {
  if (unit.kind === 'command') {
    return renderCommand(
      unit.specs.map((i) => req.commands[i]!),
      ctx.encoding,
      nextId,
    );
  }
  if (unit.kind === 'container') {
    return renderContainer(
      req.container ?? 'Sequence',
      unit.groups.map((g) => g.map((i) => req.commands[i]!)),
      ctx.encoding,
      nextId,
    );
  }
  throw new Error('chunked units are placed by placeChunk');
}

function recordUnit(req: TrackedRequest, unit: OutUnit, cmd: Command, record: (ref: Omit<SentRef, 'msgId'>) => void) {
  if (unit.kind === 'command') {
    record({ cmdId: cmd.cmdId, requestId: req.requestId, specs: unit.specs, role: 'command' });
    return;
  }
  if (unit.kind !== 'container' || (cmd.kind !== 'Sequence' && cmd.kind !== 'Atomic')) return;
  record({ cmdId: cmd.cmdId, requestId: req.requestId, specs: unit.groups.flat(), role: 'container' });
  for (const [i, child] of cmd.commands.entries()) {
    record({ cmdId: child.cmdId, requestId: req.requestId, specs: unit.groups[i] ?? [], role: 'command' });
  }
}

interface ChunkRoom {
  added: Command[];
  limit: number;
  size: (cmds: Command[]) => number;
  emptySize: (cmds: Command[]) => number;
  canWait: boolean;
  cmdId: number;
  record: (ref: Omit<SentRef, 'msgId'>) => void;
}

/**
 * Places the next chunk of a Large Object: as much as fits in this message
 * (a smaller chunk now never costs more round trips than none), or defers it
 * when nothing fits.
 */
function placeChunk(
  req: TrackedRequest,
  unit: Extract<OutUnit, { kind: 'chunked' }>,
  ctx: SessionContext,
  room: ChunkRoom,
): { cmd: Command; last: boolean } | 'deferred' {
  const spec = req.commands[unit.spec] as NodeWriteSpec;
  const payload = payloadOf(spec, ctx.encoding);
  const total = payloadLength(payload);
  const from = unit.offset;
  const chunk = (to: number) => renderChunk(spec, payload, from, to, room.cmdId);
  const fitsWith = (measure: (cmds: Command[]) => number, to: number) =>
    measure([...room.added, chunk(to)]) <= room.limit;

  let to = total;
  if (!fitsWith(room.size, total)) {
    to = safeCut(payload, largestFitting(from, total, (t) => fitsWith(room.size, safeCut(payload, t))));
    if (to <= from) {
      // Nothing fits here: wait for the next message, unless no message could take even one unit.
      const anyRoom = room.emptySize([chunk(from + (isHighSurrogateAt(payload, from) ? 2 : 1))]) <= room.limit;
      if (room.added.length > 0 || (room.canWait && anyRoom)) return 'deferred';
      to = Math.min(total, from + (isHighSurrogateAt(payload, from) ? 2 : 1));
    }
  }
  const cmd = chunk(to);
  const last = to >= total;
  room.record({ cmdId: room.cmdId, requestId: req.requestId, specs: [unit.spec], role: last ? 'command' : 'chunk' });
  unit.offset = to;
  return { cmd, last };
}

function isHighSurrogateAt(p: Payload, at: number): boolean {
  if (p.kind !== 'text') return false;
  const code = p.value.charCodeAt(at);
  return code >= 0xd800 && code <= 0xdbff;
}

/** The largest `to` in (from, total) for which `fits(to)` holds (monotone), or `from` when none does. */
function largestFitting(from: number, total: number, fits: (to: number) => boolean): number {
  let lo = from;
  let hi = total - 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
