/**
 * The device's answers mapped back to requests: Status by (MsgRef, CmdRef),
 * Results after a Get's Status (chunked ones buffered until complete), and
 * the effects once a request is answered or can no longer be.
 *
 * Choices where the notes are silent:
 * - A packed command (several Items) is matched Item by Item through the
 *   Status TargetRef, else in order; when a client answers such a command
 *   with fewer Statuses than Items, the last code it gave covers the rest.
 * - A Get answered 200 completes when its Results arrive, or when the
 *   client's package ends without them (no data).
 * - A client Large Object interrupted by another item, or by the end of the
 *   client's package, fails the Get with 424 (no Alert 1225 is sent).
 */
import { dataSize, dataText, joinChunks } from '../codec/index.js';
import type { ItemData, ResultsCommand, StatusCommand } from '../codec/types.js';
import type { SessionEffect, UndeliveredReason } from './effects.js';
import { dataValue } from './generic-alert.js';
import { DEVDETAIL_LEAVES, unitsFor } from './plan.js';
import { commandStatus } from './reply.js';
import type { CommandResult, ServerCommandSpec } from './server-commands.js';
import type { IncomingLargeObject, SentRef, SessionState, SpecOutcome, TrackedRequest } from './state.js';

type Ids = { sessionId: string; deviceId: string };

const refKey = (r: SentRef) => `${r.msgId}:${r.cmdId}`;

function findRef(state: SessionState, msgRef: number, cmdRef: number): SentRef | undefined {
  return state.sent.find((r) => r.msgId === msgRef && r.cmdId === cmdRef);
}

function findRequest(state: SessionState, requestId: string): TrackedRequest | undefined {
  return state.requests.find((r) => r.requestId === requestId);
}

/**
 * A URI as devices write it, without a leading `./` and trailing `/`s. A loop,
 * not `/\/+$/`: that expression is quadratic on a long run of `/` that does
 * not end the string (a device-sent LocURI of 40,000 slashes took 1.6 s).
 */
function normUri(u: string): string {
  let end = u.length;
  while (end > 0 && u.charCodeAt(end - 1) === 47) end--;
  const start = u.startsWith('./') ? 2 : 0;
  return end <= start ? '' : u.slice(start, end);
}

/** Compares URIs as devices write them: with or without `./`, trailing `/` ignored. */
export function sameUri(a: string, b: string): boolean {
  return normUri(a) === normUri(b);
}

function specUri(spec: ServerCommandSpec): string | undefined {
  return spec.verb === 'Alert' ? undefined : spec.uri;
}

function pick(req: TrackedRequest, specs: number[], uri: string | undefined, open: (o: SpecOutcome) => boolean) {
  if (specs.length === 1) return specs[0];
  const candidates = specs.filter((i) => open(req.outcomes[i]!));
  if (uri !== undefined) {
    const match = candidates.find((i) => {
      const u = specUri(req.commands[i]!);
      return u !== undefined && sameUri(u, uri);
    });
    if (match !== undefined) return match;
  }
  return candidates[0];
}

/** Applies one client Status (not the header's). `touched` collects packed commands that got one. */
export function applyStatus(state: SessionState, st: StatusCommand, touched: Set<string>): void {
  const ref = findRef(state, st.msgRef, st.cmdRef);
  const req = ref && findRequest(state, ref.requestId);
  if (ref === undefined || req === undefined) return;
  if (ref.role === 'container') {
    req.containerStatus = st.data;
    return;
  }
  const index = ref.role === 'chunk' ? ref.specs[0] : pick(req, ref.specs, st.targetRefs[0], (o) => o.status === undefined);
  if (index === undefined) return;
  if (ref.role === 'chunk') {
    if (st.data === 213 || st.data === 200) return;
    // A refused chunk fails the command: the rest is not sent.
    req.outcomes[index]!.status = st.data;
    state.outbox = state.outbox.filter((u) => !(u.kind === 'chunked' && u.requestId === req.requestId && u.spec === index));
    return;
  }
  const outcome = req.outcomes[index]!;
  outcome.status = st.data;
  if (req.commands[index]!.verb === 'Alert' && st.items.length > 0) outcome.response = st.items.map((i) => dataText(i.data));
  if (ref.specs.length > 1) touched.add(refKey(ref));
}

/** A client that answered a packed command once: its code covers the Items it did not answer. */
export function fillPackedStatuses(state: SessionState, touched: Set<string>): void {
  for (const ref of state.sent) {
    if (!touched.has(refKey(ref))) continue;
    const req = findRequest(state, ref.requestId);
    if (req === undefined) continue;
    const given = ref.specs.map((i) => req.outcomes[i]!.status).filter((s) => s !== undefined);
    const code = given.at(-1);
    if (code === undefined) continue;
    for (const i of ref.specs) req.outcomes[i]!.status ??= code;
  }
}

