/**
 * The DM server: one client message in, one reply out. Decodes the message,
 * finds the session (by RespURI token, or by device and SessionID), runs the
 * pure session engine with the device's account and queued requests, applies
 * the effects (nonces, DevInfo, outcomes, alerts) and stores the new state
 * before answering, so any gateway process can serve the session's next
 * message. Knows nothing of HTTP frameworks or SOAP.
 */
import type { Logger } from 'pino';
import { SyncMlDecodeError } from '../codec/errors.js';
import { contentTypeFor, dataText, encodedSize, encodeSyncMl, parseSyncMl } from '../codec/index.js';
import type { SyncMlEncoding, SyncMlMessage } from '../codec/types.js';
import type { SessionEndReason } from '../session/effects.js';
import {
  DEVDETAIL_REQUEST_ID,
  deserializeSessionState,
  handleClientMessage,
  type SessionContext,
  type SessionEffect,
  type SessionState,
  type SessionStepResult,
  serializeSessionState,
  signReply,
} from '../session/index.js';
import type { RequestFacts, ServerCommandRequest } from '../session/server-commands.js';
import { applyEffects } from './effects.js';
import { type DeviceGuard, guardRejects } from './guard.js';
import { newlySent, reportLost, splitLost } from './lost-requests.js';
import { MessagesInFlight } from './messages-in-flight.js';
import { RESYNC_NONCE } from '../notification/package0.js';
import type { DeviceRequestQueue, DmDevice, DmDeviceDirectory, DmEventSink, DmSessionStore, PendingRequests, ResyncOffers } from './ports.js';
import { RandomPool } from './random-pool.js';
import { SessionDeviceViews, trackingContact } from './session-device-views.js';

export interface DmServerDeps {
  devices: DmDeviceDirectory;
  sessions: DmSessionStore;
  queue: DeviceRequestQueue;
  events: DmEventSink;
  /** The triggers signed with the resync nonce whose sessions may authenticate on it (notes §4). */
  resyncOffers: ResyncOffers;
  logger: Logger;
  clock: { now(): number };
  /** Our URL (PUBLIC_DM_URL): Source of every reply, base of RespURIs. */
  serverUri: string;
  serverId: string;
  sessionTtlSeconds: number;
  maxMsgSize: number;
  /** Open sessions allowed at once, cluster-wide (DM_MAX_SESSIONS); 0: no cap. */
  maxSessions: number;
  /** Counts sessions as they start and end (Prometheus). */
  metrics?: DmSessionMetrics;
}

/** Sessions started and ended; a counter or histogram observation each, nothing per device. */
export interface DmSessionMetrics {
  started(): void;
  /** `seconds`: from the session's first authenticated message to this one (0 for a one-message session). */
  ended(reason: SessionEndReason, seconds: number): void;
  /** A session refused before it started: the device is not registered, or DM_MAX_SESSIONS are open. */
  refused(reason: 'unknown-device' | 'too-many-sessions'): void;
}

export interface DmRequest {
  body: Buffer;
  contentType: string;
  /** The x-syncml-hmac header, when sent. */
  hmacHeader?: string;
  /** The session token from the RespURI path, when the client used it. */
  token?: string;
  /**
   * Whether the client has closed its connection, so that no reply to this
   * message can reach it. Under overload a message may be served long after
   * its client gave up (a device's 30 s timeout); new requests taken into
   * that session would go out in a reply nobody reads, and come back as lost
   * (a probe and a second wake for a SingleShotExec).
   */
  clientGone?: () => boolean;
}

export interface DmResponse {
  status: number;
  contentType: string;
  body: Buffer;
  headers: Record<string, string>;
}

/** A queued request the device may not take (acceptDevicePolicy), and why. */
interface RefusedRequest {
  requestId: string;
  why: string;
  facts?: RequestFacts;
}

const text = (status: number, message: string): DmResponse => ({
  status,
  contentType: 'text/plain; charset=utf-8',
  body: Buffer.from(`${message}\n`),
  headers: {},
});

