/** Builders and a driver for the DM session engine tests. */
import { expect } from 'vitest';
import { md5Credential, userDigest } from '../../../../src/dm/auth/credentials.js';
import { encodedSize } from '../../../../src/dm/codec/index.js';
import type {
  AlertCommand,
  Command,
  Cred,
  Item,
  ResultsCommand,
  StatusCommand,
  SyncMlMessage,
} from '../../../../src/dm/codec/types.js';
import type { DeviceAuthRecord, SessionContext } from '../../../../src/dm/session/context.js';
import type { SessionEffect } from '../../../../src/dm/session/effects.js';
import { handleClientMessage, type SessionStepResult } from '../../../../src/dm/session/engine.js';
import type { ServerCommandRequest } from '../../../../src/dm/session/server-commands.js';
import type { SessionState } from '../../../../src/dm/session/state.js';
import {
  type LargeObjectAssembly,
  processCommands,
  type UiHandler,
} from '../../../../src/simulator/command-processor.js';
import type { ManagementTree } from '../../../../src/simulator/tree/management-tree.js';

export const SERVER_URI = 'https://dm.example.com/dm';
export const DEVICE_ID = 'IMEI:493005100592800';
/** base64("Nonce"): the spec's md5 vector nonce. */
export const NONCE_B64 = Buffer.from('Nonce').toString('base64');
/** The md5 vector: Bruce2 / OhBehave / nonce "Nonce". */
export const VECTOR_CRED: Cred = {
  meta: { type: 'syncml:auth-md5', format: 'b64' },
  data: 'Zz6EivR3yeaaENcRN6lpAQ==',
};

export const MD5_DEVICE: DeviceAuthRecord = {
  deviceId: DEVICE_ID,
  authType: 'md5',
  clientUsername: 'Bruce2',
  clientPassword: 'OhBehave',
  serverId: 'dm.example.com',
  serverPassword: 'server-secret-0123456789',
  clientNonce: NONCE_B64,
};

export function md5CredFor(nonceB64: string, user = 'Bruce2', password = 'OhBehave'): Cred {
  return {
    meta: { type: 'syncml:auth-md5', format: 'b64' },
    data: md5Credential(userDigest(user, password), Buffer.from(nonceB64, 'base64')),
  };
}

/** Nonces handed out in order: the first is Example (b)'s. */
export function nonceSource(...nonces: string[]): () => { b64: string } {
  const queue = nonces.length > 0 ? [...nonces] : ['LG3iZQhhdmKNHg=='];
  let n = 0;
  return () => ({ b64: queue.shift() ?? Buffer.from(`nonce-${++n}-0123456789`).toString('base64') });
}

export const xmlSize = (m: SyncMlMessage) => encodedSize(m, 'xml');

export function context(overrides: Partial<SessionContext> = {}): SessionContext {
  return {
    device: MD5_DEVICE,
    now: 1_700_000_000_000,
    newNonce: nonceSource(),
    serverUri: SERVER_URI,
    pending: [],
    encoding: 'xml',
    sizeOf: xmlSize,
    ...overrides,
  };
}

export function clientMessage(opts: {
  msgId: number;
  body: Command[];
  sessionId?: string;
  cred?: Cred;
  final?: boolean;
  maxMsgSize?: number;
  maxObjSize?: number;
  locName?: string;
}): SyncMlMessage {
  const msg: SyncMlMessage = {
    header: {
      verDtd: '1.2',
      verProto: 'DM/1.2',
      sessionId: opts.sessionId ?? '1A',
      msgId: opts.msgId,
      target: { locUri: SERVER_URI },
      source: { locUri: DEVICE_ID, ...(opts.locName !== undefined && { locName: opts.locName }) },
    },
    body: opts.body,
    final: opts.final ?? true,
  };
  if (opts.cred) msg.header.cred = opts.cred;
  if (opts.maxMsgSize !== undefined || opts.maxObjSize !== undefined) {
    msg.header.meta = {};
    if (opts.maxMsgSize !== undefined) msg.header.meta.maxMsgSize = opts.maxMsgSize;
    if (opts.maxObjSize !== undefined) msg.header.meta.maxObjSize = opts.maxObjSize;
  }
  return msg;
}

export function devInfoReplace(cmdId: number): Command {
  const leaf = (name: string, data: string): Item => ({
    source: { locUri: `./DevInfo/${name}` },
    meta: { format: 'chr', type: 'text/plain' },
    data,
  });
  return {
    kind: 'Replace',
    cmdId,
    items: [
      leaf('DevId', DEVICE_ID),
      leaf('Man', 'Acme'),
      leaf('Mod', 'Sim-1'),
      leaf('DmV', '1.2'),
      leaf('Lang', 'en-US'),
    ],
  };
}

export function alert(cmdId: number, code: number, extra: Partial<AlertCommand> = {}): AlertCommand {
  return { kind: 'Alert', cmdId, data: code, items: [], ...extra };
}

