/**
 * The DM 2.0 session as pure steps over a JSON state (kept in Redis between
 * HTTP requests, like a DM 1.2 session's): open it from a Package#1, absorb
 * a Package#3's statuses and alerts, and build the next Package#2 from the
 * device's queued requests. Each step returns the new state and effects of
 * the same kinds as the DM 1.2 engine's (src/dm/session/effects.ts), which
 * the caller applies with the same code (src/dm/server/effects.ts): tasks,
 * their states and history rows do not depend on the protocol generation.
 */
import type { SessionEffect } from '../dm/session/effects.js';
import { normalizeAlertType } from '../dm/session/generic-alert.js';
import type { CommandResult, RequestFacts, ServerCommandRequest, ServerCommandSpec } from '../dm/session/server-commands.js';
import { checkServerCommandRequest } from '../dm/session/server-commands.js';
import { toClientUri, toDevicePath } from './client-uri.js';
import { type CommandUrls, toDm2Commands } from './commands.js';
import {
  ALERT_BOOTSTRAP_COMPLETE,
  ALERT_CLIENT_INITIATED,
  DEFAULT_MARK,
  MAX_COMMANDS_PER_PACKAGE,
  SESSION_ALERT_TYPES,
} from './constants.js';
import type { Dm2Alert, Dm2Command, Package1, Package3 } from './types.js';

export const DM2_STATE_VERSION = 1;
/** The `sessionId` of every effect of a DM 2.0 session (DM 2.0 has no SessionID). */
export const DM2_SESSION_ID = 'dm2';

interface TrackedRequest {
  requestId: string;
  commands: ServerCommandSpec[];
  /**
   * The request's facts, kept for its outcome (CommandOutcome.facts): a Package#3's results are
   * applied before the queue is read again, so they are taken from here, not from the queue.
   */
  facts?: RequestFacts;
  /** Parallel to `commands`; null until its status arrives. */
  results: (CommandResult | null)[];
  done: boolean;
  /** Get specs the client answered 406/501 (it does not support GET): asked again as HPOST. */
  viaHpost?: number[];
}

/** A command of the last Package#2, in order: a request's spec, or the CONT that closes it. */
export type AwaitedCommand = { requestId: string; index: number; via?: 'HPOST' } | { control: 'CONT' };

/** What clients sent with HPOST, by `${requestId}#${index}` (read by the caller before absorbing). */
export type Uploads = ReadonlyMap<string, { body: Buffer; type: string }>;

export const uploadKey = (requestId: string, index: number) => `${requestId}#${index}`;

/**
 * DM 2.0's Package#1 carries no DevInfo: a device whose model the gateway does not know yet is
 * asked for its DevInfo and DevDetail leaves in its session's first Package#2 (as the DM 1.2
 * engine asks for DevDetail), and the answers become the same `devinfo`/`devdetail` effects.
 */
export const DEVICE_INFO_REQUEST_ID = 'dm2-session:device-info';
const DEVINFO_LEAVES = ['DevId', 'Man', 'Mod', 'DmV', 'Lang'] as const;
const DEVDETAIL_LEAVES = ['FwV', 'SwV', 'HwV', 'DevTyp', 'OEM', 'LrgObj'] as const;

function deviceInfoRequest(): ServerCommandRequest {
  return {
    requestId: DEVICE_INFO_REQUEST_ID,
    commands: [
      ...DEVINFO_LEAVES.map((l) => ({ verb: 'Get' as const, uri: `./DevInfo/${l}` })),
      ...DEVDETAIL_LEAVES.map((l) => ({ verb: 'Get' as const, uri: `./DevDetail/${l}` })),
    ],
  };
}

