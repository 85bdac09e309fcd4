/**
 * The DM server: one client message in, one reply out. Decodes the message,
 * finds the session (by RespURI token, or by device and SessionID), runs the
 * pure session engine with the device's account and queued requests, applies
 * the effects (nonces, DevInfo, outcomes, alerts) and stores the new state
 * before answering, so any gateway process can serve the session's next
 * message. Knows nothing of HTTP frameworks or SOAP.
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { newNonce } from '../auth/credentials.js';
import { contentTypeFor, encodedSize, encodeSyncMl, parseSyncMl } from '../codec/index.js';
import { SyncMlDecodeError } from '../codec/errors.js';
import type { SyncMlEncoding, SyncMlMessage } from '../codec/types.js';
import {
  DEVDETAIL_REQUEST_ID,
  deserializeSessionState,
  handleClientMessage,
  type SessionEffect,
  type SessionState,
  serializeSessionState,
  signReply,
} from '../session/index.js';
import { applyEffects } from './effects.js';
import type { DmDeviceDirectory, DmEventSink, DmSessionStore, DeviceRequestQueue } from './ports.js';

export interface DmServerDeps {
  devices: DmDeviceDirectory;
  sessions: DmSessionStore;
  queue: DeviceRequestQueue;
  events: DmEventSink;
  logger: Logger;
  clock: { now(): number };
  /** Our URL (PUBLIC_DM_URL): Source of every reply, base of RespURIs. */
  serverUri: string;
  serverId: string;
  sessionTtlSeconds: number;
  maxMsgSize: number;
}

export interface DmRequest {
  body: Buffer;
  contentType: string;
  /** The x-syncml-hmac header, when sent. */
  hmacHeader?: string;
  /** The session token from the RespURI path, when the client used it. */
  token?: string;
}

export interface DmResponse {
  status: number;
  contentType: string;
  body: Buffer;
  headers: Record<string, string>;
}

const text = (status: number, message: string): DmResponse => ({
  status,
  contentType: 'text/plain; charset=utf-8',
  body: Buffer.from(`${message}\n`),
  headers: {},
});

export class DmServer {
  constructor(private readonly deps: DmServerDeps) {}

  async handle(req: DmRequest): Promise<DmResponse> {
    let parsed: { message: SyncMlMessage; encoding: SyncMlEncoding };
    try {
      parsed = parseSyncMl(req.body, req.contentType);
    } catch (err) {
      if (!(err instanceof SyncMlDecodeError)) throw err;
      this.deps.logger.warn(
        { deviceId: err.header?.sourceLocUri, reason: err.reason, detail: err.message },
        'rejected a malformed DM message',
      );
      return err.reason === 'unsupported-media-type'
        ? text(415, 'unsupported media type: send application/vnd.syncml.dm+xml or +wbxml')
        : text(400, `malformed SyncML (${err.reason})`);
    }
    const { message, encoding } = parsed;
    const deviceId = message.header.source.locUri;
    const token =
      req.token ?? (await this.deps.sessions.lookup(deviceId, message.header.sessionId)) ?? this.newToken();
    const stored = await this.deps.sessions.load(token);
    let state: SessionState | undefined;
    try {
      state = stored ? deserializeSessionState(stored) : undefined;
    } catch (err) {
      this.deps.logger.error({ err, deviceId, token }, 'stored DM session state is unreadable; starting afresh');
    }
    const device = await this.deps.devices.get(deviceId);
    const now = this.deps.clock.now();
    const step = handleClientMessage(state, message, {
      device: device?.auth,
      now,
      newNonce: () => newNonce(),
      ...(device?.auth.authType === 'hmac' ? { hmac: { header: req.hmacHeader, body: req.body } } : {}),
      serverUri: this.deps.serverUri,
      respUri: `${this.deps.serverUri}/s/${token}`,
      pending: device ? await this.deps.queue.pending(deviceId) : [],
      modelUnknown: device !== undefined && device.devInfo?.detail === undefined,
      encoding,
      sizeOf: (m) => encodedSize(m, encoding),
      limits: { maxMsgSize: this.deps.maxMsgSize },
    });
    this.logEffects(step.effects);
    // Effects first, state second: if applying fails the client gets an
    // error, retries the same message, and the engine replays it.
    await applyEffects(step.effects, device, now, this.deps);
    if (step.state) {
      await this.deps.sessions.save(token, serializeSessionState(step.state), this.deps.sessionTtlSeconds);
      await this.deps.sessions.bind(deviceId, message.header.sessionId, token, this.deps.sessionTtlSeconds);
    }
    const body = encodeSyncMl(step.reply, encoding);
    const headers: Record<string, string> = {};
    if (step.replySigner) headers['x-syncml-hmac'] = signReply(step.replySigner, body);
    return { status: 200, contentType: contentTypeFor(encoding), body, headers };
  }

  private newToken(): string {
    return crypto.randomBytes(16).toString('base64url');
  }

  private logEffects(effects: SessionEffect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'unknown-device':
        case 'auth-failed':
        case 'protocol-error':
        case 'server-auth-rejected':
        case 'request-rejected':
          this.deps.logger.warn({ ...e }, `DM ${e.type}`);
          break;
        case 'session-started':
        case 'session-ended':
          this.deps.logger.debug({ ...e }, `DM ${e.type}`);
          break;
        default:
          break;
      }
    }
  }
}

export { DEVDETAIL_REQUEST_ID };