/**
 * Applies a client Results. Returns our Statuses for it: 213 per buffered
 * chunk, 424 for a Large Object of the wrong size (a complete, correct
 * Results gets none: its code would be 200).
 */
export function applyResults(
  state: SessionState,
  res: ResultsCommand,
  clientMsgId: number,
  /** Our message a Results without MsgRef answers: the one before the reply being built. */
  previousReplyMsgId: number,
): StatusCommand[] {
  const statuses: StatusCommand[] = [];
  const msgRef = res.msgRef ?? previousReplyMsgId;
  const ref = findRef(state, msgRef, res.cmdRef);
  const req = ref && ref.role === 'command' ? findRequest(state, ref.requestId) : undefined;
  const answer = (code: number, source: string | undefined) =>
    statuses.push(commandStatus(clientMsgId, { kind: 'Results', cmdId: res.cmdId }, code, { source }));

  for (const item of res.items) {
    const source = item.source?.locUri ?? res.sourceRef;
    const meta = { ...res.meta, ...item.meta };
    const lo = state.incomingLo;
    if (lo !== undefined) {
      if (source === undefined || lo.sourceUri === undefined || sameUri(source, lo.sourceUri)) {
        lo.chunks.push(chunkOf(item.data));
        if (item.moreData) answer(213, source);
        else if (!finishLargeObject(state, lo)) answer(424, source);
        continue;
      }
      failLargeObject(state);
    }
    if (req === undefined || ref === undefined) continue;
    const index = pick(req, ref.specs, source, (o) => o.hasResults !== true);
    if (index === undefined) continue;
    const outcome = req.outcomes[index]!;
    if (item.moreData) {
      const started: IncomingLargeObject = { requestId: req.requestId, spec: index, chunks: [chunkOf(item.data)] };
      if (source !== undefined) started.sourceUri = source;
      if (meta.size !== undefined) started.size = meta.size;
      if (meta.format !== undefined) started.format = meta.format;
      if (meta.type !== undefined) started.type = meta.type;
      state.incomingLo = started;
      answer(213, source);
      continue;
    }
    Object.assign(outcome, dataValue(item.data), {
      format: meta.format ?? 'chr',
      type: meta.type ?? 'text/plain',
      hasResults: true,
    });
  }
  return statuses;
}

function chunkOf(data: ItemData | undefined): { text?: string; base64?: string } {
  if (data === undefined) return { text: '' };
  return typeof data === 'string' ? { text: data } : { base64: data.toString('base64') };
}

/** Assembles the buffered chunks; false on a size mismatch (the Get fails with 424). */
function finishLargeObject(state: SessionState, lo: IncomingLargeObject): boolean {
  state.incomingLo = undefined;
  const outcome = findRequest(state, lo.requestId)?.outcomes[lo.spec];
  if (outcome === undefined) return true;
  // The codec settles the whole value (Format, carrier) as it settles one Item.
  const value = joinChunks(
    lo.chunks.map((c) => (c.text !== undefined ? c.text : Buffer.from(c.base64 ?? '', 'base64'))),
    lo.format,
  );
  outcome.hasResults = true;
  if (lo.size !== undefined && dataSize(value) !== lo.size) {
    outcome.status = 424;
    return false;
  }
  Object.assign(outcome, dataValue(value));
  outcome.format = lo.format ?? 'chr';
  outcome.type = lo.type ?? 'text/plain';
  return true;
}

/** Drops an unfinished client Large Object: its Get fails with 424. */
export function failLargeObject(state: SessionState): void {
  const lo = state.incomingLo;
  if (lo === undefined) return;
  state.incomingLo = undefined;
  const outcome = findRequest(state, lo.requestId)?.outcomes[lo.spec];
  if (outcome !== undefined) {
    outcome.status = 424;
    outcome.hasResults = true;
  }
}

function answered(req: TrackedRequest, i: number, packageDone: boolean): boolean {
  const outcome = req.outcomes[i]!;
  if (outcome.status === undefined) return false;
  const waitingForResults = req.commands[i]!.verb === 'Get' && outcome.status === 200 && outcome.hasResults !== true;
  return !waitingForResults || packageDone;
}

function resultsOf(req: TrackedRequest, onlyAnswered: boolean): CommandResult[] {
  const out: CommandResult[] = [];
  for (const [index, spec] of req.commands.entries()) {
    const o = req.outcomes[index]!;
    if (o.status === undefined) {
      if (onlyAnswered) continue;
    }
    const r: CommandResult = { index, verb: spec.verb, status: o.status ?? 0 };
    const uri = specUri(spec);
    if (uri !== undefined) r.uri = uri;
    if (o.data !== undefined) r.data = o.data;
    if (o.dataEncoding !== undefined) r.dataEncoding = o.dataEncoding;
    if (o.format !== undefined) r.format = o.format;
    if (o.type !== undefined) r.type = o.type;
    if (o.response !== undefined) r.response = o.response;
    out.push(r);
  }
  return out;
}