/** The device-info request's answers as the DM 1.2 engine's effects (a leaf the device refused is left out). */
function deviceInfoEffects(deviceId: string, results: CommandResult[]): SessionEffect[] {
  const value = (uri: string) => results.find((r) => r.uri === uri && r.status >= 200 && r.status < 300)?.data;
  const nodes: Record<string, string> = {};
  for (const l of DEVINFO_LEAVES) {
    const v = value(`./DevInfo/${l}`);
    if (v !== undefined) nodes[`./DevInfo/${l}`] = v;
  }
  const opt = <K extends string>(key: K, v: string | undefined) => (v === undefined ? {} : ({ [key]: v } as Record<K, string>));
  const lrgObj = value('./DevDetail/LrgObj');
  return [
    {
      type: 'devinfo',
      ...ids(deviceId),
      ...opt('devId', value('./DevInfo/DevId')),
      ...opt('man', value('./DevInfo/Man')),
      ...opt('mod', value('./DevInfo/Mod')),
      ...opt('dmV', value('./DevInfo/DmV')),
      ...opt('lang', value('./DevInfo/Lang')),
      nodes,
    },
    {
      type: 'devdetail',
      ...ids(deviceId),
      ...opt('fwV', value('./DevDetail/FwV')),
      ...opt('swV', value('./DevDetail/SwV')),
      ...opt('hwV', value('./DevDetail/HwV')),
      ...opt('devTyp', value('./DevDetail/DevTyp')),
      ...opt('oem', value('./DevDetail/OEM')),
      ...(lrgObj === undefined ? {} : { lrgObj: lrgObj.trim().toLowerCase() === 'true' }),
    },
  ];
}

/** GET is optional for clients (seed 001 B.1 DM-PACK-019-C-O): these answers mean "not supported", and HPOST is tried. */
const GET_UNSUPPORTED = new Set([406, 501]);

export interface Dm2SessionState {
  v: typeof DM2_STATE_VERSION;
  protocol: 'dm2';
  deviceId: string;
  initiator: 'server' | 'client';
  startedAt: number;
  updatedAt: number;
  closed: boolean;
  requests: TrackedRequest[];
  awaiting: AwaitedCommand[];
  /** Package#2s with commands sent so far; the CONT of the nth names `?p=n`, so a Package#3 says which it answers. */
  packages: number;
  /**
   * The last Package#3 taken (which Package#2 it answered, a digest of its bytes) and the answer
   * given: the same Package#3 sent again (its answer was lost) gets the same answer, and nothing
   * is applied twice. DM 2.0 has no MsgID; the CONT URI's package number stands in for it.
   */
  lastAnswer?: { pkg: number; digest: string; commands: Dm2Command[] };
}

/** A package the session cannot take: answered with this HTTP status, nothing changed. */
export interface Dm2Refusal {
  status: 400 | 404 | 409;
  reason: string;
}

export interface Dm2StepResult {
  state: Dm2SessionState;
  effects: SessionEffect[];
}

const ids = (deviceId: string) => ({ sessionId: DM2_SESSION_ID, deviceId });

/**
 * Package#1: opens the session. `reportCorrelator` is given when the client
 * POSTed it to an EXEC's ServerURI (constants.ts REPORT_SEGMENT).
 */
export function openSession(deviceId: string, pkg: Package1, now: number, reportCorrelator?: string): Dm2StepResult | Dm2Refusal {
  const opening = pkg.alerts.find((a) => SESSION_ALERT_TYPES.includes(a.alertType));
  if (opening === undefined) {
    return { status: 400, reason: `Package#1 carries no session alert (${SESSION_ALERT_TYPES.join(', ')})` };
  }
  const initiator = opening.alertType === ALERT_CLIENT_INITIATED || opening.alertType === ALERT_BOOTSTRAP_COMPLETE ? 'client' : 'server';
  const state: Dm2SessionState = {
    v: DM2_STATE_VERSION,
    protocol: 'dm2',
    deviceId,
    initiator,
    startedAt: now,
    updatedAt: now,
    closed: false,
    requests: [],
    awaiting: [],
    packages: 0,
  };
  const effects: SessionEffect[] = [{ type: 'session-started', ...ids(deviceId), initiator }];
  for (const alert of pkg.alerts) {
    if (SESSION_ALERT_TYPES.includes(alert.alertType)) continue;
    effects.push(genericAlertEffect(deviceId, alert, reportCorrelator));
  }
  return { state, effects };
}

