/**
 * The DM 2.0 server: one client POST in, one answer out. Authenticates the
 * device at the HTTP layer, decodes the package, and runs the pure session
 * steps (session.ts) under the same machinery as DM 1.2: the device's
 * message lock, session state in Redis by token, the open-session cap, the
 * device request queue with its lost-request marks, and the same effect
 * appliers, so a task's outcome, states and history do not depend on the
 * generation its device speaks. Knows nothing of HTTP frameworks or SOAP.
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { DmVersion } from '../domain/registry.js';
import { applyEffects } from '../dm/server/effects.js';
import { reportLost } from '../dm/server/lost-requests.js';
import type { DeviceRequestQueue, DmDevice, DmDeviceDirectory, DmEventSink, DmSessionStore, PendingRequests } from '../dm/server/ports.js';
import type { SessionEffect } from '../dm/session/effects.js';
import type { RequestFacts, ServerCommandRequest } from '../dm/session/server-commands.js';
import { Dm2DecodeError, encodePackage2, PACKAGE2_CONTENT_TYPE, parseClientPackage } from './codec.js';
import type { CommandUrls } from './commands.js';
import { DEFAULT_VALUE_MEDIA_TYPE, FORMAT_HEADER, INTERIOR_NODE_MEDIA_TYPE, REPORT_SEGMENT, SESSION_BINDING_ID, SESSION_SEGMENT } from './constants.js';
import type { Dm2UploadStore } from '../queue/dm2-upload-store.js';
import type { Dm2DataLinks } from './data-links.js';
import type { Dm2HttpAuth } from './http-auth.js';
import type { TlsIdentity } from './tls-identity.js';
import {
  absorbPackage3,
  type Dm2Refusal,
  type Dm2SessionState,
  deserializeDm2State,
  nextPackage,
  openSession,
  serializeDm2State,
  trackedFacts,
  uploadKey,
} from './session.js';
import type { ClientPackage, Dm2Command } from './types.js';
import { MessagesInFlight } from '../dm/server/messages-in-flight.js';

export interface Dm2Device extends DmDevice {
  dmVersion: DmVersion;
}

export interface Dm2DeviceDirectory extends Omit<DmDeviceDirectory, 'get'> {
  get(deviceId: string): Promise<Dm2Device | undefined>;
}

export interface Dm2ServerDeps {
  devices: Dm2DeviceDirectory;
  sessions: DmSessionStore;
  queue: DeviceRequestQueue;
  events: DmEventSink;
  logger: Logger;
  clock: { now(): number };
  auth: Dm2HttpAuth;
  links: Dm2DataLinks;
  /** Links for HPOST/HPUT (`<dm2 url>/up/<token>`), and where what they carry is kept. */
  uploadLinks: Dm2DataLinks;
  uploads: Dm2UploadStore;
  /** The public URL of `/dm2` (PUBLIC_DM_URL's origin + /dm2, or PUBLIC_DM2_URL). */
  dm2Url: string;
  sessionTtlSeconds: number;
  /** Open sessions allowed at once, cluster-wide (DM_MAX_SESSIONS, shared with DM 1.2); 0: no cap. */
  maxSessions: number;
  /** How long an HGET link stays valid. */
  linkTtlMs: number;
}

/** Where a POST came in. */
export type Dm2Route =
  | { kind: 'open' }
  /** `pkg`: the package number the CONT URI named (`?p=n`), when the client kept it. */
  | { kind: 'session'; token: string; pkg?: number }
  | { kind: 'report'; correlator: string };

export interface Dm2Request {
  route: Dm2Route;
  /** The request-target as sent (Digest covers it). */
  path: string;
  devId: string | undefined;
  authorization: string | undefined;
  /** The device a client certificate or PSK identity names, when the connection has one. */
  tlsIdentity?: TlsIdentity;
  contentType: string;
  body: Buffer;
  /**
   * Whether the client has closed its connection, so that no Package#2 can
   * reach it (as DmRequest.clientGone): the requests it would carry stay
   * queued, unsent, for the device's next session.
   */
  clientGone?: () => boolean;
}

export interface Dm2Response {
  status: number;
  contentType: string;
  body: Buffer;
  headers: Record<string, string | string[]>;
}

/** As for DM 1.2 (dm-server.ts MESSAGE_LOCK_MS): one message of a device at a time, cluster-wide. */
const MESSAGE_LOCK_MS = 10_000;
const MAX_DEVID = 256;

