/**
 * One simulated DM 1.2 handset: identity, DM account, management tree,
 * pending Generic Alerts, and the HTTP exchange of a whole session through an
 * injected transport. Built to be cheap when idle (a fleet holds 100,000):
 * no timers, the DM account is derived on first use, and the management tree
 * (~23 KB) is built on first use and dropped again after each use. What
 * modified it (server messages with Add/Replace/Delete/Copy/Exec/containers,
 * bootstraps, fired schedules) is kept in a journal and replayed, without
 * side effects, onto a fresh template when the tree is needed again; a
 * device with an armed SingleShotExec thus holds ~4 KB instead of ~33 KB.
 * Reading `device.tree` from outside pins the tree (kept for good), as does
 * a journal longer than 64 entries.
 *
 * Choices where the notes are silent:
 * - Session queueing: one session at a time per device. A trigger with the
 *   session id of the running or queued session is a duplicate (one session),
 *   as is one repeating the id of the last session, if that one succeeded,
 *   within `triggerDedupMs` (default 30 s; a failed session may be retried). Any
 *   other request while a session runs queues one follow-up session (a
 *   server-initiated request upgrades a queued client-initiated one).
 * - Offline: notifications are verified, counted and ignored; an SSE schedule
 *   falling due is remembered and reported as missed (401) when the device
 *   comes online, which then opens a client-initiated session if it has
 *   alerts to report or ignored a notification.
 * - failureRate applies to every Exec of an exec target (server Exec or SSE),
 *   failing it with failureStatus.
 * - A bootstrap replaces the ./DMAcc/<X> accounts it names (Add of an
 *   existing account would be 418 otherwise), bypassing access rights as a
 *   handset's bootstrap agent does; the first account it names is adopted.
 * - A new server nonce is stored only once the message carrying it to the
 *   server was answered, so a lost message cannot desynchronise Package#0.
 * - Generic Alerts are the device's own news (a fired schedule's report):
 *   after a session that failed with alerts still undelivered, the device
 *   tries again in a client-initiated session `alertRetryMs` later (± half,
 *   doubling per failure in a row, at most a minute), as handsets retry a
 *   report; `alertRetryMs` 0 turns that off.
 * - FUMO/SCOMO jobs (src/simulator/mo/) run after their Exec's 202 and change
 *   the tree through recorded edits, journaled like server messages, so
 *   State, FwV and the inventory survive the tree being dropped and rebuilt.
 */
import { AUTH_META_TYPE, type DeviceAuthType, decodeNonce } from '../dm/auth/credentials.js';
import {
  type BootstrapSecrets,
  BOOTSTRAP_MEDIA_TYPE,
  bootstrapKey,
  parseBootstrapContentType,
  verifyBootstrapMac,
} from '../dm/bootstrap/security.js';
import { contentTypeFor, dataText, encodeSyncMl, encodingForContentType, parseSyncMl } from '../dm/codec/index.js';
import type { AlertCommand, Command, SyncMlEncoding } from '../dm/codec/types.js';
import { isUnder } from '../dm/mo/index.js';
import { createHttpTransport, type DmTransport } from './http-transport.js';
import { type UserDigests, userDigests } from './user-digests.js';
import { parseTrigger, sessionIdToHex, verifyTriggerDigestWithResync } from '../dm/notification/package0.js';
import {
  authHeaders,
  type ClientCredentials,
  HMAC_HEADER,
  onServerMessage,
  type SessionDevice,
  type SessionEvent,
  type SessionOutcome,
  type SessionTrigger,
  startSession,
} from './client-session.js';
import {
  autoAccept,
  createLargeObjectAssembly,
  processCommands,
  type UiAlertResponse,
  type UiHandler,
} from './command-processor.js';
import {
  applyEdits,
  DEFAULT_DELIVERY,
  type DeliveryContext,
  type DeliveryCounters,
  type DeliveryOptions,
  type DeliveryResult,
  newDeliveryCounters,
  type TreeEdit,
} from './mo/delivery.js';
import { defineFumoMo, type FumoJob, installFumoClient, runFumoJob } from './mo/fumo.js';
import { defineScomoMo, installScomoClient, runScomoJob, type ScomoJob } from './mo/scomo.js';
import { buildGenericAlert, defineSseMo, fireSchedule, installSseClient, type SseReport, type SseSchedule } from './tree/sse.js';
import type { ManagementTree, NodeInfo } from './tree/management-tree.js';
import { createStandardTree } from './tree/standard-tree.js';

// ---- public types -------------------------------------------------------------