/**
 * How long one message may hold its device's lock: far above a message's
 * serving time (milliseconds; seconds under a 100k-device load), below a DM
 * client's HTTP timeout. Also how long a message waits for the one before
 * it, and how long a device waits after a gateway died serving it.
 */
const MESSAGE_LOCK_MS = 10_000;

/** At most one log line per this long about new sessions refused at the cap: a storm would otherwise flood the log. */
const REFUSAL_LOG_MS = 10_000;

export class DmServer {
  /** Session tokens and nonces (≥128 bits each, as `newNonce` in src/dm/auth/credentials.ts), without a syscall each. */
  private readonly random = new RandomPool();

  private readonly inFlight = new MessagesInFlight();
  /** Each session's device account as this process's last message of it left it (see SessionDeviceViews). */
  private readonly views = new SessionDeviceViews();
  private refusedUnlogged = 0;
  private refusalLoggedAt = 0;

  constructor(private readonly deps: DmServerDeps) {}

  handle(req: DmRequest): Promise<DmResponse> {
    return this.inFlight.serve(() => this.handleMessage(req));
  }

  /**
   * Resolves once no message is being served (or after `timeoutMs`). A
   * gateway shutting down waits for it before closing its database and
   * Redis: a message cut off half-way would leave its device's lock to
   * lapse, and its device waiting that long.
   */
  idle(timeoutMs: number): Promise<void> {
    return this.inFlight.idle(timeoutMs);
  }

  private async handleMessage(req: DmRequest): Promise<DmResponse> {
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
    const owner = this.newToken();
    // The session's reads must see every write of the message served before
    // it (made before that one's release), so they follow the claim. The
    // queue read goes out right behind the claim, in the same Redis pipeline:
    // its keys share the lock's hash slot, so Redis runs it after the claim
    // (same node, same connection, in order) and a granted claim makes it
    // current; refused, it is dropped and read again once the lock is ours.
    // That saves each message a Redis round trip and a pipeline write. The
    // session state (another slot) and the registry are read once the claim
    // is granted.
    const claimed = this.deps.sessions.claim(deviceId, owner, MESSAGE_LOCK_MS);
    let queued = this.deps.queue.pendingWithSent(deviceId);
    // Marked handled now: awaited only once the claim is granted, and dropped when it is not.
    queued.catch(() => undefined);
    if (!(await claimed)) {
      // Checked before waiting: a message with bad credentials never queues
      // behind the lock (see `answerUnauthenticated`).
      const refusal = await this.answerUnauthenticated(req, message, encoding, deviceId);
      if (refusal !== undefined) return refusal;
      if (!(await this.awaitLock(deviceId, owner))) {
        this.deps.logger.warn({ deviceId, msgId: message.header.msgId }, 'DM message waited too long for the one before it');
        return { ...text(503, 'another message of this device is being served; retry'), headers: { 'retry-after': '1' } };
      }
      queued = this.deps.queue.pendingWithSent(deviceId);
    }
    try {
      return await this.serve(req, message, encoding, deviceId, queued);
    } finally {
      // Not awaited: it goes out in this turn's Redis pipeline, behind the
      // state write, before the reply can reach the device; the reply need
      // not wait for its answer.
      this.deps.sessions.release(deviceId, owner).catch((err: unknown) => {
        // It lapses by itself: the device's next message waits at most MESSAGE_LOCK_MS.
        this.deps.logger.warn({ err, deviceId }, 'could not release a DM message lock');
      });
    }
  }

