/**
 * A tiny scripted DM server for the simulator's tests: typed messages in,
 * typed messages out, no network. `answer()` builds a server message that
 * answers a client message; `FakeDmServer` is a DmTransport that runs whole
 * sessions (authentication with the real verifier, a per-device script of
 * command packages, 1222 handling) over the real codec.
 */
import { buildChallenge, verifyClientCredential } from '../../../../src/dm/auth/verify.js';
import {
  basicCredential,
  type DeviceAuthType,
  md5Credential,
  newNonce,
  userDigest,
} from '../../../../src/dm/auth/credentials.js';
import { contentTypeFor, encodeSyncMl, parseSyncMl } from '../../../../src/dm/codec/index.js';
import type {
  AlertCommand,
  Chal,
  Command,
  Cred,
  ResultsCommand,
  StatusCommand,
  SyncMlMessage,
} from '../../../../src/dm/codec/types.js';
import type { DmTransport, HttpResponse } from '../../../../src/simulator/simulated-device.js';

export const SERVER_URL = 'https://dm.example.com/dm';

export interface AnswerOptions {
  /** Header Status code; default 212. */
  code?: number;
  chal?: Chal;
  /** Commands after the Statuses (CmdIDs are renumbered). */
  commands?: Command[];
  final?: boolean;
  msgId?: number;
  respUri?: string;
  cred?: Cred;
  maxMsgSize?: number;
  maxObjSize?: number;
  /** Status code for each client command (default 200). */
  commandCode?: number;
}

/** A server message answering `client`: header Status, one Status per client command, then `commands`. */
export function answer(client: SyncMlMessage, opts: AnswerOptions = {}): SyncMlMessage {
  let cmdId = 1;
  const hdr = client.header;
  const headerStatus: StatusCommand = {
    kind: 'Status',
    cmdId: cmdId++,
    msgRef: hdr.msgId,
    cmdRef: 0,
    cmd: 'SyncHdr',
    targetRefs: [hdr.target.locUri],
    sourceRefs: [hdr.source.locUri],
    data: opts.code ?? 212,
    items: [],
  };
  if (opts.chal) headerStatus.chal = opts.chal;
  const body: Command[] = [headerStatus];
  for (const cmd of client.body) {
    if (cmd.kind === 'Status' || cmd.kind === 'Results') continue;
    body.push(status(hdr.msgId, cmd.cmdId, cmd.kind, opts.commandCode ?? 200, cmdId++));
  }
  const next = { value: cmdId };
  for (const cmd of opts.commands ?? []) body.push(renumber(cmd, next));
  const meta = {
    ...(opts.maxMsgSize !== undefined && { maxMsgSize: opts.maxMsgSize }),
    ...(opts.maxObjSize !== undefined && { maxObjSize: opts.maxObjSize }),
  };
  return {
    header: {
      verDtd: '1.2',
      verProto: 'DM/1.2',
      sessionId: hdr.sessionId,
      msgId: opts.msgId ?? hdr.msgId,
      target: { locUri: hdr.source.locUri },
      source: { locUri: hdr.target.locUri },
      ...(opts.respUri !== undefined && { respUri: opts.respUri }),
      ...(opts.cred !== undefined && { cred: opts.cred }),
      ...(Object.keys(meta).length > 0 && { meta }),
    },
    body,
    final: opts.final ?? true,
  };
}

export function status(msgRef: number, cmdRef: number, cmd: string, code: number, cmdId = 0): StatusCommand {
  return { kind: 'Status', cmdId, msgRef, cmdRef, cmd, targetRefs: [], sourceRefs: [], data: code, items: [] };
}

export function md5Chal(nonce: Buffer | string, type = 'syncml:auth-md5'): Chal {
  const b64 = typeof nonce === 'string' ? Buffer.from(nonce).toString('base64') : nonce.toString('base64');
  return { meta: { type, format: 'b64', nextNonce: b64 } };
}

function renumber(cmd: Command, next: { value: number }): Command {
  const copy = { ...cmd, cmdId: next.value++ } as Command;
  if (copy.kind === 'Sequence' || copy.kind === 'Atomic') copy.commands = copy.commands.map((c) => renumber(c, next));
  return copy;
}

// ---- a whole-session fake server -------------------------------------------------------

export interface FakeAccount {
  username: string;
  password: string;
  authType: DeviceAuthType;
  serverId: string;
  serverPassword: string;
}

interface SessionRecord {
  devId: string;
  sessionId: string;
  authenticated: boolean;
  challenges: number;
  msgId: number;
  credSent: boolean;
  packages: Command[][];
}

export interface FakeServerOptions {
  accounts: Map<string, FakeAccount>;
  /** Sign the first message with a server Cred using this nonce (per device). */
  serverCredNonce?: (devId: string) => Buffer | undefined;
  respUri?: boolean;
  /** Header MaxMsgSize the server advertises. */
  maxMsgSize?: number;
}

/** What the server saw, per device. */
export interface Observed {
  messages: SyncMlMessage[];
  alerts: AlertCommand[];
  statuses: StatusCommand[];
  results: ResultsCommand[];
  sessions: string[];
  urls: string[];
  serverNonces: Buffer[];
}