const text = (status: number, message: string, headers: Record<string, string | string[]> = {}): Dm2Response => ({
  status,
  contentType: 'text/plain; charset=utf-8',
  body: Buffer.from(`${message}\n`),
  headers,
});

export class Dm2Server {
  private readonly inFlight = new MessagesInFlight();

  constructor(private readonly deps: Dm2ServerDeps) {}

  handle(req: Dm2Request): Promise<Dm2Response> {
    return this.inFlight.serve(() => this.handleMessage(req));
  }

  /** Resolves once no message is being served (or after `timeoutMs`). */
  idle(timeoutMs: number): Promise<void> {
    return this.inFlight.idle(timeoutMs);
  }

  /** What an HGET fetches: the value of a queued request's spec, while the request is queued. */
  async serveData(token: string): Promise<Dm2Response> {
    const grant = this.deps.links.verify(token, this.deps.clock.now());
    if (!grant) return text(404, 'unknown or expired link');
    const pending = await this.deps.queue.pending(grant.deviceId);
    const spec = pending.find((r) => r.requestId === grant.requestId)?.commands[grant.index];
    if (spec === undefined || (spec.verb !== 'Add' && spec.verb !== 'Replace')) return text(404, 'unknown or expired link');
    const format = spec.format ?? 'chr';
    if (format === 'node') return { status: 200, contentType: INTERIOR_NODE_MEDIA_TYPE, body: Buffer.alloc(0), headers: { [FORMAT_HEADER]: 'node' } };
    const body = spec.dataEncoding === 'base64' ? Buffer.from(spec.data ?? '', 'base64') : Buffer.from(spec.data ?? '', 'utf8');
    const contentType = spec.dataEncoding === 'base64' ? (spec.type ?? 'application/octet-stream') : (spec.type ?? DEFAULT_VALUE_MEDIA_TYPE);
    return { status: 200, contentType, body, headers: { [FORMAT_HEADER]: format } };
  }

  /**
   * What an HPOST/HPUT sends: kept for its command's status (the token names the device, request
   * and command; the endpoint has capped the size). Only while the request is queued.
   */
  async receiveUpload(token: string, body: Buffer, contentType: string): Promise<Dm2Response> {
    const grant = this.deps.uploadLinks.verify(token, this.deps.clock.now());
    if (!grant) return text(404, 'unknown or expired link');
    const pending = await this.deps.queue.pending(grant.deviceId);
    if (!pending.some((r) => r.requestId === grant.requestId)) return text(404, 'unknown or expired link');
    await this.deps.uploads.put(grant.deviceId, grant.requestId, grant.index, body, this.deps.sessionTtlSeconds, contentType.split(';')[0]!.trim() || 'application/octet-stream');
    return { ...text(201, 'stored'), headers: {} };
  }