  /**
   * The answer to a session's first message (MsgID 1, no RespURI token) that
   * the engine refuses with nothing to store or write (bad or missing
   * credentials: 401/407 with Chal; an unknown device: 403; no Alert 1200/1201:
   * 400), served without the device's lock; undefined for any other message,
   * which waits for the lock. Called only when the lock is taken: a flood of
   * such messages naming a device whose real messages are being served then
   * costs each one a registry read, and never a wait in the queue for the
   * lock, which would delay the device's own messages behind them. The read
   * may precede the writes of the message holding the lock; that can only
   * make the Chal carry a nonce just replaced (the device retries once more),
   * never admit anyone: a message that passes is served under the lock, on a
   * fresh read. (One that finds the lock free takes it, for its own message
   * only: whether it authenticates is known only from a read made under the
   * lock, and reading before the claim would cost every message a second
   * registry read.)
   */
  private async answerUnauthenticated(
    req: DmRequest,
    message: SyncMlMessage,
    encoding: SyncMlEncoding,
    deviceId: string,
  ): Promise<DmResponse | undefined> {
    if (req.token !== undefined || message.header.msgId !== 1) return undefined;
    const device = await this.deps.devices.get(deviceId);
    const step = handleClientMessage(undefined, message, this.stepContext(req, device, this.newToken(), [], encoding));
    if (step.state !== undefined || step.effects.some((e) => e.type === 'client-nonce-issued')) return undefined;
    this.logEffects(step.effects);
    this.countSessions(step.effects, undefined, 0);
    return this.reply(step, encoding);
  }

  /** A copy of a message (or a message of the same device) is being served: wait for it, then take the lock. */
  private async awaitLock(deviceId: string, owner: string): Promise<boolean> {
    const giveUpAt = Date.now() + MESSAGE_LOCK_MS;
    for (let pause = 5; Date.now() < giveUpAt; pause = Math.min(pause * 2, 100)) {
      await new Promise((r) => setTimeout(r, pause));
      if (await this.deps.sessions.claim(deviceId, owner, MESSAGE_LOCK_MS)) return true;
    }
    return false;
  }