function remove(state: SessionState, requestId: string, finished: boolean): void {
  state.requests = state.requests.filter((r) => r.requestId !== requestId);
  state.sent = state.sent.filter((r) => r.requestId !== requestId);
  state.outbox = state.outbox.filter((u) => u.requestId !== requestId);
  if (state.incomingLo?.requestId === requestId) state.incomingLo = undefined;
  if (finished) state.finishedRequestIds.push(requestId);
}

function devDetailEffect(state: SessionState, req: TrackedRequest, ids: Ids): SessionEffect | undefined {
  const value = (leaf: string) => {
    const i = req.commands.findIndex((c) => c.verb === 'Get' && c.uri === `./DevDetail/${leaf}`);
    const o = i < 0 ? undefined : req.outcomes[i];
    return o?.status === 200 && o.dataEncoding === undefined ? o.data : undefined;
  };
  const found = Object.fromEntries(DEVDETAIL_LEAVES.map((leaf) => [leaf, value(leaf)]));
  if (Object.values(found).every((v) => v === undefined)) return undefined;
  const effect: SessionEffect = { type: 'devdetail', ...ids };
  const put = (key: 'fwV' | 'swV' | 'hwV' | 'devTyp' | 'oem', v: string | undefined) => {
    if (v !== undefined) effect[key] = v;
  };
  put('fwV', found.FwV);
  put('swV', found.SwV);
  put('hwV', found.HwV);
  put('devTyp', found.DevTyp);
  put('oem', found.OEM);
  if (found.LrgObj !== undefined) {
    effect.lrgObj = found.LrgObj.trim().toLowerCase() === 'true';
    state.client.largeObjects = effect.lrgObj;
  }
  return effect;
}

/**
 * Emits `command-result` (or `devdetail`) for every request fully answered.
 * With `packageDone` (the client closed its package and ours is closed),
 * requests still missing Statuses are given up as `no-status`.
 */
export function collectFinished(state: SessionState, ids: Ids, packageDone: boolean): SessionEffect[] {
  const effects: SessionEffect[] = [];
  for (const req of [...state.requests]) {
    const queued = state.outbox.some((u) => u.requestId === req.requestId);
    if (queued || !req.sent || state.incomingLo?.requestId === req.requestId) continue;
    const complete =
      (req.container === undefined || req.containerStatus !== undefined) &&
      req.commands.every((_, i) => answered(req, i, packageDone));
    if (complete) {
      if (req.internal === 'devdetail') {
        const effect = devDetailEffect(state, req, ids);
        if (effect) effects.push(effect);
      } else {
        const effect: SessionEffect = { type: 'command-result', ...ids, requestId: req.requestId, results: resultsOf(req, false) };
        if (req.containerStatus !== undefined) effect.containerStatus = req.containerStatus;
        effects.push(effect);
      }
      remove(state, req.requestId, true);
    } else if (packageDone) {
      effects.push(...giveUp(state, req, ids, 'no-status'));
      remove(state, req.requestId, true);
    }
  }
  return effects;
}

function giveUp(state: SessionState, req: TrackedRequest, ids: Ids, reason: UndeliveredReason): SessionEffect[] {
  if (req.internal === 'devdetail') {
    const effect = devDetailEffect(state, req, ids);
    return effect ? [effect] : [];
  }
  const results = resultsOf(req, true);
  const delivery = !req.sent ? 'not-sent' : results.length > 0 ? 'partial' : 'sent-no-status';
  return [{ type: 'command-undelivered', ...ids, requestId: req.requestId, reason, delivery, results }];
}

/** The session is ending: every request still here is reported undelivered. */
export function abandonAll(state: SessionState, ids: Ids, reason: UndeliveredReason): SessionEffect[] {
  const effects = state.requests.flatMap((req) => giveUp(state, req, ids, reason));
  state.requests = [];
  state.outbox = [];
  state.sent = [];
  state.incomingLo = undefined;
  return effects;
}

/**
 * The device refused our credentials for message `msgId`, so it ran none of
 * its commands: the requests they belong to start over, first in the queue.
 */
export function requeueMessage(state: SessionState, msgId: number): void {
  const affected = new Set(state.sent.filter((r) => r.msgId === msgId).map((r) => r.requestId));
  if (affected.size === 0) return;
  const reqs = state.requests.filter((r) => affected.has(r.requestId));
  for (const req of reqs) {
    req.outcomes = req.commands.map(() => ({}));
    req.containerStatus = undefined;
    req.sent = false;
  }
  state.sent = state.sent.filter((r) => !affected.has(r.requestId));
  state.outbox = [...reqs.flatMap(unitsFor), ...state.outbox.filter((u) => !affected.has(u.requestId))];
  if (state.incomingLo !== undefined && affected.has(state.incomingLo.requestId)) state.incomingLo = undefined;
}