  private async handleMessage(req: Dm2Request): Promise<Dm2Response> {
    const log = this.deps.logger;
    const devId = req.devId?.trim();
    if (!devId || devId.length > MAX_DEVID) {
      log.warn({ route: req.route.kind }, 'DM 2.0 message without a usable OMADM-DevID header');
      return text(400, 'OMADM-DevID header required');
    }
    let pkg: ClientPackage;
    try {
      pkg = parseClientPackage(req.body, req.contentType);
    } catch (err) {
      if (!(err instanceof Dm2DecodeError)) throw err;
      log.warn({ deviceId: devId, reason: err.reason, detail: err.message }, 'rejected a malformed DM 2.0 package');
      return err.reason === 'unsupported-media-type' ? text(415, err.message) : text(400, `malformed DM 2.0 package (${err.reason}): ${err.message}`);
    }
    const now = this.deps.clock.now();
    const device = await this.deps.devices.get(devId);
    if (!device) {
      log.warn({ deviceId: devId }, 'DM 2.0 message from an unknown device');
      return text(403, 'unknown device');
    }
    if (device.dmVersion !== '2.0') {
      log.warn({ deviceId: devId, dmVersion: device.dmVersion }, 'DM 2.0 message from a device whose capability is not DM 2.0');
      return text(403, `this device's capability is DM ${device.dmVersion}: it is served at /dm`);
    }
    if (req.tlsIdentity !== undefined && req.tlsIdentity.deviceId !== devId) {
      // A certificate or PSK proves one device; it opens no other's session.
      log.warn({ deviceId: devId, tlsDevice: req.tlsIdentity.deviceId, via: req.tlsIdentity.kind }, 'DM 2.0 OMADM-DevID is not the device the TLS identity names');
      return text(403, `OMADM-DevID does not match the TLS ${req.tlsIdentity.kind}`);
    }
    // Authenticated by TLS (contract: client certificate or PSK), else at the HTTP layer.
    const auth = req.tlsIdentity !== undefined ? { ok: true as const } : this.deps.auth.verify(req.authorization, 'POST', req.path, device.auth, now);
    if (!auth.ok) {
      log.warn({ deviceId: devId, reason: auth.reason }, 'DM 2.0 authentication failed');
      return text(401, 'authentication required', {
        'www-authenticate': this.deps.auth.challenges(device.auth, devId, now, auth.reason === 'stale-nonce'),
      });
    }
    if (pkg.kind === 'package1' && req.route.kind === 'session') {
      log.warn({ deviceId: devId }, 'DM 2.0 Package#1 sent to a session URI');
      return text(400, 'a Package#1 opens a session: POST it to /dm2');
    }
    if (pkg.kind === 'package3' && req.route.kind === 'report') {
      log.warn({ deviceId: devId }, 'DM 2.0 Package#3 sent to a report URI');
      return text(400, 'a Package#3 goes to the session URI given by CONT');
    }

    const owner = crypto.randomBytes(12).toString('base64url');
    if (!(await this.lock(devId, owner))) {
      log.warn({ deviceId: devId }, 'DM 2.0 message waited too long for the one before it');
      return text(503, 'another message of this device is being served; retry', { 'retry-after': '1' });
    }
    try {
      return pkg.kind === 'package1'
        ? await this.servePackage1(req, device, pkg, now)
        : await this.servePackage3(req, device, pkg, now);
    } finally {
      this.deps.sessions.release(devId, owner).catch((err: unknown) => log.warn({ err, deviceId: devId }, 'could not release a DM message lock'));
    }
  }

  private async servePackage1(req: Dm2Request, device: Dm2Device, pkg: ClientPackage & { kind: 'package1' }, now: number): Promise<Dm2Response> {
    const deviceId = device.auth.deviceId;
    const correlator = req.route.kind === 'report' ? req.route.correlator : undefined;
    const opened = openSession(deviceId, pkg, now, correlator);
    if (isRefusal(opened)) return this.refuse(deviceId, opened);
    const token = crypto.randomBytes(16).toString('base64url');
    let queued = await this.deps.queue.pendingWithSent(deviceId);
    // Requests another session sent and never had answered: their requesters decide (lost-requests.ts).
    const lost = queued.requests.filter((r) => {
      const sentIn = queued.sentIn.get(r.requestId);
      return sentIn !== undefined && sentIn !== token;
    });
    // A session that will stay open takes a place among the open ones first; refused, nothing has happened.
    let holdsPlace = false;
    // It stays open when it has something to send: queued requests, lost ones to settle, or the
    // DevInfo/DevDetail questions for a device of unknown model.
    const opening = lost.length > 0 || sendable(queued, token).length > 0 || device.devInfo?.detail === undefined;
    if (opening && this.deps.maxSessions > 0) {
      holdsPlace = await this.deps.sessions.admit(token, this.deps.maxSessions, this.deps.sessionTtlSeconds);
      if (!holdsPlace) {
        this.deps.logger.warn({ deviceId, maxSessions: this.deps.maxSessions }, 'DM 2.0 session refused: DM_MAX_SESSIONS sessions are open');
        return text(503, 'too many DM sessions are open; retry later', { 'retry-after': String(10 + Math.floor(Math.random() * 20)) });
      }
    }
    try {
      this.logEffects(opened.effects);
      await applyEffects(opened.effects, device, now, true, this.deps, true);
      if (lost.length > 0) {
        this.deps.logger.warn({ deviceId, requestIds: lost.map((r) => r.requestId) }, 'requests sent in a session that ended without their answer');
        await reportLost(deviceId, lost.map((r) => r.requestId), now, this.withFactsOf(queued.requests), true);
      }
      // Read again: the alerts and lost requests may have had their consumers queue more.
      if (lost.length > 0 || opened.effects.some((e) => e.type === 'generic-alert')) queued = await this.deps.queue.pendingWithSent(deviceId);
      const reply = await this.continueWith(req, opened.state, queued, token, device, now, true);
      if (!reply.closed && !holdsPlace && this.deps.maxSessions > 0) {
        // Opened by what the alerts queued: counted now (never refused here: its effects are applied).
        holdsPlace = await this.deps.sessions.admit(token, Number.MAX_SAFE_INTEGER, this.deps.sessionTtlSeconds);
      }
      if (!reply.closed) holdsPlace = false;
      return reply.response;
    } finally {
      if (holdsPlace) this.leave(token);
    }
  }