  private async serve(
    req: DmRequest,
    message: SyncMlMessage,
    encoding: SyncMlEncoding,
    deviceId: string,
    queuedRead: Promise<PendingRequests>,
  ): Promise<DmResponse> {
    // A client that ignores RespURI is found again by device and SessionID, but only for a message
    // that continues a session (MsgID > 1): a new session may reuse an old SessionID.
    const continuing = message.header.msgId > 1;
    // The registry read (SQLite) and the session state read (Redis, for a
    // message that names its session) do not depend on each other: started
    // together, the Redis round trip overlaps the registry read. The queue
    // was read with the lock claim (handleMessage), even for a device that
    // turns out unknown (then ignored). A new session's first message thus
    // waits on one Redis round trip before the engine runs, and one that
    // completes the session on none after it but the gate's release.
    // A continuing message whose session's last message this process served reads no registry row:
    // the session's device view, used once the stored state shows no other process served it since.
    const viewed = continuing && this.views.has(deviceId);
    const [deviceRead, queuedFirst, session, resyncOffered] = await Promise.all([
      viewed ? undefined : this.deps.devices.get(deviceId),
      queuedRead,
      this.findSession(req.token, deviceId, message.header.sessionId, continuing),
      this.answersResyncTrigger(req, message, deviceId),
    ]);
    const device = viewed
      ? (this.views.take(deviceId, session.token, session.stored, this.deps.clock.now()) ?? (await this.deps.devices.get(deviceId)))
      : deviceRead;
    if (device?.dmVersion === '2.0') {
      // Its capability says DM 2.0: its commands go out as DM 2.0 at /dm2, never silently as DM 1.2.
      this.deps.logger.warn({ deviceId }, 'DM 1.2 message from a device whose capability is DM 2.0: refused (served at /dm2)');
      return text(403, 'this device speaks DM 2.0 (its capability says so): it is served at /dm2');
    }
    // Read again when this message's outcomes and alerts have queued requests in answer.
    let queued = queuedFirst;
    // Every read of the queue in this message: where the requests' correlation ids and facts are found.
    const reads: PendingRequests[] = [queuedFirst];
    // The account as this message's contact writes leave it: the view its session's next message may use.
    const contact = trackingContact(this.deps.devices, device);
    const effectDeps = {
      devices: contact.devices,
      queue: this.deps.queue,
      events: this.deps.events,
      correlationOf: (requestId: string) => queuedIn(reads, requestId)?.correlationId,
      factsOf: (requestId: string) => queuedIn(reads, requestId)?.facts,
    };
    const { token, stored } = session;
    // Whether a new session holds a place among the open ones: taken below once
    // the step shows the session stays open, given back when it stores no
    // state, or ends, or this message fails.
    let holdsPlace = false;
    try {
      let state: SessionState | undefined;
      try {
        state = stored ? deserializeSessionState(stored) : undefined;
      } catch (err) {
        // Neither the token (it is the session's RespURI credential) nor the parser's
        // message (it quotes the stored state, nonces included) goes into the log.
        this.deps.logger.error({ deviceId, error: (err as Error).name }, 'stored DM session state is unreadable; starting afresh');
      }
      const now = this.deps.clock.now();
      // The step is pure, so it may be run again on the same message once the queue has changed; the
      // nonces it draws are replayed, so each run is the same but for the requests it takes.
      const nonces = replayedNonces(() => this.random.bytes(16));
      const stepWith = (pending: PendingRequests) => {
        const split = splitLost(pending, token, state);
        const { lost } = split;
        // A client that hung up takes no queued request: the message's results and alerts still count
        // (they are the device's), but what it would be sent now stays queued, unsent, for its next session.
        const sendable = split.sendable.length > 0 && req.clientGone?.() === true ? this.withheld(deviceId, split.sendable) : split.sendable;
        const guarded = device ? this.admissible(message, sendable, device.devInfo?.devId) : { admitted: [], refused: [] };
        nonces.rewind();
        const ctx = this.stepContext(req, device, token, guarded.admitted, encoding, now, nonces.next);
        let step = handleClientMessage(state, message, resyncOffered ? { ...ctx, resyncNonce: RESYNC_NONCE } : ctx);
        if (resyncOffered && step.state !== undefined && endsWhereItOpened(step.state, message, req.token)) {
          // A client in resync hands us its new server nonce in its next message (a Chal in its header
          // Status), even after our Final with nothing in it; a session that ends in its first message keeps
          // no state to take it (400). So such a session is challenged instead, as before resync credentials
          // were taken: the client's resent Pkg1 carries the nonce, and the session ends there.
          nonces.rewind();
          step = handleClientMessage(state, message, ctx);
        }
        return { step, lost, guarded };
      };
      let { step, lost, guarded } = stepWith(queued);
      // The step is pure: a session refused here leaves nothing behind. Only
      // a session that stays open after this message takes a place; one that
      // opens and ends in it (a check-in, a report) is never open between
      // messages, so it neither counts nor is refused.
      const admit = async (opening: boolean): Promise<boolean> => {
        if (!session.fresh || this.deps.maxSessions <= 0 || !opening || holdsPlace) return true;
        holdsPlace = await this.deps.sessions.admit(token, this.deps.maxSessions, this.deps.sessionTtlSeconds);
        return holdsPlace;
      };
      // Only the device itself, in the message that opens its new session (the first it authenticates),
      // settles them: a message replayed to an old session's RespURI carries no proof of that. Their
      // requesters answer at once (a SingleShotExec's probe), and this message's reply carries that.
      if (lost.length > 0 && step.effects.some((e) => e.type === 'session-started')) {
        if (!(await admit(true))) return this.refuseNewSession(deviceId, message.header.sessionId);
        this.deps.logger.warn({ deviceId, requestIds: lost }, 'requests sent in a session that ended without their answer');
        await reportLost(deviceId, lost, now, effectDeps, takesFollowUps(step.state));
        queued = await this.deps.queue.pendingWithSent(deviceId);
        reads.push(queued);
        ({ step, guarded } = stepWith(queued));
      }
      if (!(await admit(step.state !== undefined && !step.closed))) {
        return this.refuseNewSession(deviceId, message.header.sessionId);
      }
      this.logEffects(step.effects);
      // The trigger's invitation is answered once: a later message naming its session id (a replay of the
      // same fixed credential among them) is challenged with the device's own nonce.
      if (resyncOffered && step.effects.some(answersResyncOffer)) await this.deps.resyncOffers.answered(deviceId);
      // Only a sender that proved to be the device decides its guarded requests
      // by the DevId it reports: an unauthenticated message may claim any DevId.
      // Otherwise they stay queued, to be decided in the device's own session.
      if (step.state?.auth.authenticated === true) await this.refuseGuarded(deviceId, guarded.refused, now);
      // Effects first, state second: if applying fails the client gets an
      // error, retries the same message, and the engine replays it. The
      // session's end waits until it is known whether what the outcomes and
      // alerts had queued in answer goes out in this reply. Only a message
      // that proved to be the device records contact: a failed one could
      // otherwise fake the liveness of any device whose id is known.
      const authenticated = step.state?.auth.authenticated === true;
      const ending = step.effects.filter((e) => e.type === 'session-ended');
      // Before the effects: the lines of the requesters handling them follow.
      this.logRequests(deviceId, step.effects, effectDeps.correlationOf);
      // Read again only when the results queued something here, or the read saw only part of the queue.
      const enqueues = this.deps.queue.watchEnqueues(deviceId);
      try {
        await applyEffects(step.effects.filter((e) => e.type !== 'session-ended'), device, now, authenticated, effectDeps, takesFollowUps(step.state));
      } finally {
        enqueues.stop();
      }
      const mayHaveMore = enqueues.enqueued() || queued.more === true;
      if (ending.length > 0 && step.state?.endReason === 'completed' && step.effects.some(invitesFollowUp) && mayHaveMore) {
        const again = await this.deps.queue.pendingWithSent(deviceId);
        reads.push(again);
        const next = stepWith(again);
        if (next.step.state !== undefined && !next.step.closed && (await admit(true))) {
          if (next.step.state.auth.authenticated === true) await this.refuseGuarded(deviceId, next.guarded.refused, now);
          // The same step but for the requests it took: only those effects are new.
          const taken = next.step.effects.filter((e) => e.type === 'requests-taken' || e.type === 'request-rejected');
          this.logRequests(deviceId, taken, effectDeps.correlationOf);
          await applyEffects(taken, device, now, authenticated, effectDeps);
          step = next.step;
          queued = again;
        }
      }
      if (step.closed && holdsPlace && session.fresh) {
        this.leaveOpenSessions(token);
        holdsPlace = false;
      }
      // Counted once the step is final: a session that ended for want of work, then took what its
      // outcomes queued in answer (the step run again above), did not end.
      this.countSessions(step.effects, step.state, now);
      await applyEffects(step.effects.filter((e) => e.type === 'session-ended'), device, now, authenticated, effectDeps);
      if (step.state && !endsWhereItOpened(step.state, message, req.token)) {
        const ttl = this.deps.sessionTtlSeconds;
        const serialized = serializeSessionState(step.state);
        // The (device, SessionID) index is written when the session starts and
        // refreshed by every message that arrives without the RespURI token (the
        // clients that need it); a client on its RespURI needs no rewrite of it.
        const rebind = session.fresh || req.token === undefined;
        const binding = { deviceId, sessionId: message.header.sessionId };
        // Issued before the save, so in the same Redis pipeline: the count of
        // open sessions costs a message of an open session no round trip.
        if (this.deps.maxSessions > 0) {
          if (step.closed) {
            if (!session.fresh) this.leaveOpenSessions(token);
          } else if (!session.fresh) {
            this.touchOpenSession(token);
          }
        }
        // The marks go with the state, before the reply can carry the requests to the device.
        await Promise.all([
          this.deps.sessions.saveAndBind(token, serialized, ttl, rebind ? binding : undefined),
          this.deps.queue.markSent(deviceId, newlySent(step.state, queued, token), token),
        ]);
        holdsPlace = false;
        const view = contact.view();
        if (view !== undefined && !step.closed) this.views.keep(deviceId, { token, state: serialized, device: view, until: now + ttl * 1000 });
      }
      return this.reply(step, encoding);
    } finally {
      if (holdsPlace) this.leaveOpenSessions(token);
    }
  }

