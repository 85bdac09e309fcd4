/**
 * What the DM server needs from the rest of the gateway, as small interfaces:
 * the device registry, where session state lives between HTTP requests, the
 * per-device request queue, and whoever consumes results and alerts.
 */
import type { DeviceContactPatch, DeviceReportedInfo } from '../../domain/registry.js';
import type { DeviceAuthRecord } from '../session/context.js';
import type { GenericAlertEffect, SessionEndReason, UndeliveredReason } from '../session/effects.js';
import type { CommandResult, RequestFacts, ServerCommandRequest } from '../session/server-commands.js';

export interface DmDevice {
  auth: DeviceAuthRecord;
  notificationUrl?: string;
  smsAddress?: string;
  devInfo?: DeviceReportedInfo;
  /** DM session state: REGISTERED, BOOTSTRAPPING, ACTIVE. */
  state: string;
  /** The DM version its capability declares; '2.0' devices are served at /dm2 only. Absent: 1.2. */
  dmVersion?: '1.2' | '2.0';
}

export interface DmDeviceDirectory {
  get(deviceId: string): Promise<DmDevice | undefined>;
  recordContact(deviceId: string, patch: DeviceContactPatch): Promise<void>;
  /**
   * Records `patch` as recordContact does, around `work` (a message's effects): the directory may write
   * it together with a write the work makes, a round trip less, or else once the work is done. When the
   * work fails the contact may or may not be written, as when it failed before a recordContact after it.
   */
  recordContactAround<T>(deviceId: string, patch: DeviceContactPatch, work: () => Promise<T>): Promise<T>;
}

/**
 * Package#0 triggers we signed with the resync nonce (notes §4), remembered so
 * that the session a device opens in answer may authenticate on that nonce.
 * A credential on it is the same every time (MD5 over a fixed nonce), so it is
 * taken only from a session named by such a trigger's session id, opened while
 * the trigger is recent and before any other message answered it.
 */
export interface ResyncOffers {
  /** A trigger with this session id (1..0xFFFF) is about to go to the device, signed with the resync nonce. */
  offer(deviceId: string, sessionId: number, ttlSeconds: number): Promise<void>;
  /** Whether such a trigger, not yet answered, carried this session id. */
  offered(deviceId: string, sessionId: number): Promise<boolean>;
  /** Its session answered (authenticated or was challenged): the device's offers end. */
  answered(deviceId: string): Promise<void>;
}

/** Where the notifier reads the devices it wakes: one at a time, or a batch's in one read. */
export interface NotifiableDevices {
  get(deviceId: string): Promise<DmDevice | undefined>;
  /** The devices found among `deviceIds`, by id (an unknown one has no entry). */
  getMany(deviceIds: readonly string[]): Promise<Map<string, DmDevice>>;
}