  private async servePackage3(req: Dm2Request, device: Dm2Device, pkg: ClientPackage & { kind: 'package3' }, now: number): Promise<Dm2Response> {
    const deviceId = device.auth.deviceId;
    const token = req.route.kind === 'session' ? req.route.token : await this.deps.sessions.lookup(deviceId, SESSION_BINDING_ID);
    const stored = token === undefined ? undefined : await this.deps.sessions.load(token);
    const prior = stored === undefined ? undefined : deserializeDm2State(stored);
    if (token === undefined || prior === undefined) {
      this.deps.logger.warn({ deviceId }, 'DM 2.0 Package#3 for no open session');
      return text(404, 'no such DM 2.0 session: open one with a Package#1');
    }
    if (prior.deviceId !== deviceId) {
      // The OMADM-DevID (authenticated) is not the session's device: a session URI is no credential.
      this.deps.logger.warn({ deviceId, sessionDevice: prior.deviceId }, 'DM 2.0 Package#3 whose OMADM-DevID is not the session\'s device');
      return text(403, 'OMADM-DevID does not match the session');
    }
    const pkgNo = req.route.kind === 'session' ? req.route.pkg : undefined;
    const digest = crypto.createHash('sha256').update(req.body).digest('base64url');
    const last = prior.lastAnswer;
    // Only a client that POSTs to the CONT URI says which Package#2 it answers; without that, two
    // equal Package#3s of successive packages could not be told from a resend.
    if (last !== undefined && pkgNo !== undefined && pkgNo === last.pkg && digest === last.digest) {
      // The same Package#3 again: its answer was lost. Answered as before, nothing applied twice.
      this.deps.logger.info({ deviceId, pkg: last.pkg }, 'DM 2.0 Package#3 sent again: the stored answer is repeated');
      return package2(last.commands);
    }
    if (pkgNo !== undefined && pkgNo !== prior.packages) {
      this.deps.logger.warn({ deviceId, pkg: pkgNo, current: prior.packages }, 'DM 2.0 Package#3 answers an earlier Package#2');
      return text(409, `this Package#3 answers Package#2 number ${pkgNo}; the session is at ${prior.packages}`);
    }
    // What the client HPOSTed for the commands this Package#3 answers (I/O, so read before the pure step).
    const uploads = new Map<string, { body: Buffer; type: string }>();
    if (pkg.statuses.length === prior.awaiting.length) {
      for (const [i, awaited] of prior.awaiting.entries()) {
        if ('control' in awaited || awaited.via !== 'HPOST') continue;
        const sc = pkg.statuses[i]!.sc;
        if (sc < 200 || sc >= 300) continue;
        const sent = await this.deps.uploads.take(deviceId, awaited.requestId, awaited.index);
        if (sent) uploads.set(uploadKey(awaited.requestId, awaited.index), sent);
      }
    }
    const absorbed = absorbPackage3(prior, pkg, now, uploads);
    if (isRefusal(absorbed)) return this.refuse(deviceId, absorbed);
    this.logEffects(absorbed.effects);
    await applyEffects(absorbed.effects, device, now, true, { ...this.deps, factsOf: (requestId) => trackedFacts(absorbed.state, requestId) }, true);
    const queued = await this.deps.queue.pendingWithSent(deviceId);
    const reply = await this.continueWith(req, absorbed.state, queued, token, device, now, false, { pkg: prior.packages, digest });
    if (reply.closed) this.leave(token);
    else if (this.deps.maxSessions > 0) {
      this.deps.sessions.touch(token, this.deps.sessionTtlSeconds).catch(() => undefined);
    }
    return reply.response;
  }