  /**
   * Whether this message opens the session a resync-signed trigger invited: Pkg1 of a server-initiated
   * session (Alert 1200), not on a RespURI, whose SessionID is the trigger's. Other messages cost no read.
   */
  private async answersResyncTrigger(req: DmRequest, message: SyncMlMessage, deviceId: string): Promise<boolean> {
    if (req.token !== undefined || message.header.msgId !== 1) return false;
    if (!message.body.some((c) => c.kind === 'Alert' && c.data === 1200)) return false;
    const sessionId = triggerSessionId(message.header.sessionId);
    return sessionId !== undefined && this.deps.resyncOffers.offered(deviceId, sessionId);
  }

  /** Logs the requests a message of a client that hung up does not take; none go out. */
  private withheld(deviceId: string, requests: ServerCommandRequest[]): ServerCommandRequest[] {
    this.deps.logger.info(
      { deviceId, requestIds: requests.map((r) => r.requestId) },
      'DM message served after its client closed the connection: its queued requests wait for the next session',
    );
    return [];
  }

  private stepContext(
    req: DmRequest,
    device: DmDevice | undefined,
    token: string,
    pending: ServerCommandRequest[],
    encoding: SyncMlEncoding,
    now = this.deps.clock.now(),
    newNonce: SessionContext['newNonce'] = () => {
      const bytes = this.random.bytes(16);
      return { bytes, b64: bytes.toString('base64') };
    },
  ): SessionContext {
    return {
      device: device?.auth,
      now,
      newNonce,
      ...(device?.auth.authType === 'hmac' ? { hmac: { header: req.hmacHeader, body: req.body } } : {}),
      serverUri: this.deps.serverUri,
      respUri: `${this.deps.serverUri}/s/${token}`,
      pending,
      modelUnknown: device !== undefined && device.devInfo?.detail === undefined,
      encoding,
      sizeOf: (m) => encodedSize(m, encoding),
      limits: { maxMsgSize: this.deps.maxMsgSize },
    };
  }