/**
 * Package#3: one status per command of the last Package#2, in order (a list
 * shorter or longer is refused whole: which status answers which command
 * would be a guess), then any Generic Alerts. Requests whose every command
 * has its status are complete.
 */
export function absorbPackage3(prior: Dm2SessionState, pkg: Package3, now: number, uploads: Uploads = new Map()): Dm2StepResult | Dm2Refusal {
  if (prior.closed) return { status: 409, reason: 'the session has ended (END was sent)' };
  if (pkg.statuses.length !== prior.awaiting.length) {
    return {
      status: 400,
      reason: `Package#3 has ${pkg.statuses.length} statuses for the ${prior.awaiting.length} commands of Package#2`,
    };
  }
  const state: Dm2SessionState = structuredClone(prior);
  state.updatedAt = now;
  const effects: SessionEffect[] = [];
  for (const [i, awaited] of state.awaiting.entries()) {
    if ('control' in awaited) continue;
    const request = state.requests.find((r) => r.requestId === awaited.requestId);
    const spec = request?.commands[awaited.index];
    if (request === undefined || spec === undefined) continue;
    const status = pkg.statuses[i]!;
    if (spec.verb === 'Get' && awaited.via === undefined && GET_UNSUPPORTED.has(status.sc)) {
      request.viaHpost = [...(request.viaHpost ?? []), awaited.index];
      continue;
    }
    const result: CommandResult = { index: awaited.index, verb: spec.verb, status: status.sc };
    if ('uri' in spec) result.uri = spec.uri;
    if (spec.verb === 'Get' && status.sc >= 200 && status.sc < 300) {
      if (awaited.via === 'HPOST') {
        const sent = uploads.get(uploadKey(awaited.requestId, awaited.index));
        // A 2xx without the value it should have sent: the device's answer is incomplete.
        if (sent === undefined) result.status = 424;
        else {
          result.data = sent.body.toString('utf8');
          result.format = 'chr';
          result.type = sent.type;
        }
      } else {
        result.data = status.data ?? '';
        result.format = 'chr';
        result.type = status.dataType ?? 'text/plain';
      }
    }
    request.results[awaited.index] = result;
  }
  state.awaiting = [];
  for (const request of state.requests) {
    if (request.done || request.results.some((r) => r === null)) continue;
    request.done = true;
    if (request.requestId === DEVICE_INFO_REQUEST_ID) effects.push(...deviceInfoEffects(state.deviceId, request.results as CommandResult[]));
    else effects.push({ type: 'command-result', ...ids(state.deviceId), requestId: request.requestId, results: request.results as CommandResult[] });
  }
  for (const alert of pkg.alerts) {
    // A session alert has no place in Package#3; it opens nothing here and is no Generic Alert.
    if (SESSION_ALERT_TYPES.includes(alert.alertType)) continue;
    effects.push(genericAlertEffect(state.deviceId, alert));
  }
  return { state, effects };
}

export interface NextPackage extends Dm2StepResult {
  commands: Dm2Command[];
}

/**
 * The next Package#2: the queued requests this session has not taken yet,
 * in order, as DM 2.0 commands (at most MAX_COMMANDS_PER_PACKAGE, a request
 * never split), closed by CONT to the session's URI; or END alone when
 * nothing is left, which ends the session (the client sends no Package#3).
 */
