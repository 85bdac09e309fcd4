/**
 * Taking queued requests into a new server package: validation, the wire
 * shape (packing and containers), the device's limits, and the package budget.
 *
 * Budget: requests are taken in queue order while their estimated encoded
 * size stays within `maxPackageMessages` messages of the client's
 * MaxMsgSize; the first one is always taken (it may span several messages or
 * be a Large Object). The rest stay queued for the next package or session.
 */
import type { Command, SyncHdr } from '../codec/types.js';
import { DEFAULT_CLIENT_MAX_MSG_SIZE, DEFAULT_MAX_PACKAGE_MESSAGES, type SessionContext } from './context.js';
import type { SessionEffect } from './effects.js';
import { packable, payloadOf, payloadSize, renderCommand, renderContainer } from './render.js';
import { commandStatus } from './reply.js';
import { checkServerCommandRequest, type ServerCommandRequest, type ServerCommandSpec } from './server-commands.js';
import type { OutUnit, SessionState, TrackedRequest } from './state.js';

export const DEVDETAIL_REQUEST_ID = 'dm-session:devdetail';
export const DEVDETAIL_LEAVES = ['FwV', 'SwV', 'HwV', 'DevTyp', 'OEM', 'LrgObj'] as const;

export function clientMaxMsgSize(state: SessionState, ctx: SessionContext): number {
  return state.client.maxMsgSize ?? ctx.limits?.defaultClientMaxMsgSize ?? DEFAULT_CLIENT_MAX_MSG_SIZE;
}

/** The DevDetail leaves fetched for an unknown model, one Get each. */
export function devDetailRequest(): ServerCommandRequest {
  return {
    requestId: DEVDETAIL_REQUEST_ID,
    commands: DEVDETAIL_LEAVES.map((leaf) => ({ verb: 'Get' as const, uri: `./DevDetail/${leaf}` })),
  };
}

/** Spec indexes grouped into commands: runs of packable Add/Replace specs share one. */
export function groupSpecs(commands: ServerCommandSpec[]): number[][] {
  const groups: number[][] = [];
  for (const [i, spec] of commands.entries()) {
    const last = groups.at(-1);
    const prev = last === undefined ? undefined : commands[last.at(-1)!];
    if (last !== undefined && prev !== undefined && packable(prev, spec)) last.push(i);
    else groups.push([i]);
  }
  return groups;
}

export function unitsFor(req: TrackedRequest): OutUnit[] {
  const groups = groupSpecs(req.commands);
  if (req.container !== undefined) return [{ kind: 'container', requestId: req.requestId, groups }];
  return groups.map((specs) => ({ kind: 'command', requestId: req.requestId, specs }));
}

export function trackRequest(req: ServerCommandRequest, internal?: 'devdetail'): TrackedRequest {
  const tracked: TrackedRequest = {
    requestId: req.requestId,
    commands: structuredClone(req.commands),
    outcomes: req.commands.map(() => ({})),
    sent: false,
  };
  if (req.container !== undefined) tracked.container = req.container;
  if (internal !== undefined) tracked.internal = internal;
  return tracked;
}

/**
 * Takes requests for a new package into `state.requests` and `state.outbox`.
 * Returns the effects (`requests-taken`, `request-rejected`).
 */