export class FakeDmServer implements DmTransport {
  readonly observed = new Map<string, Observed>();
  /** CLCRED nonce the server last issued, per device. */
  readonly clientNonces = new Map<string, Buffer>();
  private readonly scripts = new Map<string, Command[][][]>();
  private readonly sessions = new Map<string, SessionRecord>();
  posts = 0;

  constructor(private readonly opts: FakeServerOptions) {}

  setAccount(devId: string, account: FakeAccount): void {
    this.opts.accounts.set(devId, account);
  }

  /** The next session of `devId` sends these packages, one per server message. */
  enqueue(devId: string, ...packages: Command[][]): void {
    const list = this.scripts.get(devId) ?? [];
    list.push(packages);
    this.scripts.set(devId, list);
  }

  seen(devId: string): Observed {
    let o = this.observed.get(devId);
    if (!o) {
      o = { messages: [], alerts: [], statuses: [], results: [], sessions: [], urls: [], serverNonces: [] };
      this.observed.set(devId, o);
    }
    return o;
  }

  async post(url: string, body: Buffer, headers: Record<string, string>): Promise<HttpResponse> {
    this.posts++;
    const { message, encoding } = parseSyncMl(body, headers['content-type'] ?? '');
    const devId = message.header.source.locUri;
    const account = this.opts.accounts.get(devId);
    const seen = this.seen(devId);
    seen.messages.push(message);
    seen.urls.push(url);
    if (!account) return { status: 404, headers: {}, body: Buffer.alloc(0) };
    const key = `${devId}/${message.header.sessionId}`;
    let session = this.sessions.get(key);
    if (!session) {
      session = {
        devId,
        sessionId: message.header.sessionId,
        authenticated: false,
        challenges: 0,
        msgId: 0,
        credSent: false,
        packages: this.scripts.get(devId)?.shift() ?? [],
      };
      this.sessions.set(key, session);
      seen.sessions.push(session.sessionId);
    }
    const reply = this.step(session, account, message, headers, body);
    const bytes = encodeSyncMl(reply, encoding);
    return { status: 200, headers: { 'content-type': contentTypeFor(encoding) }, body: bytes };
  }

  private step(
    session: SessionRecord,
    account: FakeAccount,
    msg: SyncMlMessage,
    headers: Record<string, string>,
    body: Buffer,
  ): SyncMlMessage {
    const seen = this.seen(session.devId);
    for (const cmd of msg.body) {
      if (cmd.kind === 'Alert' && cmd.data === 1226) seen.alerts.push(cmd);
      if (cmd.kind === 'Status') seen.statuses.push(cmd);
      if (cmd.kind === 'Results') seen.results.push(cmd);
      if (cmd.kind === 'Status' && cmd.cmdRef === 0 && cmd.chal?.meta.nextNonce) {
        seen.serverNonces.push(Buffer.from(cmd.chal.meta.nextNonce, 'base64'));
      }
    }
    session.msgId++;
    const base = {
      msgId: session.msgId,
      ...(this.opts.respUri && { respUri: `${SERVER_URL}?s=${session.sessionId}` }),
      ...(this.opts.maxMsgSize !== undefined && { maxMsgSize: this.opts.maxMsgSize }),
    };
    let code = 200;
    let chal: Chal | undefined;
    if (!session.authenticated || account.authType === 'hmac') {
      const verdict = verifyClientCredential({
        stored: { authType: account.authType, username: account.username, password: account.password },
        nonce: this.clientNonces.get(session.devId),
        cred: msg.header.cred,
        ...(msg.header.source.locName !== undefined && { locName: msg.header.source.locName }),
        hmac: { header: headers['x-syncml-hmac'], body },
        challengesSent: session.challenges,
      });
      const fresh = newNonce();
      this.clientNonces.set(session.devId, fresh.bytes);
      chal = buildChallenge(account.authType, fresh.b64);
      if (!verdict.ok) {
        session.challenges++;
        return answer(msg, { ...base, code: verdict.status, chal, commandCode: verdict.status });
      }
      session.authenticated = true;
      code = verdict.status;
    }
    const credNonce = session.credSent ? undefined : this.opts.serverCredNonce?.(session.devId);
    session.credSent = true;
    const cred =
      credNonce === undefined
        ? undefined
        : {
            meta: { type: 'syncml:auth-md5', format: 'b64' },
            data: md5Credential(userDigest(account.serverId, account.serverPassword), credNonce),
          };
    const withCred = { ...base, code, ...(chal && { chal }), ...(cred && { cred }) };
    if (!msg.final) {
      // The client's package is still open: ask for the rest.
      const more: AlertCommand = { kind: 'Alert', cmdId: 0, data: 1222, items: [] };
      return answer(msg, { ...withCred, commands: [more], final: false });
    }
    const next = session.packages.shift();
    return answer(msg, { ...withCred, commands: next ?? [] });
  }
}

export function basicCred(user: string, password: string): Cred {
  return { meta: { type: 'syncml:auth-basic', format: 'b64' }, data: basicCredential(user, password) };
}