  private reply(step: SessionStepResult, encoding: SyncMlEncoding): DmResponse {
    const body = encodeSyncMl(step.reply, encoding);
    const headers: Record<string, string> = {};
    if (step.replySigner) headers['x-syncml-hmac'] = signReply(step.replySigner, body);
    return { status: 200, contentType: contentTypeFor(encoding), body, headers };
  }

  /**
   * The queued requests this device may take, and those it may not: a
   * request guarded by an acceptDevicePolicy is checked against the DevId the
   * device reports (in this message, or as last stored). Decides only; the
   * refused ones are ended by `refuseGuarded` once the message is admitted
   * and its sender authenticated.
   */
  private admissible(
    message: SyncMlMessage,
    pending: ServerCommandRequest[],
    storedDevId: string | undefined,
  ): { admitted: ServerCommandRequest[]; refused: RefusedRequest[] } {
    const queued = pending as (ServerCommandRequest & { guard?: DeviceGuard })[];
    const reported = reportedDevId(message) ?? storedDevId;
    const refused: RefusedRequest[] = [];
    const admitted: ServerCommandRequest[] = [];
    for (const request of queued) {
      const why = request.guard ? guardRejects(request.guard, reported) : undefined;
      if (why) refused.push({ requestId: request.requestId, why, ...(request.facts !== undefined ? { facts: request.facts } : {}) });
      else admitted.push(request);
    }
    return { admitted, refused };
  }

  /** A refused request ends as rejected and never reaches the device. */
  private async refuseGuarded(deviceId: string, refused: RefusedRequest[], now: number): Promise<void> {
    if (refused.length === 0) return;
    for (const { requestId, why, facts } of refused) {
      this.deps.logger.warn({ deviceId, requestId, why }, 'request refused by device policy');
      await this.deps.events.commandOutcome({ deviceId, requestId, at: now, outcome: 'rejected', results: [], reason: why, ...(facts !== undefined ? { facts } : {}) });
    }
    await this.deps.queue.remove(
      deviceId,
      refused.map((r) => r.requestId),
    );
  }