export function takeRequests(state: SessionState, ctx: SessionContext, header: SyncHdr): SessionEffect[] {
  const ids = { sessionId: state.sessionId, deviceId: state.deviceId };
  const effects: SessionEffect[] = [];
  const limit = clientMaxMsgSize(state, ctx);
  // Every message carries at least a header Status and one more Status (e.g. for Alert 1222).
  const lead: Command[] = [
    commandStatus(state.client.lastMsgId, { kind: 'SyncHdr', cmdId: 0 }, 200, {
      target: ctx.serverUri,
      source: state.deviceId,
    }),
    commandStatus(state.client.lastMsgId, { kind: 'Alert', cmdId: 1 }, 200),
  ];
  const measure = (cmds: Command[]) => ctx.sizeOf({ header, body: [...lead, ...cmds], final: true });
  const known = new Set([...state.requests.map((r) => r.requestId), ...state.finishedRequestIds]);

  const candidates: { req: ServerCommandRequest; internal?: 'devdetail' }[] = [];
  if (ctx.modelUnknown === true && state.server.packagesStarted === 0 && !known.has(DEVDETAIL_REQUEST_ID)) {
    candidates.push({ req: devDetailRequest(), internal: 'devdetail' });
  }
  for (const req of ctx.pending) {
    const id = (req as { requestId?: unknown } | null)?.requestId;
    if (typeof id === 'string' && known.has(id)) continue;
    candidates.push({ req });
  }

  // Nothing to take (the common case: a check-in) costs no measuring, which walks a whole message.
  if (candidates.length === 0) return effects;
  const baseline = measure([]);
  const budget = (ctx.limits?.maxPackageMessages ?? DEFAULT_MAX_PACKAGE_MESSAGES) * Math.max(1, limit - baseline);
  let used = 0;
  let taken = 0;
  const takenIds: string[] = [];
  for (const { req, internal } of candidates) {
    const problem = checkServerCommandRequest(req) ?? limitProblem(state, ctx, req, measure, limit);
    if (problem !== undefined) {
      const requestId = typeof req?.requestId === 'string' ? req.requestId : '';
      effects.push({ type: 'request-rejected', ...ids, requestId, reason: problem });
      if (requestId !== '') {
        state.finishedRequestIds.push(requestId);
        known.add(requestId);
      }
      continue;
    }
    const tracked = trackRequest(req, internal);
    const units = unitsFor(tracked);
    const cost = units.reduce((sum, u) => sum + unitCost(tracked, u, ctx, measure, baseline), 0);
    if (taken > 0 && used + cost > budget) break;
    used += cost;
    taken += 1;
    known.add(req.requestId);
    state.requests.push(tracked);
    state.outbox.push(...units);
    if (internal === undefined) takenIds.push(req.requestId);
  }
  if (takenIds.length > 0) effects.push({ type: 'requests-taken', ...ids, requestIds: takenIds });
  return effects;
}

/** Why the device's limits rule the request out, if they do. */
function limitProblem(
  state: SessionState,
  ctx: SessionContext,
  req: ServerCommandRequest,
  measure: (cmds: Command[]) => number,
  limit: number,
): string | undefined {
  const maxObj = state.client.maxObjSize;
  for (const [i, spec] of req.commands.entries()) {
    if ((spec.verb !== 'Add' && spec.verb !== 'Replace') || spec.data === undefined) continue;
    const size = payloadSize(payloadOf(spec, ctx.encoding));
    if (maxObj !== undefined && size > maxObj) {
      return `commands[${i}]: ${size} bytes exceed the device's MaxObjSize ${maxObj}`;
    }
    if (state.client.largeObjects === false && req.container === undefined) {
      if (measure([renderCommand([spec], ctx.encoding, counter())]) > limit) {
        return `commands[${i}]: needs a Large Object and the device has LrgObj=false`;
      }
    }
  }
  if (req.container !== undefined) {
    const groups = groupSpecs(req.commands).map((g) => g.map((i) => req.commands[i]!));
    const size = measure([renderContainer(req.container, groups, ctx.encoding, counter())]);
    if (size > limit) return `the ${req.container} needs ${size} bytes, more than one message (${limit})`;
  }
  return undefined;
}

function unitCost(
  req: TrackedRequest,
  unit: OutUnit,
  ctx: SessionContext,
  measure: (cmds: Command[]) => number,
  baseline: number,
): number {
  if (unit.kind === 'chunked') return 0;
  const cmd =
    unit.kind === 'command'
      ? renderCommand(
          unit.specs.map((i) => req.commands[i]!),
          ctx.encoding,
          counter(),
        )
      : renderContainer(
          req.container ?? 'Sequence',
          unit.groups.map((g) => g.map((i) => req.commands[i]!)),
          ctx.encoding,
          counter(),
        );
  return measure([cmd]) - baseline;
}

/** CmdIDs for measuring only: two digits, like most real ones. */
function counter(): () => number {
  let n = 10;
  return () => n++;
}