/** Session state by RespURI token, and an index from (device, SessionID) for clients that ignore RespURI. */
export interface DmSessionStore {
  load(token: string): Promise<string | undefined>;
  /**
   * Stores the state, and the (device, SessionID) → token index when
   * `binding` is given, in one round trip (not atomic: the same outcome as
   * two writes in turn).
   */
  saveAndBind(token: string, state: string, ttlSeconds: number, binding?: { deviceId: string; sessionId: string }): Promise<void>;
  lookup(deviceId: string, sessionId: string): Promise<string | undefined>;
  /**
   * Takes the device's message lock for `owner` unless another holder has
   * it; it lapses after `ttlMs` (a process that dies holding it). One
   * message of a device is served at a time, cluster-wide: two copies of a
   * message in flight together (a client retrying after a timeout) would
   * otherwise both act on the state before it.
   */
  claim(deviceId: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lock up if `owner` still holds it. */
  release(deviceId: string, owner: string): Promise<void>;
  /**
   * Counts the session named `token` among the open ones unless `max` are
   * open already (cluster-wide): false then, and nothing changes. It stays
   * counted until `leave`, or until `ttlSeconds` pass without a `touch` (a
   * device that went away mid-session).
   */
  admit(token: string, max: number, ttlSeconds: number): Promise<boolean>;
  /** The session goes on: counted for another `ttlSeconds`. */
  touch(token: string, ttlSeconds: number): Promise<void>;
  /** The session ended: no longer counted. */
  leave(token: string): Promise<void>;
}

/**
 * Requests for a device, kept until they end (result, rejection, or an
 * undelivered outcome that is not "not sent"). Idempotent by requestId, so a
 * retried enqueue never sends a command twice.
 */
export interface DeviceRequestQueue {
  /** false when a request with this id is already queued. */
  enqueue(deviceId: string, request: ServerCommandRequest): Promise<boolean>;
  pending(deviceId: string): Promise<ServerCommandRequest[]>;
  /**
   * The pending requests, and the session each one was sent in (by session
   * token), if any. Called in the same turn right after
   * `DmSessionStore.claim` for the device, it must run after that claim, as
   * the Redis stores do: one connection, one pipeline per turn, the queue's
   * keys in the lock's hash slot. The DM server reads the queue that way, so
   * a granted claim makes the read current.
   */
  pendingWithSent(deviceId: string): Promise<PendingRequests>;
  /**
   * Records that these requests went out in the session named by the token.
   * A later session that finds them still queued knows that their answer was
   * lost with that session (a gateway or a device that died mid-session), so
   * it does not send them again blindly (see lost-requests.ts).
   */
  markSent(deviceId: string, requestIds: string[], sessionToken: string): Promise<void>;
  remove(deviceId: string, requestIds: string[]): Promise<void>;
  /** Removes those of the requests that no session has sent: a sent one stays until its outcome (or its loss) is known. */
  removeUnsent(deviceId: string, requestIds: string[]): Promise<void>;
  /**
   * Notes from now until `stop` whether this process enqueues a request for
   * the device (through this queue). The DM server reads the queue again
   * after a message's results only when one was: results hand their follow-up
   * requests over in this process, awaited, before it looks.
   */
  watchEnqueues(deviceId: string): EnqueueWatch;
}

export interface EnqueueWatch {
  /** Whether a request was enqueued for the device since the watch began. */
  enqueued(): boolean;
  stop(): void;
}

export interface PendingRequests {
  requests: ServerCommandRequest[];
  /** requestId -> token of the session that sent it. */
  sentIn: Map<string, string>;
  /** The queue holds more requests than these (a read sees a window of the oldest). */
  more?: boolean;
}

export interface CommandOutcome {
  deviceId: string;
  requestId: string;
  at: number;
  /** 'completed': every command has its status; otherwise why it did not complete. */
  outcome: 'completed' | 'rejected' | 'undelivered';
  results: CommandResult[];
  containerStatus?: number;
  reason?: string;
  /** For undelivered: whether anything reached the device. */
  delivery?: 'sent-no-status' | 'partial';
  /** The session that reports this takes what is queued in answer before it ends: no need to wake the device. */
  followUpInSession?: boolean;
  /** The request's facts as its requester queued them (ServerCommandRequest.facts), when the server has them at hand. */
  facts?: RequestFacts;
}

export interface DeviceAlert extends Omit<GenericAlertEffect, 'type' | 'sessionId'> {
  at: number;
  /** As for CommandOutcome: the reporting session takes what is queued in answer. */
  followUpInSession?: boolean;
}

/** Whoever asked: consumes outcomes, alerts and session milestones. */
export interface DmEventSink {
  requestsTaken(deviceId: string, requestIds: string[], at: number): Promise<void>;
  commandOutcome(outcome: CommandOutcome): Promise<void>;
  /** true when a consumer took the alert; false: recorded and ignored. */
  genericAlert(alert: DeviceAlert): Promise<boolean>;
  sessionEnded(deviceId: string, reason: SessionEndReason, at: number): Promise<void>;
  /** The device authenticated; `previousState` is its registry state before this session. */
  sessionStarted(deviceId: string, previousState: string, at: number): Promise<void>;
}

export type NotificationChannel = 'http' | 'sms';

/** Where a Package#0 trigger goes (contract: HTTP POST to notificationUrl, else WAP Push by SMS). */
export interface NotificationTarget {
  deviceId: string;
  /** Preferred when set: the device (or its push proxy) listens here. */
  notificationUrl?: string;
  /** E.164 with or without the leading '+'. */
  smsAddress?: string;
}

export interface NotificationDelivered {
  delivered: true;
  channel: NotificationChannel;
  /** What the far side said: `HTTP 204`, or the SMSC message ids. */
  detail: string;
  /** Attempts made inside this call, the successful one included. */
  attempts: number;
}

export interface NotificationNotDelivered {
  delivered: false;
  /** 'none' when the target offers no usable channel. */
  channel: NotificationChannel | 'none';
  /** True when the same notification may succeed later (the caller's queue retries). */
  retryable: boolean;
  /** The last failure, readable by an operator. */
  reason: string;
  /** Attempts made inside this call; 0 when nothing was sent. */
  attempts: number;
}

/** A device that cannot be reached is an outcome, never an exception. */
export type NotificationOutcome = NotificationDelivered | NotificationNotDelivered;

export interface NotificationSender {
  send(target: NotificationTarget, trigger: Buffer): Promise<NotificationOutcome>;
}

export type { UndeliveredReason };