export function nextPackage(
  prior: Dm2SessionState,
  pending: readonly ServerCommandRequest[],
  urls: CommandUrls & { sessionUrl: string; uploadUrl: (requestId: string, index: number) => string },
  now: number,
  /** The gateway does not know the device's model yet: ask for DevInfo and DevDetail first. */
  learnDevice = false,
): NextPackage {
  const state: Dm2SessionState = structuredClone(prior);
  state.updatedAt = now;
  const effects: SessionEffect[] = [];
  const commands: Dm2Command[] = [];
  const taken: string[] = [];
  // First the Gets the client could not answer with GET, as HPOST to the gateway's upload store.
  for (const request of state.requests) {
    for (const index of request.viaHpost ?? []) {
      const spec = request.commands[index]!;
      commands.push(['HPOST', urls.uploadUrl(request.requestId, index), toClientUri((spec as { uri: string }).uri)]);
      state.awaiting.push({ requestId: request.requestId, index, via: 'HPOST' });
    }
    delete request.viaHpost;
  }
  const known = new Set(state.requests.map((r) => r.requestId));
  const internal = learnDevice && !known.has(DEVICE_INFO_REQUEST_ID) ? [deviceInfoRequest()] : [];
  for (const request of [...internal, ...pending]) {
    if (known.has(request.requestId)) continue;
    const problem = checkServerCommandRequest(request);
    if (problem !== undefined) {
      effects.push({ type: 'request-rejected', ...ids(state.deviceId), requestId: String(request.requestId), reason: problem });
      continue;
    }
    const translated = toDm2Commands(request, urls);
    if ('refused' in translated) {
      effects.push({ type: 'request-rejected', ...ids(state.deviceId), requestId: request.requestId, reason: translated.refused });
      continue;
    }
    if (commands.length > 0 && commands.length + translated.commands.length > MAX_COMMANDS_PER_PACKAGE) break;
    for (const [index, command] of translated.commands.entries()) {
      commands.push(command);
      state.awaiting.push({ requestId: request.requestId, index });
    }
    state.requests.push({
      requestId: request.requestId,
      commands: request.commands,
      ...(request.facts !== undefined ? { facts: request.facts } : {}),
      results: request.commands.map(() => null),
      done: false,
    });
    if (request.requestId !== DEVICE_INFO_REQUEST_ID) taken.push(request.requestId);
  }
  if (commands.length === 0) {
    state.closed = true;
    state.awaiting = [];
    effects.push({ type: 'session-ended', ...ids(state.deviceId), reason: 'completed' });
    return { state, effects, commands: [['END']] };
  }
  state.packages += 1;
  commands.push(['CONT', `${urls.sessionUrl}?p=${state.packages}`]);
  state.awaiting.push({ control: 'CONT' });
  if (taken.length > 0) effects.push({ type: 'requests-taken', ...ids(state.deviceId), requestIds: taken });
  return { state, effects, commands };
}

/** The facts of a request this state has taken (see TrackedRequest.facts). */
export function trackedFacts(state: Dm2SessionState, requestId: string): RequestFacts | undefined {
  return state.requests.find((r) => r.requestId === requestId)?.facts;
}

/** Requests this state has sent (the DM 1.2 lost-request marks apply to them alike). */
export function sentRequestIds(state: Dm2SessionState): string[] {
  return state.requests.map((r) => r.requestId);
}

/**
 * A Generic Alert as the effect the DM 1.2 engine gives for a 1226 item, so the same consumers take
 * it. DataType is a media type, not a DM Format, so it is not passed as one (readers of result
 * codes parse the Data leniently either way, notes §13.4).
 */
function genericAlertEffect(deviceId: string, alert: Dm2Alert, correlator?: string): SessionEffect {
  const source = alert.sourceUri === undefined ? undefined : (toDevicePath(alert.sourceUri) ?? alert.sourceUri);
  return {
    type: 'generic-alert',
    ...ids(deviceId),
    alertType: normalizeAlertType(alert.alertType),
    rawType: alert.alertType,
    mark: alert.mark ?? DEFAULT_MARK,
    ...(alert.data !== undefined ? { data: alert.data } : {}),
    ...(source !== undefined ? { source } : {}),
    ...(correlator !== undefined ? { correlator } : {}),
  };
}

export function serializeDm2State(state: Dm2SessionState): string {
  return JSON.stringify(state);
}

/** The stored state, or undefined when it is not a DM 2.0 session's (a DM 1.2 token, or damage). */
export function deserializeDm2State(text: string): Dm2SessionState | undefined {
  try {
    const v = JSON.parse(text) as Partial<Dm2SessionState>;
    if (v?.protocol !== 'dm2' || v.v !== DM2_STATE_VERSION || !Array.isArray(v.requests) || !Array.isArray(v.awaiting)) return undefined;
    if (typeof v.packages !== 'number') return undefined;
    return v as Dm2SessionState;
  } catch {
    return undefined;
  }
}