  /** Builds, records and answers the next Package#2 (commands + CONT, or END). */
  private async continueWith(
    req: Dm2Request,
    state: Dm2SessionState,
    queued: PendingRequests,
    token: string,
    device: Dm2Device,
    now: number,
    fresh: boolean,
    /** The Package#3 this answers, remembered with the answer (see Dm2SessionState.lastAnswer). */
    answering?: { pkg: number; digest: string },
  ): Promise<{ response: Dm2Response; closed: boolean }> {
    const deviceId = device.auth.deviceId;
    let requests = sendable(queued, token);
    if (requests.length > 0 && req.clientGone?.() === true) {
      // Its Package#3s, alerts and uploads still count (applied above); what would go out now waits.
      this.deps.logger.info(
        { deviceId, requestIds: requests.map((r) => r.requestId) },
        'DM 2.0 package served after its client closed the connection: its queued requests wait for the next session',
      );
      requests = [];
    }
    const next = nextPackage(state, requests, this.urls(deviceId, token, now), now, device.devInfo?.detail === undefined);
    if (answering !== undefined) next.state.lastAnswer = { ...answering, commands: next.commands };
    this.logEffects(next.effects);
    // Its outcomes are the requests it refused, as queued.
    await applyEffects(next.effects, device, now, true, this.withFactsOf(requests));
    const closed = next.state.closed;
    if (!closed || !fresh) {
      // A session ended in the message that opened it stores nothing (as DM 1.2's one-message sessions);
      // one that ends later keeps its closed state until it lapses, so a late Package#3 is told so.
      const taken = next.effects.flatMap((e) => (e.type === 'requests-taken' ? e.requestIds : []));
      await Promise.all([
        this.deps.sessions.saveAndBind(token, serializeDm2State(next.state), this.deps.sessionTtlSeconds, fresh ? { deviceId, sessionId: SESSION_BINDING_ID } : undefined),
        taken.length > 0 ? this.deps.queue.markSent(deviceId, taken, token) : Promise.resolve(),
      ]);
    }
    return { response: package2(next.commands), closed };
  }

  /** The effect appliers' deps, with the facts of these queued requests handed back with their outcomes. */
  private withFactsOf(queued: readonly ServerCommandRequest[]): Dm2ServerDeps & { factsOf: (requestId: string) => RequestFacts | undefined } {
    return { ...this.deps, factsOf: (requestId) => queued.find((r) => r.requestId === requestId)?.facts };
  }

  private urls(deviceId: string, token: string, now: number): CommandUrls & { sessionUrl: string; uploadUrl: (requestId: string, index: number) => string } {
    const base = this.deps.dm2Url;
    const expiresAt = now + this.deps.linkTtlMs;
    return {
      sessionUrl: `${base}/${SESSION_SEGMENT}/${token}`,
      dataUrl: (requestId, index) => this.deps.links.url({ deviceId, requestId, index, expiresAt }),
      uploadUrl: (requestId, index) => this.deps.uploadLinks.url({ deviceId, requestId, index, expiresAt }),
      reportUrl: (correlator) => `${base}/${REPORT_SEGMENT}/${encodeURIComponent(correlator)}`,
    };
  }

  private refuse(deviceId: string, refusal: Dm2Refusal): Dm2Response {
    this.deps.logger.warn({ deviceId, reason: refusal.reason }, 'refused a DM 2.0 package');
    return text(refusal.status, refusal.reason);
  }

  private leave(token: string): void {
    if (this.deps.maxSessions <= 0) return;
    this.deps.sessions.leave(token).catch((err: unknown) => this.deps.logger.warn({ err }, 'could not take a DM session off the open ones (it lapses by itself)'));
  }

  private async lock(deviceId: string, owner: string): Promise<boolean> {
    const giveUpAt = Date.now() + MESSAGE_LOCK_MS;
    for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
      if (await this.deps.sessions.claim(deviceId, owner, MESSAGE_LOCK_MS)) return true;
      if (Date.now() >= giveUpAt) return false;
      await new Promise((r) => setTimeout(r, pause));
    }
  }

  private logEffects(effects: SessionEffect[]): void {
    for (const e of effects) {
      if (e.type === 'request-rejected') this.deps.logger.warn({ ...e }, 'DM 2.0 request-rejected');
      else if (e.type === 'session-started' || e.type === 'session-ended') this.deps.logger.debug({ ...e }, `DM 2.0 ${e.type}`);
    }
  }
}

/** Queued requests this session may send: none another session sent without an answer. */
function sendable(queued: PendingRequests, token: string): ServerCommandRequest[] {
  return queued.requests.filter((r) => {
    const sentIn = queued.sentIn.get(r.requestId);
    return sentIn === undefined || sentIn === token;
  });
}

function package2(commands: Dm2Command[]): Dm2Response {
  return { status: 200, contentType: PACKAGE2_CONTENT_TYPE, body: encodePackage2(commands), headers: {} };
}

function isRefusal<T extends object>(v: T | Dm2Refusal): v is Dm2Refusal {
  return 'reason' in v && 'status' in v && !('effects' in v);
}