/** Client Pkg1: Alert 1201 (CmdID 1) + DevInfo Replace (CmdID 2), as Example (a). */
export function pkg1(opts: { msgId?: number; cred?: Cred; maxMsgSize?: number; extra?: Command[]; locName?: string } = {}) {
  return clientMessage({
    msgId: opts.msgId ?? 1,
    cred: opts.cred ?? VECTOR_CRED,
    locName: opts.locName ?? 'Bruce2',
    body: [alert(1, 1201), devInfoReplace(2), ...(opts.extra ?? [])],
    ...(opts.maxMsgSize !== undefined && { maxMsgSize: opts.maxMsgSize }),
  });
}

export function status(
  cmdId: number,
  msgRef: number,
  cmdRef: number,
  cmd: string,
  code: number,
  extra: Partial<StatusCommand> = {},
): StatusCommand {
  return { kind: 'Status', cmdId, msgRef, cmdRef, cmd, targetRefs: [], sourceRefs: [], data: code, items: [], ...extra };
}

export function results(cmdId: number, msgRef: number, cmdRef: number, items: Item[]): ResultsCommand {
  return { kind: 'Results', cmdId, msgRef, cmdRef, items };
}

/** A JSON round trip, checked to lose nothing. */
export function viaJson(state: SessionState | undefined): SessionState | undefined {
  if (state === undefined) return undefined;
  const copy = JSON.parse(JSON.stringify(state)) as SessionState;
  expect(copy).toEqual(state);
  return copy;
}

export const ofType = <T extends SessionEffect['type']>(effects: SessionEffect[], type: T) =>
  effects.filter((e): e is Extract<SessionEffect, { type: T }> => e.type === type);

/** Commands (not Statuses) of a message, flattened out of containers too. */
export const commandsOf = (m: SyncMlMessage) => m.body.filter((c) => c.kind !== 'Status');

/**
 * Runs the engine the way the gateway will: the state goes through JSON
 * between every message, and every reply is checked against the client's
 * MaxMsgSize when one is set.
 */
export class Driver {
  state: SessionState | undefined;
  readonly effects: SessionEffect[] = [];
  readonly replies: SyncMlMessage[] = [];

  constructor(
    public ctx: SessionContext,
    readonly clientMaxMsgSize?: number,
  ) {}

  send(msg: SyncMlMessage, ctxOverrides: Partial<SessionContext> = {}): SessionStepResult {
    const out = handleClientMessage(viaJson(this.state), msg, { ...this.ctx, ...ctxOverrides });
    this.state = viaJson(out.state);
    this.effects.push(...out.effects);
    this.replies.push(out.reply);
    if (this.clientMaxMsgSize !== undefined) expect(xmlSize(out.reply)).toBeLessThanOrEqual(this.clientMaxMsgSize);
    return out;
  }
}

/**
 * The simulator as the client: runs a server message on the tree and builds
 * the next client message (header Status, Statuses/Results, Alert 1222 when
 * the server's package is not finished, Final otherwise).
 */
export class SimClient {
  msgId = 1;
  readonly largeObject: LargeObjectAssembly = { pending: undefined };

  constructor(
    readonly tree: ManagementTree,
    readonly opts: { maxMsgSize?: number; ui?: UiHandler; headerCode?: number } = {},
  ) {}

  answer(server: SyncMlMessage): SyncMlMessage {
    let next = 2;
    const processed = processCommands(this.tree, server.body, {
      msgId: server.header.msgId,
      nextCmdId: () => next++,
      largeObject: this.largeObject,
      ...(this.opts.ui && { ui: this.opts.ui }),
    });
    const body: Command[] = [
      status(1, server.header.msgId, 0, 'SyncHdr', this.opts.headerCode ?? 212),
      ...processed.replies,
      ...processed.outgoingAlerts,
    ];
    if (!server.final) body.push(alert(next++, 1222));
    this.msgId += 1;
    return clientMessage({
      msgId: this.msgId,
      body,
      final: server.final,
      ...(this.opts.maxMsgSize !== undefined && { maxMsgSize: this.opts.maxMsgSize }),
    });
  }
}

/** Runs a whole session against the simulator from Pkg1 until the server closes it. */
export function runSession(driver: Driver, client: SimClient, first: SyncMlMessage, maxRounds = 50) {
  let out = driver.send(first);
  for (let i = 0; i < maxRounds && !out.closed; i++) out = driver.send(client.answer(out.reply));
  expect(out.closed).toBe(true);
  return out;
}

export const sseRequest: ServerCommandRequest = {
  requestId: 'req-sse-1',
  container: 'Sequence',
  commands: [
    { verb: 'Add', uri: './SSE/job1', format: 'node' },
    { verb: 'Add', uri: './SSE/job1/TargetURI', data: './FUMO/fw1/Update', format: 'chr', type: 'text/plain' },
    { verb: 'Add', uri: './SSE/job1/AtTime', data: '20250301T020000Z', format: 'chr', type: 'text/plain' },
    { verb: 'Exec', uri: './SSE/job1/Go', correlator: 'sse-7f41' },
  ],
};