  /**
   * The session's token and stored state: the RespURI token, else (for a
   * message continuing a session) the one bound to device and SessionID, else
   * a new token, which names no state yet, so it is not looked up (one Redis
   * GET less for every new session). A token that names no state is not kept.
   */
  private async findSession(
    given: string | undefined,
    deviceId: string,
    sessionId: string,
    continuing: boolean,
  ): Promise<{ token: string; stored: string | undefined; fresh: boolean }> {
    const token = given ?? (continuing ? await this.deps.sessions.lookup(deviceId, sessionId) : undefined);
    const stored = token === undefined ? undefined : await this.deps.sessions.load(token);
    if (token !== undefined && stored !== undefined) return { token, stored, fresh: false };
    // No state under it (a retry after a 401/407, which stores none; or a
    // lapsed session): whatever starts here is a new session, with a new
    // token, that takes a place among the open ones like any other.
    return { token: this.newToken(), stored: undefined, fresh: true };
  }

  /** 503 with Retry-After to a message that would start a session beyond DM_MAX_SESSIONS: no state, no effects. */
  private refuseNewSession(deviceId: string, sessionId: string): DmResponse {
    this.deps.metrics?.refused('too-many-sessions');
    this.refusedUnlogged += 1;
    const now = Date.now();
    if (now - this.refusalLoggedAt >= REFUSAL_LOG_MS) {
      this.deps.logger.warn(
        { deviceId, sessionId, refused: this.refusedUnlogged, maxSessions: this.deps.maxSessions },
        'DM sessions refused: DM_MAX_SESSIONS sessions are open',
      );
      this.refusedUnlogged = 0;
      this.refusalLoggedAt = now;
    }
    // Spread over 10-29 s: devices refused together by a storm would otherwise come back together.
    const retryAfter = String(10 + Math.floor(Math.random() * 20));
    return { ...text(503, 'too many DM sessions are open; retry later'), headers: { 'retry-after': retryAfter } };
  }

  /** Not awaited: an open session lapses from the count by itself after DM_SESSION_TTL_SECONDS. */
  private leaveOpenSessions(token: string): void {
    this.deps.sessions.leave(token).catch((err: unknown) => {
      this.deps.logger.warn({ err }, 'could not take a DM session off the open ones (it lapses by itself)');
    });
  }

  private touchOpenSession(token: string): void {
    this.deps.sessions.touch(token, this.deps.sessionTtlSeconds).catch((err: unknown) => {
      this.deps.logger.warn({ err }, 'could not extend a DM session among the open ones');
    });
  }

  private newToken(): string {
    return this.random.bytes(16).toString('base64url');
  }

  private countSessions(effects: SessionEffect[], state: SessionState | undefined, now: number): void {
    const metrics = this.deps.metrics;
    if (!metrics) return;
    let ended = false;
    let unknown = false;
    for (const e of effects) {
      if (e.type === 'session-started') metrics.started();
      else if (e.type === 'session-ended') {
        ended = true;
        metrics.ended(e.reason, state ? Math.max(0, now - state.startedAt) / 1000 : 0);
      } else if (e.type === 'unknown-device') unknown = true;
    }
    // A device not (or no longer) registered, answered 403 with no session to end.
    if (unknown && !ended) metrics.refused('unknown-device');
  }