/** An HTTP answer that is not 2xx, or no usable answer at all. */
export class DeviceTransportError extends Error {
  override readonly name = 'DeviceTransportError';
  constructor(
    readonly deviceId: string,
    readonly url: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface DeviceIdentity {
  man: string;
  mod: string;
  dmV: '1.2';
  lang: string;
  fwV: string;
  swV: string;
  hwV: string;
  devTyp: string;
  oem: string;
  lrgObj: boolean;
}

export const DEFAULT_IDENTITY: Readonly<DeviceIdentity> = Object.freeze({
  man: 'DmwsiSim',
  mod: 'SimPhone-1',
  dmV: '1.2',
  lang: 'en-US',
  fwV: '1.0.0',
  swV: '1.0.0',
  hwV: 'rev-a',
  devTyp: 'phone',
  oem: 'DmwsiSim',
  lrgObj: true,
});

/** The device's DM account (./DMAcc/<accName>), the source of its credentials. */
export interface DmAccount {
  accName: string;
  serverUrl: string;
  serverId: string;
  authType: DeviceAuthType;
  clientUsername: string;
  clientPassword: string;
  serverPassword: string;
  /** CLCRED AAuthData (raw bytes); empty until the server gives one. */
  clientNonce: Buffer;
  /** SRVCRED AAuthData (raw bytes); empty until this device issues one. */
  serverNonce: Buffer;
}

export type DeviceStat =
  | 'session-ok'
  | 'session-failed'
  | 'notification'
  | 'notification-rejected'
  | 'notification-ignored'
  | 'execution'
  | 'execution-failed'
  | 'alert-reported'
  | 'schedule-armed'
  | 'schedule-fired'
  | 'schedule-missed'
  | 'bootstrap'
  | 'bootstrap-rejected'
  | 'delivery-succeeded'
  | 'delivery-failed'
  | 'busy-retry';

/** The owner's services: clock, scheduler, session gate, latency, counters. */
export interface DeviceHost {
  now(): number;
  /** Runs `fn` at (or soon after) `atMs`. */
  schedule(atMs: number, fn: () => void): void;
  /** Wraps a whole session (a concurrency limit). */
  runSession<T>(fn: () => Promise<T>): Promise<T>;
  /** Awaited before each HTTP post (simulated latency). */
  beforePost?(): Promise<void>;
  /** `detail`: why a session failed (`session-failed` only). */
  record?(stat: DeviceStat, device: SimulatedDevice, detail?: string): void;
}

/** Settings shared by many devices; a fleet passes one object to all of them. */
export interface DeviceProfile {
  identity: DeviceIdentity;
  encoding: SyncMlEncoding;
  /**
   * WBXML only: send every Item Data as OPAQUE, as clients built on the
   * SyncML reference toolkit do (default false: text as STR_I).
   */
  opaqueItemData: boolean;
  /** SSE root such as `./SSE`; `false`: the device has no SingleShotExec MO. */
  sseRoot: string | false;
  /**
   * The FUMO node (Type urn:oma:mo:oma-fumo:1.0) such as `./FUMO`, holding
   * Download, Update, DownloadAndUpdate and State; `false` (default): none.
   */
  fumoRoot: string | false;
  /** The SCOMO root (Type urn:oma:mo:oma-scomo:1.0) such as `./SCOMO`; `false` (default): none. */
  scomoRoot: string | false;
  /** Failure shares, install time and interrupted downloads of FUMO/SCOMO jobs. */
  delivery: DeliveryOptions;
  /** Nodes the device makes executable (Get + Exec), e.g. `./FUMO/fw1/Update`. */
  execTargets: readonly string[];
  maxMsgSize: number;
  maxObjSize: number;
  transport: DmTransport;
  host: DeviceHost;
  /** Registers an armed SSE schedule; default: `host.schedule` at AtTime. */
  arm?: (schedule: SseSchedule, fire: () => void, device: SimulatedDevice) => void;
  ui?: UiHandler;
  /** Network id / PIN for bootstrap MACs, shared or per device. */
  bootstrapSecrets?: BootstrapSecrets | ((device: SimulatedDevice) => BootstrapSecrets);
  /** The URL a server notifies this device at (a fleet derives it from its listener). */
  notificationUrlFor?: (devId: string) => string | undefined;
  /** Accept a bootstrap without SEC/MAC (tests); default false. */
  acceptUnsignedBootstrap: boolean;
  bootstrapSessionDelayMs: number;
  /** Check the server's Cred / x-syncml-hmac (default true). */
  verifyServerCred: boolean;
  requireServerCred: boolean;
  serverNonceRotation: 'when-needed' | 'every-session';
  failureRate: number;
  failureStatus: number;
  random: () => number;
  /** Device zone for AtTime without a zone; default 0 (UTC). */
  utcOffsetMinutes: number;
  /**
   * Keep every tree once built. Default false: between uses a tree is dropped
   * and later rebuilt from the template plus a journal of what modified it.
   */
  keepTrees: boolean;
  maxMessagesPerSession: number;
  triggerDedupMs: number;
  /** First retry of a failed session that left Generic Alerts undelivered; 0: never. */
  alertRetryMs: number;
  /**
   * Sessions the server turned away at their opening (HTTP 503 with
   * Retry-After to a message posted to the server's URI rather than a
   * RespURI: the first, or Pkg1 again after a 401 challenge) are opened
   * again after that delay, this many times in a row at most; 0: never (the
   * session just fails).
   */
  busyRetries: number;
  /**
   * The last this many notifications and sessions each device keeps, for
   * `SimulatedDevice.trace` (a fleet's `GET /device/<id>`: why a device
   * never came); default 0: none kept.
   */
  traceEvents: number;
}

export interface SimulatedDeviceOptions extends Partial<DeviceProfile> {
  devId: string;
  phoneNumber?: string;
  /** The account, or a factory called on first use (a fleet derives secrets lazily). */
  account: DmAccount | ((devId: string) => DmAccount);
  /** A shared, complete profile; the other profile options are then ignored. */
  profile?: DeviceProfile;
  online?: boolean;
  notificationUrl?: string;
}

export type SessionReportOutcome = SessionOutcome | 'error';

export interface SessionReport {
  sessionId: string;
  initiator: 'server' | 'client';
  outcome: SessionReportOutcome;
  /** HTTP posts made. */
  messages: number;
  /** Generic Alerts the server statused. */
  alertsDelivered: number;
  error?: string;
}

export type NotificationResult =
  | { accepted: true; sessionIdHex: string; duplicate: boolean; ignoredOffline: boolean; resync: boolean }
  | { accepted: false; reason: 'malformed' | 'wrong-server' | 'bad-digest' };

export type BootstrapResult =
  | { ok: true; accName: string }
  | { ok: false; reason: 'unsigned' | 'bad-mac' | 'no-secret' | 'malformed' | 'no-account' | 'incomplete-account' };

// ---- implementation -----------------------------------------------------------

const AAUTH_TYPE_NAME: Readonly<Record<DeviceAuthType, string>> = { basic: 'BASIC', md5: 'DIGEST', hmac: 'HMAC' };
const EMPTY = Buffer.alloc(0);

type JournalEntry =
  | { kind: 'message'; session: number; commands: Command[]; ui: UiAlertResponse[] }
  | { kind: 'bootstrap'; commands: Command[]; names: readonly string[] }
  | { kind: 'fired'; schedule: SseSchedule }
  | { kind: 'edits'; edits: readonly TreeEdit[] };

/** Beyond this many journal entries a device keeps its tree instead. */
const MAX_JOURNAL = 64;
/** Command kinds that can change a tree (containers hold them). */
const MUTATING: ReadonlySet<string> = new Set(['Add', 'Replace', 'Delete', 'Copy', 'Exec', 'Sequence', 'Atomic']);

interface QueuedSession {
  trigger: SessionTrigger;
  promise: Promise<SessionReport>;
  resolve: (r: SessionReport) => void;
}

export class SimulatedDevice {
  readonly devId: string;
  phoneNumber: string | undefined;
  readonly profile: DeviceProfile;

  // Counters.
  sessions = 0;
  sessionsFailed = 0;
  alertsSent = 0;
  notificationsRejected = 0;
  bootstrapsRejected = 0;

  private ownNotificationUrl: string | undefined;
  private accountSource: DmAccount | ((devId: string) => DmAccount);
  private acct: DmAccount | undefined;
  private treeRef: ManagementTree | undefined;
  /** The tree is kept for good: it was handed out through `tree`, or its journal grew too long. */
  private pinned = false;
  /** What modified the tree since it was built from the template; replayed when it is rebuilt. */
  private journal: JournalEntry[] | undefined;
  private replaying = false;
  private digests: UserDigests | undefined;
  private inSession = false;
  private sessionSeq = 0;
  private extraExecTargets: string[] | undefined;
  private onlineFlag: boolean;
  private ignoredWhileOffline = false;
  private pending: AlertCommand[] | undefined;
  private missed: SseSchedule[] | undefined;
  private execs: Map<string, number> | undefined;
  private current: { promise: Promise<SessionReport>; serverSessionId: string | undefined } | undefined;
  private queued: QueuedSession | undefined;
  private last: { sessionId: string; at: number; report: SessionReport } | undefined;
  /** Failed sessions in a row that left alerts undelivered. */
  private alertRetries = 0;
  /** Sessions in a row turned away with 503 and Retry-After. */
  private busyInARow = 0;
  private deliveryCounters: DeliveryCounters | undefined;
  /** The last `profile.traceEvents` notifications and sessions, oldest first (none kept by default). */
  private traced: string[] | undefined;

  constructor(opts: SimulatedDeviceOptions) {
    this.devId = opts.devId;
    this.phoneNumber = opts.phoneNumber;
    this.ownNotificationUrl = opts.notificationUrl;
    this.accountSource = opts.account;
    this.onlineFlag = opts.online ?? true;
    this.profile = opts.profile ?? resolveProfile(opts);
  }

  // ---- state ------------------------------------------------------------------

  /** Where a server POSTs this device's Package#0 (set, or from the profile). */
  get notificationUrl(): string | undefined {
    return this.ownNotificationUrl ?? this.profile.notificationUrlFor?.(this.devId);
  }

  set notificationUrl(url: string | undefined) {
    this.ownNotificationUrl = url;
  }

  get account(): DmAccount {
    this.acct ??= { ...this.startingAccount() };
    return this.acct;
  }

  /**
   * The account the device started with, which every tree is built from
   * (`account` is a copy that sessions and bootstraps change). A factory is
   * called once and replaced by what it returned: a fleet's derives two
   * secrets with HMAC-SHA256, which for every tree built was the simulator's
   * costliest crypto.
   */
  private startingAccount(): DmAccount {
    const src = this.accountSource;
    if (typeof src !== 'function') return src;
    const derived = src(this.devId);
    this.accountSource = derived;
    return derived;
  }

  /**
   * The management tree, built on first use. Handing it out pins it: the
   * device keeps it for good from then on, so changes made through it by a
   * test or a script are never lost when idle trees are dropped.
   */
  get tree(): ManagementTree {
    const tree = this.ensureTree();
    this.pinned = true;
    this.journal = undefined;
    return tree;
  }

  /** True while a tree is held (for memory checks). */
  get hasTree(): boolean {
    return this.treeRef !== undefined;
  }

  get online(): boolean {
    return this.onlineFlag;
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  /** The last notifications and sessions (`traceEvents`), each `ISO time: what`, oldest first. */
  get trace(): readonly string[] {
    return this.traced ?? [];
  }

  /** What the device is doing now and did last, for a look at one device (a fleet's `GET /device/<id>`). */
  describe(): Record<string, unknown> {
    return {
      devId: this.devId,
      online: this.onlineFlag,
      busy: this.current !== undefined,
      currentServerSessionId: this.current?.serverSessionId,
      queuedSession: this.queued?.trigger,
      lastSession: this.last && { ...this.last, at: new Date(this.last.at).toISOString() },
      pendingAlerts: this.pending?.length ?? 0,
      missedSchedules: this.missed?.length ?? 0,
      ignoredWhileOffline: this.ignoredWhileOffline,
      busyInARow: this.busyInARow,
      alertRetries: this.alertRetries,
      sessions: this.sessions,
      sessionsFailed: this.sessionsFailed,
      executions: Object.fromEntries(this.executions),
      trace: this.trace,
    };
  }

  /**
   * Notes an event in the trace (kept only with `traceEvents` > 0). A line built from the session's
   * state is given as a function, so that an untraced fleet (the default) formats nothing per session.
   */
  note(what: string | (() => string)): void {
    const keep = this.profile.traceEvents;
    if (!(keep > 0)) return;
    const t = this.traced ?? [];
    t.push(`${new Date(this.profile.host.now()).toISOString()}: ${typeof what === 'string' ? what : what()}`);
    if (t.length > keep) t.splice(0, t.length - keep);
    this.traced = t;
  }

  /** Generic Alerts waiting for the next session. */
  get pendingAlerts(): readonly AlertCommand[] {
    return this.pending ?? [];
  }

  /** Execs of `uri` (an exec target), from the server or from SSE. */
  executionCount(uri: string): number {
    return this.execs?.get(normalise(uri)) ?? 0;
  }

  /** Exec counts per exec target URI. */
  get executions(): ReadonlyMap<string, number> {
    return this.execs ?? new Map();
  }

  /** FUMO/SCOMO downloads and every result reported (an empty record until the first job). */
  get delivery(): DeliveryCounters {
    return this.deliveryCounters ?? newDeliveryCounters();
  }

  /** The current DevDetail/FwV (changed by a successful firmware update). */
  get firmwareVersion(): string {
    return this.readTree((tree) => dataTextOf(tree, FWV_URI));
  }

  /** Deployed SCOMO components: `<X>` → {ID, Name, Version, State}; empty without SCOMO. */
  get inventory(): Record<string, { id: string; name: string; version: string; state: number }> {
    const root = this.profile.scomoRoot;
    if (root === false) return {};
    return this.readTree((tree) => {
      const out: Record<string, { id: string; name: string; version: string; state: number }> = {};
      const deployed = `${normalise(root)}/Inventory/Deployed`;
      for (const x of tree.read(deployed)?.children ?? []) {
        const leaf = (n: string) => dataTextOf(tree, `${deployed}/${x}/${n}`);
        out[x] = { id: leaf('ID'), name: leaf('Name'), version: leaf('Version'), state: Number(leaf('State')) };
      }
      return out;
    });
  }

  /** Makes `uri` executable (and counted) on this device. */
  addExecTarget(uri: string): void {
    if (this.extraExecTargets) this.extraExecTargets.push(uri);
    else this.extraExecTargets = [uri];
    if (this.treeRef) defineExecTarget(this, this.treeRef, uri);
  }

  /** Queues a Generic Alert for the next session (CmdID is reassigned). */
  queueGenericAlert(alert: AlertCommand): void {
    if (this.pending) this.pending.push(alert);
    else this.pending = [alert];
  }

  // ---- sessions -----------------------------------------------------------------

  /**
   * Runs a session (default client-initiated) and resolves when it ends. While
   * one runs, the request joins the queued follow-up (or the running session,
   * for the same server session id).
   */
  runSession(trigger: SessionTrigger = { kind: 'client-initiated' }): Promise<SessionReport> {
    const serverId = trigger.kind === 'server-initiated' ? trigger.sessionIdHex : undefined;
    if (serverId !== undefined) {
      if (this.current?.serverSessionId === serverId) return this.current.promise;
      const q = this.queued;
      if (q?.trigger.kind === 'server-initiated' && q.trigger.sessionIdHex === serverId) return q.promise;
    }
    if (!this.current) return this.begin(trigger);
    if (this.queued) {
      if (trigger.kind === 'server-initiated') this.queued.trigger = trigger;
      return this.queued.promise;
    }
    let resolve!: (r: SessionReport) => void;
    const promise = new Promise<SessionReport>((r) => {
      resolve = r;
    });
    this.queued = { trigger, promise, resolve };
    return promise;
  }

  /** Resolves once no session is running or queued. */
  async idle(): Promise<void> {
    while (this.current) await this.current.promise;
  }

  private begin(trigger: SessionTrigger): Promise<SessionReport> {
    const serverSessionId = trigger.kind === 'server-initiated' ? trigger.sessionIdHex : undefined;
    const promise = this.profile.host.runSession(() => this.execute(trigger)).catch(
      (err: unknown): SessionReport => ({
        sessionId: serverSessionId ?? '',
        initiator: trigger.kind === 'server-initiated' ? 'server' : 'client',
        outcome: 'error',
        messages: 0,
        alertsDelivered: 0,
        error: err instanceof Error ? err.message : String(err),
      }),
    );
    const entry = { promise, serverSessionId };
    this.current = entry;
    void promise.then(() => {
      if (this.current === entry) this.current = undefined;
      const q = this.queued;
      if (q) {
        this.queued = undefined;
        void this.begin(q.trigger).then(q.resolve);
      }
    });
    return promise;
  }

  private async execute(trigger: SessionTrigger): Promise<SessionReport> {
    const acct = this.account;
    const tree = this.ensureTree();
    this.inSession = true;
    try {
      return await this.exchange(trigger, acct, tree);
    } finally {
      this.inSession = false;
      this.release();
    }
  }

  private async exchange(trigger: SessionTrigger, acct: DmAccount, tree: ManagementTree): Promise<SessionReport> {
    const p = this.profile;
    const session = ++this.sessionSeq;
    const uiLog: UiAlertResponse[] = [];
    const ui = p.ui ?? autoAccept;
    const alerts = this.pending ? [...this.pending] : [];
    const digests = this.userDigests(acct);
    const creds: ClientCredentials = {
      authType: acct.authType,
      clientUsername: acct.clientUsername,
      clientPassword: acct.clientPassword,
      clientNonce: acct.clientNonce,
      serverId: acct.serverId,
      serverPassword: acct.serverPassword,
      serverNonce: acct.serverNonce,
      clientDigest: digests.client,
      serverDigest: digests.server,
    };
    const dev: SessionDevice = {
      devId: this.devId,
      tree,
      serverUrl: acct.serverUrl,
      credentials: creds,
      encoding: p.encoding,
      maxMsgSize: p.maxMsgSize,
      maxObjSize: p.maxObjSize,
      genericAlerts: alerts,
      verifyServerCred: p.verifyServerCred,
      requireServerCred: p.requireServerCred,
      serverNonceRotation: p.serverNonceRotation,
      ui: (request) => {
        const answer = ui(request);
        uiLog.push(answer);
        return answer;
      },
    };
    const sessionTrigger: SessionTrigger =
      trigger.kind === 'client-initiated' && trigger.sessionIdHex === undefined
        ? { kind: 'client-initiated', sessionIdHex: this.newSessionId() }
        : trigger;
    let { state, message } = startSession(sessionTrigger, dev, new Date(p.host.now()));
    this.note(() => `session ${state.sessionId} (${trigger.kind}) opened, ${alerts.length} alert(s)`);
    const report: SessionReport = {
      sessionId: state.sessionId,
      initiator: state.initiator,
      outcome: 'error',
      messages: 0,
      alertsDelivered: 0,
    };
    let unsentServerNonce: Buffer | undefined;
    let dmAccTouched = false;
    /** Set when the server refused to open the session (503 to its opening: see `opening`) and said when to come back. */
    let busyFor: number | undefined;
    const contentType = contentTypeFor(p.encoding);
    let messageBytes: Buffer | undefined;
    try {
      for (;;) {
        if (report.messages >= p.maxMessagesPerSession) {
          throw new DeviceTransportError(this.devId, state.url, `more than ${p.maxMessagesPerSession} messages`);
        }
        const body = messageBytes ?? encodeSyncMl(message, p.encoding, { opaqueItemData: p.opaqueItemData });
        const headers = { 'content-type': contentType, accept: contentType, ...authHeaders(state, body) };
        // Posted to the server's URI, not a RespURI: the server has not taken this session in yet (its
        // first message, or Pkg1 again after a 401 challenge, which gives no RespURI). A 503 there turns
        // the whole session away, as a refused first message does.
        const opening = state.url === dev.serverUrl;
        await p.host.beforePost?.();
        const res = await p.transport.post(state.url, body, headers);
        report.messages++;
        if (res.status === 503 && opening) busyFor = retryAfterMs(res.headers['retry-after'], p.host.now());
        if (res.status < 200 || res.status > 299) {
          throw new DeviceTransportError(this.devId, state.url, `HTTP ${res.status}`, res.status);
        }
        if (unsentServerNonce) {
          this.setServerNonce(unsentServerNonce);
          unsentServerNonce = undefined;
        }
        const answerType = res.headers['content-type'] ?? contentType;
        if (encodingForContentType(answerType) === undefined) {
          throw new DeviceTransportError(this.devId, state.url, `answer is ${answerType}`, res.status);
        }
        const { message: serverMsg } = parseSyncMl(res.body, answerType);
        const hmac = res.headers[HMAC_HEADER];
        const step = onServerMessage(state, serverMsg, hmac === undefined ? {} : { hmacHeader: hmac, body: res.body });
        for (const ev of step.events) {
          if (ev.kind === 'server-nonce') unsentServerNonce = ev.nonce;
          else if (ev.kind === 'commands-run') {
            const answers = uiLog.splice(0);
            if (ev.commands.some((c) => MUTATING.has(c.kind))) {
              this.journalAppend({ kind: 'message', session, commands: ev.commands, ui: answers });
            }
          } else this.applyEvent(ev, report);
          if (ev.kind === 'tree-modified' && ev.uris.some((u) => u.startsWith('./DMAcc'))) dmAccTouched = true;
        }
        state = step.state;
        if (step.done || !step.reply) break;
        message = step.reply;
        messageBytes = step.replyBytes;
      }
    } catch (err) {
      report.outcome = 'error';
      report.error = err instanceof Error ? err.message : String(err);
    }
    if (dmAccTouched) this.adoptAccountFromTree(acct.accName);
    this.sessions++;
    const ok = report.outcome === 'ok';
    if (!ok) this.sessionsFailed++;
    if (ok) {
      this.alertRetries = 0;
      this.busyInARow = 0;
    } else if (busyFor !== undefined && this.busyInARow < p.busyRetries) this.retryWhenServerFree(trigger, busyFor);
    else if (this.pending && p.alertRetryMs > 0) this.retryAlertsLater();
    if (busyFor === undefined) this.busyInARow = 0;
    if (ok) p.host.record?.('session-ok', this);
    else p.host.record?.('session-failed', this, report.error ?? `session ended ${report.outcome}`);
    this.note(
      () =>
        `session ${report.sessionId} ${report.outcome} after ${report.messages} message(s)${report.error ? `: ${report.error}` : ''}${busyFor !== undefined ? ` (busy ${busyFor} ms, ${this.busyInARow} in a row)` : ''}`,
    );
    this.last = { sessionId: report.sessionId, at: p.host.now(), report };
    return report;
  }

  /**
   * As DM clients do with 503 and Retry-After: the session (its trigger, and
   * any alerts still pending) is opened again once the server said it would
   * be free. The server did nothing with the refused message, so this is
   * the same session, not a second one.
   */
  private retryWhenServerFree(trigger: SessionTrigger, afterMs: number): void {
    const p = this.profile;
    this.busyInARow++;
    p.host.record?.('busy-retry', this);
    p.host.schedule(p.host.now() + afterMs, () => {
      this.note(() => `opening again after Retry-After (${trigger.kind}${trigger.sessionIdHex === undefined ? '' : ` ${trigger.sessionIdHex}`})${this.onlineFlag ? '' : ': offline, not opened'}`);
      if (this.onlineFlag) void this.runSession(trigger);
    });
  }

  private retryAlertsLater(): void {
    const p = this.profile;
    const delay = Math.min(p.alertRetryMs * 2 ** this.alertRetries, 60_000) * (0.5 + p.random());
    this.alertRetries++;
    p.host.schedule(p.host.now() + delay, () => {
      // Offline by then: coming online reports them anyway.
      if (this.pending && this.onlineFlag) void this.runSession({ kind: 'client-initiated' });
    });
  }

  /** A random client-chosen SessionID (1..FFFF in hex), never the previous session's. */
  private newSessionId(): string {
    let n = 1 + Math.floor(this.profile.random() * 0xfffe);
    const id = () => n.toString(16).toUpperCase();
    if (id() === this.last?.sessionId) n = (n % 0xffff) + 1;
    return id();
  }

  private applyEvent(ev: SessionEvent, report: SessionReport): void {
    const acct = this.account;
    switch (ev.kind) {
      case 'client-nonce':
        acct.clientNonce = ev.nonce;
        this.syncNonceLeaf('CLCRED', ev.nonce);
        break;
      case 'auth-type':
        acct.authType = ev.authType;
        break;
      case 'alert-status': {
        if (this.pending) {
          const i = this.pending.indexOf(ev.alert);
          if (i >= 0) this.pending.splice(i, 1);
          if (this.pending.length === 0) this.pending = undefined;
        }
        if (ev.status >= 200 && ev.status <= 299) {
          report.alertsDelivered++;
          this.alertsSent++;
          this.profile.host.record?.('alert-reported', this);
        }
        break;
      }
      case 'ended':
        report.outcome = ev.outcome;
        if (ev.detail !== undefined) report.error = ev.detail;
        break;
      default:
        break;
    }
  }

  private userDigests(acct: DmAccount): UserDigests {
    this.digests = userDigests(acct, this.digests);
    return this.digests;
  }

  private setServerNonce(nonce: Buffer): void {
    this.account.serverNonce = nonce;
    this.syncNonceLeaf('SRVCRED', nonce);
  }

  private syncNonceLeaf(level: 'CLCRED' | 'SRVCRED', nonce: Buffer): void {
    if (!this.treeRef) return;
    const uri = `./DMAcc/${this.account.accName}/AppAuth/${level}/AAuthData`;
    if (this.treeRef.exists(uri)) this.treeRef.replace(uri, { format: 'bin', data: nonce });
  }

  // ---- notification -------------------------------------------------------------

  /**
   * Handles a Package#0: parse, check the server id, verify the digest (with
   * nonce resync), then open a server-initiated session (not awaited).
   */
  receiveNotification(bytes: Buffer): NotificationResult {
    const record = this.profile.host.record;
    const reject = (reason: 'malformed' | 'wrong-server' | 'bad-digest'): NotificationResult => {
      this.notificationsRejected++;
      record?.('notification-rejected', this);
      return { accepted: false, reason };
    };
    let trigger: ReturnType<typeof parseTrigger>;
    try {
      trigger = parseTrigger(bytes);
      if (trigger.sessionId === 0) return reject('malformed');
    } catch {
      return reject('malformed');
    }
    const acct = this.account;
    if (trigger.serverId !== acct.serverId) return reject('wrong-server');
    const verified = verifyTriggerDigestWithResync(bytes, { userDigest: this.userDigests(acct).server }, acct.serverNonce);
    if (verified === 'none') {
      this.note('notification rejected: bad digest');
      return reject('bad-digest');
    }
    record?.('notification', this);
    const sessionIdHex = sessionIdToHex(trigger.sessionId);
    const resync = verified === 'resync';
    if (!this.onlineFlag) {
      this.ignoredWhileOffline = true;
      this.note(() => `notification ${sessionIdHex} ignored: offline`);
      record?.('notification-ignored', this);
      return { accepted: true, sessionIdHex, duplicate: false, ignoredOffline: true, resync };
    }
    const last = this.last;
    const recent =
      last !== undefined &&
      last.report.initiator === 'server' &&
      last.report.outcome === 'ok' &&
      last.sessionId === sessionIdHex &&
      this.profile.host.now() - last.at < this.profile.triggerDedupMs;
    const duplicate =
      recent ||
      this.current?.serverSessionId === sessionIdHex ||
      (this.queued?.trigger.kind === 'server-initiated' && this.queued.trigger.sessionIdHex === sessionIdHex);
    this.note(
      () =>
        `notification ${sessionIdHex}${resync ? ' (resync)' : ''}: ${duplicate ? 'a duplicate' : this.current ? `queued behind session ${this.current.serverSessionId ?? '(client)'}` : 'session'}`,
    );
    if (!duplicate) void this.runSession({ kind: 'server-initiated', sessionIdHex, resync });
    return { accepted: true, sessionIdHex, duplicate, ignoredOffline: false, resync };
  }

  // ---- bootstrap ----------------------------------------------------------------

  /**
   * Applies a DM bootstrap (WBXML; SEC/MAC in the content type), adopts the
   * account it installs and opens a client-initiated session soon after.
   */
  receiveBootstrap(bytes: Buffer, contentType: string): BootstrapResult {
    const p = this.profile;
    const reject = (reason: Extract<BootstrapResult, { ok: false }>['reason']): BootstrapResult => {
      this.bootstrapsRejected++;
      p.host.record?.('bootstrap-rejected', this);
      return { ok: false, reason };
    };
    const sec = parseBootstrapContentType(contentType);
    if (sec) {
      let key: Buffer;
      try {
        const secrets = typeof p.bootstrapSecrets === 'function' ? p.bootstrapSecrets(this) : p.bootstrapSecrets;
        key = bootstrapKey(sec.sec, secrets ?? {});
      } catch {
        return reject('no-secret');
      }
      if (!verifyBootstrapMac(key, bytes, sec.mac)) return reject('bad-mac');
    } else if (!p.acceptUnsignedBootstrap || encodingForContentType(contentType) !== 'wbxml') {
      return reject('unsigned');
    }
    let commands: Command[];
    try {
      commands = parseSyncMl(bytes, BOOTSTRAP_MEDIA_TYPE).message.body;
    } catch {
      return reject('malformed');
    }
    const names = accountNames(commands);
    const accName = names[0];
    if (accName === undefined) return reject('no-account');

    const tree = this.ensureTree();
    applyBootstrap(tree, commands, names);
    this.journalAppend({ kind: 'bootstrap', commands, names });
    const adopted = this.adoptAccountFromTree(accName);
    this.release();
    if (!adopted) return reject('incomplete-account');
    p.host.record?.('bootstrap', this);
    p.host.schedule(p.host.now() + p.bootstrapSessionDelayMs, () => {
      void this.runSession({ kind: 'client-initiated' });
    });
    return { ok: true, accName };
  }

  /** Reads ./DMAcc/<accName> back into the account; false when it is incomplete. */
  private adoptAccountFromTree(accName: string): boolean {
    const read = readAccount(this.ensureTree(), accName, this.devId);
    if (!read) return false;
    this.acct = read;
    return true;
  }

  // ---- SingleShotExec -----------------------------------------------------------

  /** Called by the SSE client when a Go Exec armed a schedule. */
  private onArmed(schedule: SseSchedule): void {
    if (this.replaying) return;
    const p = this.profile;
    p.host.record?.('schedule-armed', this);
    const fire = () => this.fireArmed(schedule);
    if (p.arm) p.arm(schedule, fire, this);
    else p.host.schedule(schedule.atTime.getTime(), fire);
  }

  /**
   * The owner's scheduler calls this at AtTime. Online: run the target once
   * and report in a new client-initiated session. Offline: remembered, and
   * reported as missed (401) when the device comes online.
   */
  fireArmed(schedule: SseSchedule): void {
    const p = this.profile;
    if (!this.onlineFlag) {
      if (this.missed) this.missed.push(schedule);
      else this.missed = [schedule];
      return;
    }
    const result = fireSchedule(this.ensureTree(), schedule, new Date(p.host.now()));
    if (result.report) {
      this.journalAppend({ kind: 'fired', schedule });
      p.host.record?.('schedule-fired', this);
      this.report(result.report);
    } else if (result.reason === 'not-due') {
      p.host.schedule(schedule.atTime.getTime(), () => this.fireArmed(schedule));
    }
    // Only now: a reporting session the host started at once has taken this tree instead of building another.
    this.release();
  }

  /** Goes offline or online; coming online reports missed schedules and checks in. */
  setOnline(online: boolean): void {
    if (online === this.onlineFlag) return;
    this.onlineFlag = online;
    this.note(online ? 'online' : 'offline');
    if (!online) return;
    const missed = this.missed ?? [];
    this.missed = undefined;
    let reported = false;
    for (const schedule of missed) {
      const result = fireSchedule(this.ensureTree(), schedule, new Date(this.profile.host.now()), { missed: true });
      if (result.report) this.journalAppend({ kind: 'fired', schedule });
      if (result.report) {
        this.profile.host.record?.('schedule-missed', this);
        this.queueReport(result.report);
        reported = true;
      }
    }
    if (reported || this.ignoredWhileOffline || this.pending) {
      this.ignoredWhileOffline = false;
      void this.runSession({ kind: 'client-initiated' });
    }
    // After the session is opened, which takes the tree if the host starts it at once.
    this.release();
  }

  private report(report: SseReport): void {
    this.queueReport(report);
    void this.runSession({ kind: 'client-initiated' });
  }

  private queueReport(report: SseReport): void {
    this.queueGenericAlert(buildGenericAlert(report, 0));
  }

  // ---- FUMO / SCOMO -----------------------------------------------------------------

  /** Runs `fn` on the tree without pinning it (dropped again when idle). */
  private readTree<T>(fn: (tree: ManagementTree) => T): T {
    const tree = this.ensureTree();
    try {
      return fn(tree);
    } finally {
      this.release();
    }
  }

  /**
   * Starts a job an Exec accepted (202). Not while a journal is replayed: that
   * Exec ran long ago. Deferred so the session message that carried the Exec
   * is journaled before the job's own tree edits.
   */
  private startJob(run: (ctx: DeliveryContext) => Promise<void>): void {
    if (this.replaying) return;
    setImmediate(() => {
      // A job reports every outcome itself; an exception here is a simulator bug, counted, not fatal.
      run(this.deliveryContext()).catch(() => this.profile.host.record?.('delivery-failed', this));
    });
  }

  private deliveryContext(): DeliveryContext {
    const p = this.profile;
    this.deliveryCounters ??= newDeliveryCounters();
    return {
      options: p.delivery,
      counters: this.deliveryCounters,
      fwVUri: FWV_URI,
      random: () => p.random(),
      read: (fn) => this.readTree(fn),
      edit: (edits) => {
        this.readTree((tree) => applyEdits(tree, edits));
        this.journalAppend({ kind: 'edits', edits });
      },
      wait: (ms) => new Promise<void>((resolve) => p.host.schedule(p.host.now() + ms, resolve)),
      report: (alert, result: DeliveryResult) => {
        this.deliveryCounters?.results.push(result);
        const ok = result.resultCode === 200 || result.resultCode === 1200;
        p.host.record?.(ok ? 'delivery-succeeded' : 'delivery-failed', this);
        this.queueGenericAlert(alert);
        // Offline: coming online reports it (pending alerts open a session).
        if (this.onlineFlag) void this.runSession({ kind: 'client-initiated' });
      },
    };
  }

  private startFumo(job: FumoJob): void {
    this.startJob((ctx) => runFumoJob(ctx, job));
  }

  private startScomo(job: ScomoJob): void {
    this.startJob((ctx) => runScomoJob(ctx, job));
  }

  /** @internal counts an exec target's Exec and decides its failure. */
  countExec(uri: string): number {
    if (this.replaying) return 200;
    const p = this.profile;
    const fail = p.failureRate > 0 && p.random() < p.failureRate;
    const execs = this.execs ?? new Map<string, number>();
    this.execs = execs;
    execs.set(uri, (execs.get(uri) ?? 0) + 1);
    p.host.record?.(fail ? 'execution-failed' : 'execution', this);
    return fail ? p.failureStatus : 200;
  }

  // ---- tree -----------------------------------------------------------------------

  private ensureTree(): ManagementTree {
    if (!this.treeRef) {
      const tree = this.buildTree();
      this.treeRef = tree;
      if (this.journal) this.replay(tree, this.journal);
    }
    return this.treeRef;
  }

  /** Drops the tree when it can be rebuilt: not pinned, no session running. */
  private release(): void {
    if (this.pinned || this.inSession || this.profile.keepTrees) return;
    this.treeRef = undefined;
  }

  private journalAppend(entry: JournalEntry): void {
    if (this.pinned || this.profile.keepTrees) return;
    const journal = this.journal ?? [];
    journal.push(entry);
    this.journal = journal;
    if (journal.length > MAX_JOURNAL) {
      // Replaying would cost more than keeping the tree.
      this.pinned = true;
      this.journal = undefined;
    }
  }

  /** Re-applies the journal to a tree fresh from the template, without side effects. */
  private replay(tree: ManagementTree, journal: readonly JournalEntry[]): void {
    this.replaying = true;
    try {
      let session = -1;
      let assembly = createLargeObjectAssembly();
      for (const entry of journal) {
        if (entry.kind === 'message') {
          if (entry.session !== session) {
            session = entry.session;
            assembly = createLargeObjectAssembly();
          }
          const answers = [...entry.ui];
          processCommands(tree, entry.commands, {
            msgId: 0,
            nextCmdId: () => 0,
            largeObject: assembly,
            ui: (request) => answers.shift() ?? autoAccept(request),
          });
        } else if (entry.kind === 'bootstrap') {
          applyBootstrap(tree, entry.commands, entry.names);
        } else if (entry.kind === 'edits') {
          applyEdits(tree, entry.edits);
        } else {
          // Marks the schedule fired, as the original firing did, without running anything.
          fireSchedule(tree, entry.schedule, new Date(0), { missed: true });
        }
      }
    } finally {
      this.replaying = false;
    }
    this.syncNonceLeaf('CLCRED', this.account.clientNonce);
    this.syncNonceLeaf('SRVCRED', this.account.serverNonce);
  }

  /** The tree template: the standard tree for the account the device started with. */
  private buildTree(): ManagementTree {
    const p = this.profile;
    const acct = this.startingAccount();
    const tree = treeTemplate(p, acct).clone();
    // The device's own values over the template's blanks.
    tree.setValue('./DevInfo/DevId', this.devId);
    const auth = `./DMAcc/${acct.accName}/AppAuth`;
    tree.setValue(`${auth}/CLCRED/AAuthName`, acct.clientUsername);
    tree.setValue(`${auth}/CLCRED/AAuthSecret`, acct.clientPassword);
    tree.setValue(`${auth}/CLCRED/AAuthData`, acct.clientNonce);
    tree.setValue(`${auth}/SRVCRED/AAuthSecret`, acct.serverPassword);
    tree.setValue(`${auth}/SRVCRED/AAuthData`, acct.serverNonce);
    if (p.sseRoot !== false) {
      installSseClient(tree, {
        root: p.sseRoot,
        arm: (schedule) => this.onArmed(schedule),
        utcOffsetMinutes: p.utcOffsetMinutes,
      });
    }
    if (p.fumoRoot !== false) installFumoClient(tree, normalise(p.fumoRoot), (job) => this.startFumo(job));
    if (p.scomoRoot !== false) installScomoClient(tree, normalise(p.scomoRoot), (job) => this.startScomo(job));
    for (const uri of p.execTargets) defineExecTarget(this, tree, uri);
    for (const uri of this.extraExecTargets ?? []) defineExecTarget(this, tree, uri);
    return tree;
  }
}

/**
 * The standard tree of a profile and account with the per-device leaves
 * (DevId, the client's name, secrets and nonces) left blank, built once and
 * cloned for every session: a fleet rebuilds a device's tree each time it
 * needs it, so as not to hold 100,000 trees.
 */
const templates = new WeakMap<DeviceProfile, Map<string, ManagementTree>>();
const MAX_TEMPLATES_PER_PROFILE = 16;

function treeTemplate(p: DeviceProfile, acct: DmAccount): ManagementTree {
  const authName = AAUTH_TYPE_NAME[acct.authType];
  const key = [acct.accName, acct.serverId, acct.serverUrl, authName].join('\n');
  let byAccount = templates.get(p);
  if (!byAccount) {
    byAccount = new Map();
    templates.set(p, byAccount);
  }
  const cached = byAccount.get(key);
  if (cached) return cached;
  const tree = createStandardTree({
    devId: '',
    ...p.identity,
    dmAcc: {
      accName: acct.accName,
      serverId: acct.serverId,
      addr: acct.serverUrl,
      aAuthPref: authName,
      appAuth: [
        { level: 'CLCRED', type: authName, name: '', secret: '', data: EMPTY },
        { level: 'SRVCRED', type: authName, name: acct.serverId, secret: '', data: EMPTY },
      ],
    },
  });
  const sseRoot = p.sseRoot === false ? undefined : tree.parse(p.sseRoot);
  if (sseRoot?.ok && !tree.exists(sseRoot.uri)) defineSseMo(tree, sseRoot.uri);
  if (p.fumoRoot !== false) defineFumoMo(tree, normalise(p.fumoRoot));
  if (p.scomoRoot !== false) defineScomoMo(tree, normalise(p.scomoRoot));
  for (const uri of p.execTargets) defineExecTargetNode(tree, uri);
  if (byAccount.size >= MAX_TEMPLATES_PER_PROFILE) byAccount.clear();
  byAccount.set(key, tree);
  return tree;
}

/**
 * Applies a bootstrap's commands with the rights a handset's bootstrap agent
 * has: the accounts it names are replaced, and their secrets end up
 * Replace-only (never readable by a server).
 */
function applyBootstrap(tree: ManagementTree, commands: Command[], names: readonly string[]): void {
  const dmAccAccess = tree.read('./DMAcc')?.access ?? ['Get'];
  tree.setAccess('./DMAcc', ['Get', 'Add']);
  try {
    for (const name of names) {
      const uri = `./DMAcc/${name}`;
      if (tree.exists(uri)) tree.delete(uri);
    }
    processCommands(tree, commands, { msgId: 0, nextCmdId: () => 0 });
  } finally {
    tree.setAccess('./DMAcc', dmAccAccess);
  }
  for (const name of names) {
    for (const level of ['CLCRED', 'SRVCRED']) {
      for (const leaf of ['AAuthSecret', 'AAuthData']) {
        const uri = `./DMAcc/${name}/AppAuth/${level}/${leaf}`;
        if (tree.exists(uri)) tree.setAccess(uri, ['Replace']);
      }
    }
  }
}

function defineExecTarget(device: SimulatedDevice, tree: ManagementTree, uri: string): void {
  const target = defineExecTargetNode(tree, uri);
  tree.onExec(target, () => device.countExec(target));
}

function defineExecTargetNode(tree: ManagementTree, uri: string): string {
  const target = normalise(uri);
  if (!tree.exists(target)) tree.define(target, { format: 'chr', data: '', access: ['Get', 'Exec'] });
  return target;
}

const FWV_URI = './DevDetail/FwV';

function dataTextOf(tree: ManagementTree, uri: string): string {
  const data = tree.read(uri)?.data;
  return data === undefined ? '' : dataText(data);
}

function normalise(uri: string): string {
  return uri.startsWith('./') || uri === '.' ? uri : `./${uri}`;
}

/** The `<X>` names under ./DMAcc a bootstrap's commands target, in order. */
function accountNames(commands: Command[]): string[] {
  const names: string[] = [];
  const visit = (cmds: Command[]) => {
    for (const cmd of cmds) {
      if (cmd.kind === 'Sequence' || cmd.kind === 'Atomic') visit(cmd.commands);
      if (cmd.kind !== 'Add' && cmd.kind !== 'Replace') continue;
      for (const item of cmd.items) {
        const m = /^(?:\.\/)?DMAcc\/([^/]+)/.exec(item.target?.locUri ?? '');
        if (m && !names.includes(m[1]!)) names.push(m[1]!);
      }
    }
  };
  visit(commands);
  return names;
}

function text(info: NodeInfo | undefined): string | undefined {
  if (info?.kind !== 'leaf' || info.data === undefined) return undefined;
  return dataText(info.data);
}

function nonceBytes(info: NodeInfo | undefined): Buffer {
  if (info?.kind !== 'leaf' || info.data === undefined) return EMPTY;
  if (Buffer.isBuffer(info.data)) return Buffer.from(info.data);
  if (info.data === '') return EMPTY;
  return info.format === 'chr' ? Buffer.from(info.data, 'utf8') : decodeNonce(info.data);
}

/** AAuthType as a DMAcc leaf (DIGEST...) or a Meta Type (syncml:auth-md5...). */
function authTypeFromName(name: string | undefined): DeviceAuthType | undefined {
  const n = (name ?? '').trim().toUpperCase();
  if (n === 'DIGEST' || n === AUTH_META_TYPE.md5.toUpperCase()) return 'md5';
  if (n === 'BASIC' || n === AUTH_META_TYPE.basic.toUpperCase()) return 'basic';
  if (n === 'HMAC' || n === AUTH_META_TYPE.hmac.toUpperCase()) return 'hmac';
  return undefined;
}

function readAccount(tree: ManagementTree, accName: string, devId: string): DmAccount | undefined {
  const x = `./DMAcc/${accName}`;
  const serverId = text(tree.read(`${x}/ServerID`));
  let serverUrl: string | undefined;
  for (const child of tree.read(`${x}/AppAddr`)?.children ?? []) {
    serverUrl ??= text(tree.read(`${x}/AppAddr/${child}/Addr`));
  }
  const auth: Record<string, { type?: string; name?: string; secret?: string; data: Buffer }> = {};
  for (const child of tree.read(`${x}/AppAuth`)?.children ?? []) {
    const a = `${x}/AppAuth/${child}`;
    const rawLevel = (text(tree.read(`${a}/AAuthLevel`)) ?? child).toUpperCase();
    // w7 (Client Provisioning) names: APPSRV is the client's, CLIENT the server's credential.
    const level = rawLevel === 'APPSRV' ? 'CLCRED' : rawLevel === 'CLIENT' ? 'SRVCRED' : rawLevel;
    const entry: { type?: string; name?: string; secret?: string; data: Buffer } = {
      data: nonceBytes(tree.read(`${a}/AAuthData`)),
    };
    const type = text(tree.read(`${a}/AAuthType`));
    const name = text(tree.read(`${a}/AAuthName`));
    const secret = text(tree.read(`${a}/AAuthSecret`));
    if (type !== undefined) entry.type = type;
    if (name !== undefined) entry.name = name;
    if (secret !== undefined) entry.secret = secret;
    auth[level] = entry;
  }
  const client = auth.CLCRED;
  const server = auth.SRVCRED;
  if (!serverId || !serverUrl || !client) return undefined;
  return {
    accName,
    serverUrl,
    serverId,
    authType: authTypeFromName(client.type) ?? authTypeFromName(text(tree.read(`${x}/AAuthPref`))) ?? 'md5',
    clientUsername: client.name ?? devId,
    clientPassword: client.secret ?? '',
    serverPassword: server?.secret ?? '',
    clientNonce: client.data,
    serverNonce: server?.data ?? EMPTY,
  };
}

// ---- defaults -------------------------------------------------------------------

/** Runs callbacks with setTimeout and sessions without a limit: a device on its own. */
export function standaloneHost(): DeviceHost {
  return {
    now: () => Date.now(),
    schedule: (atMs, fn) => {
      setTimeout(fn, Math.min(Math.max(0, atMs - Date.now()), 0x7fffffff));
    },
    runSession: (fn) => fn(),
  };
}

export function resolveProfile(opts: Partial<DeviceProfile>): DeviceProfile {
  return {
    identity: opts.identity ?? DEFAULT_IDENTITY,
    encoding: opts.encoding ?? 'xml',
    opaqueItemData: opts.opaqueItemData ?? false,
    sseRoot: opts.sseRoot ?? './SSE',
    fumoRoot: opts.fumoRoot ?? false,
    scomoRoot: opts.scomoRoot ?? false,
    delivery: { ...DEFAULT_DELIVERY, ...opts.delivery },
    // The default targets include ./FUMO/fw1/*: not inside a real FUMO MO.
    execTargets:
      opts.execTargets ??
      (opts.fumoRoot ? DEFAULT_EXEC_TARGETS.filter((u) => !isUnder(u, opts.fumoRoot as string)) : DEFAULT_EXEC_TARGETS),
    maxMsgSize: opts.maxMsgSize ?? 16_384,
    maxObjSize: opts.maxObjSize ?? 1_048_576,
    transport: opts.transport ?? createHttpTransport(),
    host: opts.host ?? standaloneHost(),
    ...(opts.arm !== undefined && { arm: opts.arm }),
    ...(opts.ui !== undefined && { ui: opts.ui }),
    ...(opts.bootstrapSecrets !== undefined && { bootstrapSecrets: opts.bootstrapSecrets }),
    ...(opts.notificationUrlFor !== undefined && { notificationUrlFor: opts.notificationUrlFor }),
    acceptUnsignedBootstrap: opts.acceptUnsignedBootstrap ?? false,
    bootstrapSessionDelayMs: opts.bootstrapSessionDelayMs ?? 100,
    verifyServerCred: opts.verifyServerCred ?? true,
    requireServerCred: opts.requireServerCred ?? false,
    serverNonceRotation: opts.serverNonceRotation ?? 'when-needed',
    failureRate: opts.failureRate ?? 0,
    failureStatus: opts.failureStatus ?? 500,
    random: opts.random ?? Math.random,
    utcOffsetMinutes: opts.utcOffsetMinutes ?? 0,
    keepTrees: opts.keepTrees ?? false,
    maxMessagesPerSession: opts.maxMessagesPerSession ?? 200,
    triggerDedupMs: opts.triggerDedupMs ?? 30_000,
    alertRetryMs: opts.alertRetryMs ?? 5_000,
    busyRetries: opts.busyRetries ?? 10,
    traceEvents: opts.traceEvents ?? 0,
  };
}

/** Executable nodes every simulated device offers unless told otherwise. */
export const DEFAULT_EXEC_TARGETS: readonly string[] = Object.freeze([
  './FUMO/fw1/Update',
  './FUMO/fw1/DownloadAndUpdate',
  './Ext/Sim/Reboot',
]);

export { createHttpTransport, type DmTransport, type HttpResponse, type HttpTransportOptions } from './http-transport.js';

/**
 * Retry-After as milliseconds from `now`: delta-seconds or an HTTP-date
 * (RFC 9110 §10.2.3); undefined when absent or unreadable.
 */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