  /**
   * Debug lines about the requests of this message's effects, each with its
   * request's correlation id: a task's trail through the session (taken,
   * answered, lost). Skipped whole when debug is off (the hot path).
   */
  private logRequests(deviceId: string, effects: SessionEffect[], correlationOf: (requestId: string) => string | undefined): void {
    const log = this.deps.logger;
    if (!log.isLevelEnabled('debug')) return;
    for (const e of effects) {
      if (e.type === 'requests-taken') {
        for (const requestId of e.requestIds) {
          log.debug({ deviceId, sessionId: e.sessionId, requestId, correlationId: correlationOf(requestId) }, 'DM request taken into the session');
        }
      } else if (e.type === 'command-result') {
        const statuses = e.results.map((r) => r.status);
        log.debug({ deviceId, sessionId: e.sessionId, requestId: e.requestId, statuses, correlationId: correlationOf(e.requestId) }, 'DM request answered');
      } else if (e.type === 'command-undelivered' && e.delivery !== 'not-sent') {
        log.debug(
          { deviceId, sessionId: e.sessionId, requestId: e.requestId, reason: e.reason, correlationId: correlationOf(e.requestId) },
          'DM request not answered',
        );
      }
    }
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

/** Whether a step answered a resync trigger's invitation: its credentials were accepted or challenged. */
function answersResyncOffer(e: SessionEffect): boolean {
  return e.type === 'session-started' || e.type === 'resync-nonce-used' || e.type === 'auth-challenge' || e.type === 'auth-failed';
}

/**
 * A SyncHdr SessionID as a trigger's session id: the trigger's 16 bits in hex (notes §4). Clients differ in case
 * and in leading zeros ("a3", "00A3"), so it is read as a number.
 */
function triggerSessionId(sessionId: string): number | undefined {
  if (!/^[0-9a-f]{1,4}$/i.test(sessionId)) return undefined;
  const n = Number.parseInt(sessionId, 16);
  return n >= 1 ? n : undefined;
}

/** The request as the latest read of the queue that holds it has it (its correlation id, its facts). */
function queuedIn(reads: PendingRequests[], requestId: string): ServerCommandRequest | undefined {
  for (let i = reads.length - 1; i >= 0; i--) {
    const found = reads[i]!.requests.find((r) => r.requestId === requestId);
    if (found) return found;
  }
  return undefined;
}

/** The same nonces, in the same order, for every run of the step on one message. */
function replayedNonces(draw: () => Buffer): { next: () => { bytes: Buffer; b64: string }; rewind: () => void } {
  const drawn: { bytes: Buffer; b64: string }[] = [];
  let used = 0;
  return {
    next: () => {
      if (used === drawn.length) {
        const bytes = draw();
        drawn.push({ bytes, b64: bytes.toString('base64') });
      }
      return drawn[used++]!;
    },
    rewind: () => {
      used = 0;
    },
  };
}

/**
 * Whether the session takes requests queued in answer to this message: it
 * goes on, or ends here only for want of anything to send (then the step is
 * run again with them). A session ended otherwise (aborted, a failed
 * challenge) takes nothing more.
 */
function takesFollowUps(state: SessionState | undefined): boolean {
  return state !== undefined && (state.phase !== 'closed' || state.endReason === 'completed');
}

/** Effects whose consumers may queue a request in answer that this session takes (see applyEffects): a result, a report. */
function invitesFollowUp(e: SessionEffect): boolean {
  return e.type === 'command-result' || e.type === 'generic-alert';
}

/** DevInfo/DevId from a Package 1 Replace, when this message carries it. */
function reportedDevId(message: SyncMlMessage): string | undefined {
  for (const cmd of message.body) {
    if (cmd.kind !== 'Replace') continue;
    for (const item of cmd.items) {
      if (item.source?.locUri === './DevInfo/DevId' && item.data !== undefined) return dataText(item.data);
    }
  }
  return undefined;
}

/**
 * A session that completed in the message that opened it (MsgID 1 to `/dm`:
 * a device checking in with nothing queued for it) stores no state. Stored,
 * nothing could read it: the client learns the RespURI only from this reply,
 * which told it the session is over, and a retransmission of its message
 * (the reply was lost) comes without a token and with MsgID 1, so it starts
 * a new session in any case. Nothing was sent in it, so no request is
 * marked. Saves the state's serialising and two Redis SETs on the most
 * common message of a fleet in service. Sessions ended otherwise (an auth
 * failure, an abort) keep their state, so a message that follows still gets
 * the closed session's answer.
 */
function endsWhereItOpened(state: SessionState, message: SyncMlMessage, token: string | undefined): boolean {
  return token === undefined && message.header.msgId === 1 && state.phase === 'closed' && state.endReason === 'completed' && state.requests.length === 0;
}
