/**
 * A fleet of simulated devices in one process: one notification/bootstrap
 * HTTP listener for all of them, one scheduler (a min-heap under a single
 * timer) for every armed SingleShotExec, bootstrap follow-up and offline
 * device coming back, a limit on simultaneous sessions, and fleet-wide stats.
 *
 * Lean by construction: a device is a small object (~400 B) until used. Its
 * DM account (secrets derived from `secretSeed` with HMAC-SHA256, so a rerun
 * with the same seed reproduces them) and its management tree are built on
 * first use, and the tree is dropped again after each use (see
 * simulated-device.ts: it is rebuilt from a template and a journal).
 *
 * Offline devices are spread evenly: device i is offline when
 * floor((i+1)·share) > floor(i·share), so exactly floor(n·share) are.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DeviceAuthType } from '../dm/auth/credentials.js';
import { BOOTSTRAP_MEDIA_TYPE, type BootstrapSecrets } from '../dm/bootstrap/security.js';
import type { SyncMlEncoding } from '../dm/codec/types.js';
import { CONTENT_TYPE_DM_NOTIFICATION } from '../dm/notification/wap-push.js';
import { luhnValid } from '../domain/device-id.js';
import { DEFAULT_DELIVERY, type DeliveryCounters, type DeliveryOptions } from './mo/delivery.js';
import { drawLatency, type LatencyRange, latencyRange, lossyTransport } from './network.js';
import {
  createHttpTransport,
  type DeviceHost,
  type DeviceIdentity,
  type DeviceProfile,
  type DeviceStat,
  type DmAccount,
  type DmTransport,
  resolveProfile,
  SimulatedDevice,
} from './simulated-device.js';

export interface FleetOptions {
  /** Number of devices. */
  devices: number;
  /** The DM server URL every device's account points at. */
  serverUrl: string;
  /** Several DM server URLs instead: device i's account points at the (i mod n)th (one DM process each, no load balancer). */
  serverUrls?: readonly string[];
  /** DMAcc ServerID; default `dmwsi-gateway` (the gateway's DM_SERVER_ID default). */
  serverId?: string;
  /** Prefix of every device id; default `IMEI:`. */
  idPrefix?: string;
  /** First IMEI: 14 digits (the check digit is appended) or 15 (its check digit is recomputed). */
  imeiStart?: string;
  /** Phone numbers are this prefix + a 7-digit counter; default `+1555`. */
  phonePrefix?: string;
  /** Written to the credentials CSV. */
  capabilityOid?: string;
  encoding?: SyncMlEncoding;
  authType?: DeviceAuthType;
  /** Default `./SSE`; false: no SSE MO. */
  sseRoot?: string | false;
  /** The FUMO node, e.g. `./FUMO`; default none. */
  fumoRoot?: string | false;
  /** The SCOMO root, e.g. `./SCOMO`; default none. */
  scomoRoot?: string | false;
  /** FUMO/SCOMO failure shares, install time, interrupted downloads (drawn from `random`). */
  delivery?: Partial<DeliveryOptions>;
  execTargets?: readonly string[];
  identity?: DeviceIdentity;
  /** Fraction (0..1) of devices that start offline. */
  offlineShare?: number;
  /** Offline devices come online this long after the fleet is created; default: never by themselves. */
  offlineForMs?: number;
  /**
   * Offline devices come online each at its own random moment within this
   * window (after `offlineForMs`, if given), not all at once.
   */
  comeOnlineWithinMs?: number;
  /** Added before each HTTP post: a fixed delay, or a range drawn per message (a slow cell: 300–3,000 ms). */
  latencyMs?: number | LatencyRange;
  /** Fraction (0..1) of HTTP posts lost at the transport: half never arrive, half lose their answer. */
  failShare?: number;
  /** Fraction (0..1) of devices that drop their first Package#0 (answered 200, never acted on). */
  ignoreFirstNotificationShare?: number;
  /** Fraction (0..1) of exec-target Execs that fail, with `failureStatus` (default 500). */
  failureRate?: number;
  failureStatus?: number;
  /** Simultaneous sessions; default 64. */
  maxConcurrentSessions?: number;
  /** The last notifications and sessions each device keeps for `GET /device/<id>` (DeviceProfile.traceEvents); default 0. */
  traceEvents?: number;
  /**
   * Open connections to each DM server, shared by the sessions (keep-alive);
   * default `maxConcurrentSessions`. Beyond it a message waits for a free
   * connection (its HTTP timeout starts once it has one): a fleet of 20,000
   * sessions would otherwise hold 20,000 sockets and run out of file
   * descriptors and local ports before the gateway is loaded.
   */
  maxSockets?: number;
  /** Listener address; default 127.0.0.1 on an ephemeral port; false: no listener. */
  listen?: { host?: string; port?: number } | false;
  /** Base URL servers reach the listener at, when it differs from the bound address. */
  publicBaseUrl?: string;
  /** Seed of the derived secrets; default random (so not reproducible). */
  secretSeed?: string;
  transport?: DmTransport;
  clock?: () => number;
  random?: () => number;
  bootstrapSecrets?: BootstrapSecrets | ((device: SimulatedDevice) => BootstrapSecrets);
  acceptUnsignedBootstrap?: boolean;
  /** Further profile settings shared by every device. */
  profile?: Partial<DeviceProfile>;
}

export interface FleetStats {
  devices: number;
  online: number;
  sessionsOk: number;
  sessionsFailed: number;
  /** Failed sessions by reason (e.g. `HTTP 503`, `no answer within 30000 ms`); at most 20 reasons, the rest as `other`. */
  sessionFailures: Record<string, number>;
  activeSessions: number;
  /** Most sessions open at once since the fleet was created. */
  peakSessions: number;
  queuedSessions: number;
  notificationsReceived: number;
  notificationsRejected: number;
  notificationsIgnored: number;
  executions: number;
  executionsFailed: number;
  schedulesArmed: number;
  schedulesFired: number;
  schedulesMissed: number;
  alertsReported: number;
  bootstraps: number;
  bootstrapsRejected: number;
  /** FUMO/SCOMO jobs that reported success (200, 1200) or anything else. */
  deliveriesSucceeded: number;
  deliveriesFailed: number;
  /** Package#0 dropped by devices that ignore their first one. */
  notificationsDropped: number;
  /** HTTP posts lost by the simulated network (`failShare`). */
  messagesLost: number;
  /** Sessions the server turned away (503 with Retry-After) and the device opened again after that delay. */
  busyRetries: number;
  scheduled: number;
}

/** What one device did with FUMO/SCOMO (`GET /deliveries`), to compare with the gateway's task outcomes. */
export interface DeviceDeliveryReport extends DeliveryCounters {
  fwV: string;
  inventory: SimulatedDevice['inventory'];
}

/** The gateway's import columns (the contract's CSV header). */
export const CREDENTIALS_CSV_COLUMNS = [
  'deviceId',
  'phoneNumber',
  'capabilityOid',
  'notificationUrl',
  'clientUsername',
  'clientPassword',
  'serverPassword',
] as const;

const MAX_BODY = 64 * 1024;
const MAX_TIMEOUT = 0x7fffffff;
/**
 * How long the scheduler's timer runs due entries before it lets I/O in: a
 * rollout's devices share one AtTime, and firing 100,000 schedules in one
 * go held the fleet's event loop ~7 s, every session it started meanwhile
 * waiting to send its first message (the gateway idle), which no network of
 * independent devices does.
 */
const SLICE_MS = 10;

// ---- scheduler --------------------------------------------------------------------

interface ScheduledEntry {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * Min-heap of callbacks by time (ties in scheduling order) under one timer
 * set for the earliest entry.
 */
export class FleetScheduler {
  private readonly heap: ScheduledEntry[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private running = false;
  /** Set while due entries are left for the next turn (SLICE_MS); the timer is not armed meanwhile. */
  private resume: NodeJS.Immediate | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.heap.length;
  }

  /** Time of the earliest entry, if any. */
  get nextAt(): number | undefined {
    return this.heap[0]?.at;
  }

  schedule(at: number, fn: () => void): void {
    const entry = { at, seq: this.seq++, fn };
    this.heap.push(entry);
    this.up(this.heap.length - 1);
    if (this.running && this.resume === undefined && at < this.timerAt) this.arm();
  }

  /** Runs every entry due at `now` in order (callbacks may schedule more); returns how many ran. */
  runDue(now: number = this.now()): number {
    let ran = 0;
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      this.runNext();
      ran++;
    }
    return ran;
  }

  start(): void {
    this.running = true;
    this.arm();
  }

  stop(): void {
    this.running = false;
    if (this.resume) clearImmediate(this.resume);
    this.resume = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const first = this.heap[0];
    if (!this.running || !first) return;
    this.timerAt = first.at;
    const delay = Math.min(Math.max(0, first.at - this.now()), MAX_TIMEOUT);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.runSlice();
    }, delay);
  }

  /** Runs due entries for SLICE_MS at most; what is still due runs in the next turn, after I/O. */
  private runSlice(): void {
    this.resume = undefined;
    if (!this.running) return;
    const now = this.now();
    const until = performance.now() + SLICE_MS;
    while (this.heap.length > 0 && this.heap[0]!.at <= now && performance.now() < until) this.runNext();
    if (this.heap.length > 0 && this.heap[0]!.at <= now) this.resume = setImmediate(() => this.runSlice());
    else this.arm();
  }

  private runNext(): void {
    try {
      this.pop().fn();
    } catch {
      // One device's failure must not stop the others' schedules.
    }
  }

  private pop(): ScheduledEntry {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      this.down(0);
    }
    return top;
  }

  private less(a: ScheduledEntry, b: ScheduledEntry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private up(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < heap.length && this.less(heap[l]!, heap[min]!)) min = l;
      if (r < heap.length && this.less(heap[r]!, heap[min]!)) min = r;
      if (min === i) return;
      [heap[i], heap[min]] = [heap[min]!, heap[i]!];
      i = min;
    }
  }
}

// ---- session gate -------------------------------------------------------------------

/** Counting semaphore with a FIFO queue. */
class SessionGate {
  active = 0;
  /** Most sessions running at once so far. */
  peak = 0;
  private readonly waiting: (() => void)[] = [];
  private head = 0;

  constructor(private readonly limit: number) {}

  get queued(): number {
    return this.waiting.length - this.head;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
      if (this.active > this.peak) this.peak = this.active;
    }
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private release(): void {
    if (this.head < this.waiting.length) {
      const next = this.waiting[this.head]!;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      next(); // the slot passes on: `active` is unchanged
    } else {
      this.active--;
    }
  }
}

// ---- ids ------------------------------------------------------------------------------

/** Appends the Luhn check digit to 14 digits (an IMEI body). */
export function imeiWithCheckDigit(body14: string): string {
  if (!/^\d{14}$/.test(body14)) throw new RangeError(`IMEI body must be 14 digits: ${body14}`);
  for (let d = 0; d <= 9; d++) {
    if (luhnValid(body14 + d)) return body14 + d;
  }
  throw new Error('unreachable: some check digit always fits');
}

/** `count` consecutive IMEIs from `start` (14 digits, or 15 whose last digit is ignored). */
export function generateImeis(start: string, count: number): string[] {
  if (!/^\d{14,15}$/.test(start)) throw new RangeError(`IMEI start must be 14 or 15 digits: ${start}`);
  const first = BigInt(start.slice(0, 14));
  if (first + BigInt(count) > 99_999_999_999_999n + 1n) throw new RangeError('IMEI range overflows 14 digits');
  const out: string[] = new Array(count);
  // Counting in a Number is exact: 14 digits stay far below 2^53.
  const base = Number(first);
  for (let i = 0; i < count; i++) out[i] = imeiWithCheckDigit(String(base + i).padStart(14, '0'));
  return out;
}

// ---- fleet ------------------------------------------------------------------------------

export class Fleet {
  readonly devices: readonly SimulatedDevice[];
  readonly scheduler: FleetScheduler;
  readonly profile: DeviceProfile;
  readonly capabilityOid: string;
  private readonly byId = new Map<string, SimulatedDevice>();
  private readonly gate: SessionGate;
  /** Devices that will drop their next Package#0 (each once). */
  private readonly dropFirstNotification = new Set<SimulatedDevice>();
  private readonly counters: Omit<FleetStats, 'devices' | 'online' | 'activeSessions' | 'peakSessions' | 'queuedSessions' | 'scheduled'>;
  private readonly ownTransport: (DmTransport & { close(): void }) | undefined;
  private server: http.Server | undefined;
  private base: string | undefined;

  constructor(private readonly opts: FleetOptions) {
    const now = opts.clock ?? Date.now;
    this.scheduler = new FleetScheduler(now);
    this.gate = new SessionGate(Math.max(1, opts.maxConcurrentSessions ?? 64));
    this.capabilityOid = opts.capabilityOid ?? 'sim-phone-1';
    this.counters = {
      sessionsOk: 0,
      sessionsFailed: 0,
      sessionFailures: {},
      notificationsReceived: 0,
      notificationsRejected: 0,
      notificationsIgnored: 0,
      executions: 0,
      executionsFailed: 0,
      schedulesArmed: 0,
      schedulesFired: 0,
      schedulesMissed: 0,
      alertsReported: 0,
      bootstraps: 0,
      bootstrapsRejected: 0,
      deliveriesSucceeded: 0,
      deliveriesFailed: 0,
      notificationsDropped: 0,
      messagesLost: 0,
      busyRetries: 0,
    };
    const random = opts.random ?? Math.random;
    const latency = latencyRange(opts.latencyMs);
    const host: DeviceHost = {
      now,
      schedule: (at, fn) => this.scheduler.schedule(at, fn),
      runSession: (fn) => this.gate.run(fn),
      ...(latency.maxMs > 0 && {
        beforePost: () => new Promise<void>((r) => setTimeout(r, drawLatency(latency, random))),
      }),
      record: (stat, _device, detail) => this.record(stat, detail),
    };
    this.ownTransport = opts.transport ? undefined : createHttpTransport({ maxSockets: opts.maxSockets ?? opts.maxConcurrentSessions ?? 64 });
    const transport = lossyTransport(opts.transport ?? this.ownTransport!, opts.failShare ?? 0, random, () => {
      this.counters.messagesLost++;
    });
    this.profile = resolveProfile({
      ...opts.profile,
      host,
      transport,
      ...(opts.encoding !== undefined && { encoding: opts.encoding }),
      ...(opts.sseRoot !== undefined && { sseRoot: opts.sseRoot }),
      ...(opts.fumoRoot !== undefined && { fumoRoot: opts.fumoRoot }),
      ...(opts.scomoRoot !== undefined && { scomoRoot: opts.scomoRoot }),
      ...(opts.delivery !== undefined && { delivery: { ...DEFAULT_DELIVERY, ...opts.profile?.delivery, ...opts.delivery } }),
      ...(opts.execTargets !== undefined && { execTargets: opts.execTargets }),
      ...(opts.identity !== undefined && { identity: opts.identity }),
      ...(opts.failureRate !== undefined && { failureRate: opts.failureRate }),
      ...(opts.failureStatus !== undefined && { failureStatus: opts.failureStatus }),
      ...(opts.random !== undefined && { random: opts.random }),
      ...(opts.traceEvents !== undefined && { traceEvents: opts.traceEvents }),
      ...(opts.bootstrapSecrets !== undefined && { bootstrapSecrets: opts.bootstrapSecrets }),
      ...(opts.acceptUnsignedBootstrap !== undefined && { acceptUnsignedBootstrap: opts.acceptUnsignedBootstrap }),
      notificationUrlFor: (devId) => this.notificationUrlFor(devId),
    });

    const seed = opts.secretSeed ?? randomBytes(16).toString('hex');
    const serverId = opts.serverId ?? 'dmwsi-gateway';
    const authType = opts.authType ?? 'md5';
    const empty = Buffer.alloc(0);
    const accountAt = (serverUrl: string) => (devId: string): DmAccount => ({
      accName: 'dmacc',
      serverUrl,
      serverId,
      authType,
      clientUsername: devId,
      clientPassword: deriveSecret(seed, 'client', devId),
      serverPassword: deriveSecret(seed, 'server', devId),
      clientNonce: empty,
      serverNonce: empty,
    });
    const accounts = (opts.serverUrls?.length ? opts.serverUrls : [opts.serverUrl]).map(accountAt);

    const n = opts.devices;
    const prefix = opts.idPrefix ?? 'IMEI:';
    const imeis = generateImeis(opts.imeiStart ?? '49015420000000', n);
    const phonePrefix = opts.phonePrefix ?? '+1555';
    const share = Math.min(1, Math.max(0, opts.offlineShare ?? 0));
    const ignoreShare = Math.min(1, Math.max(0, opts.ignoreFirstNotificationShare ?? 0));
    const devices: SimulatedDevice[] = new Array(n);
    const offline: SimulatedDevice[] = [];
    for (let i = 0; i < n; i++) {
      const isOffline = Math.floor((i + 1) * share) > Math.floor(i * share);
      const device = new SimulatedDevice({
        devId: prefix + imeis[i]!,
        phoneNumber: phonePrefix + String(i + 1).padStart(7, '0'),
        account: accounts[i % accounts.length]!,
        profile: this.profile,
        online: !isOffline,
      });
      devices[i] = device;
      this.byId.set(device.devId, device);
      if (isOffline) offline.push(device);
      if (ignoreShare > 0 && random() < ignoreShare) this.dropFirstNotification.add(device);
    }
    this.devices = devices;
    const window = opts.comeOnlineWithinMs;
    if (opts.offlineForMs !== undefined || window !== undefined) {
      const from = now() + (opts.offlineForMs ?? 0);
      for (const device of offline) {
        const at = window === undefined ? from : from + random() * window;
        this.scheduler.schedule(at, () => device.setOnline(true));
      }
    }
  }

  /**
   * Every online device opens one client-initiated session, as a fleet in
   * service checks in now and then; the sessions queue for the session cap.
   * Returns how many devices were asked; `stats()` counts their sessions.
   */
  checkIn(): number {
    let asked = 0;
    for (const device of this.devices) {
      if (!device.online) continue;
      void device.runSession({ kind: 'client-initiated' });
      asked++;
    }
    return asked;
  }

  get(deviceId: string): SimulatedDevice | undefined {
    return this.byId.get(deviceId);
  }

  /** The listener's base URL once started (e.g. http://127.0.0.1:40123). */
  get baseUrl(): string | undefined {
    return this.opts.publicBaseUrl?.replace(/\/+$/, '') ?? this.base;
  }

  notificationUrlFor(deviceId: string): string | undefined {
    const base = this.baseUrl;
    return base === undefined ? undefined : `${base}/notify/${encodeURIComponent(deviceId)}`;
  }

  bootstrapUrlFor(deviceId: string): string | undefined {
    const base = this.baseUrl;
    return base === undefined ? undefined : `${base}/bootstrap/${encodeURIComponent(deviceId)}`;
  }

  /** Starts the listener (unless `listen: false`) and the scheduler; returns the listener's base URL. */
  async start(): Promise<{ url: string | undefined }> {
    const listen = this.opts.listen;
    if (!this.server && listen !== false) {
      const server = http.createServer((req, res) => this.handle(req, res));
      server.keepAliveTimeout = 30_000;
      const host = listen?.host ?? '127.0.0.1';
      const port = listen?.port ?? 0;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const addr = server.address() as AddressInfo;
      const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      this.base = `http://${shownHost}:${addr.port}`;
      this.server = server;
    }
    this.scheduler.start();
    return { url: this.baseUrl };
  }

  async stop(): Promise<void> {
    this.scheduler.stop();
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    this.ownTransport?.close();
  }

  /** Resolves when no session is running or queued (polls every `intervalMs`). */
  async idle(intervalMs = 10, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.gate.active > 0 || this.gate.queued > 0 || this.devices.some((d) => d.busy)) {
      if (Date.now() > deadline) throw new Error('fleet still busy');
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /** Brings every offline device online (each reports missed schedules and checks in). */
  bringOnline(): number {
    let n = 0;
    for (const device of this.devices) {
      if (!device.online) {
        device.setOnline(true);
        n++;
      }
    }
    return n;
  }

  stats(): FleetStats {
    let online = 0;
    for (const d of this.devices) if (d.online) online++;
    return {
      devices: this.devices.length,
      online,
      ...this.counters,
      sessionFailures: { ...this.counters.sessionFailures },
      activeSessions: this.gate.active,
      peakSessions: this.gate.peak,
      queuedSessions: this.gate.queued,
      scheduled: this.scheduler.size,
    };
  }

  /**
   * Exec counts per device and exec target URI, for the devices that ran
   * anything (`GET /executions`): what a crash test compares with the
   * gateway's tasks, since only the device knows how often it really ran.
   */
  executions(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const d of this.devices) {
      if (d.executions.size > 0) out[d.devId] = Object.fromEntries(d.executions);
    }
    return out;
  }

  /** Per device that ran a FUMO/SCOMO job: downloads, bytes, results sent, current FwV and inventory. */
  deliveries(): Record<string, DeviceDeliveryReport> {
    const out: Record<string, DeviceDeliveryReport> = {};
    for (const d of this.devices) {
      const c = d.delivery;
      if (c.downloadsStarted === 0 && c.results.length === 0) continue;
      out[d.devId] = { ...c, fwV: d.firmwareVersion, inventory: d.inventory };
    }
    return out;
  }

  /** Rows for the gateway's importDeviceInstances CSV (derives every account). */
  *credentialsCsvLines(): Generator<string> {
    const withAuth = (this.opts.authType ?? 'md5') !== 'md5';
    yield [...CREDENTIALS_CSV_COLUMNS, ...(withAuth ? ['authType'] : [])].join(',');
    for (const d of this.devices) {
      const a = d.account;
      const row = [
        d.devId,
        d.phoneNumber ?? '',
        this.capabilityOid,
        d.notificationUrl ?? '',
        a.clientUsername,
        a.clientPassword,
        a.serverPassword,
        ...(withAuth ? [a.authType] : []),
      ];
      yield row.map(csvField).join(',');
    }
  }

  credentialsCsv(): string {
    return `${[...this.credentialsCsvLines()].join('\n')}\n`;
  }

  async writeCredentialsCsv(path: string): Promise<void> {
    const out = createWriteStream(path, { encoding: 'utf8' });
    const done = new Promise<void>((resolve, reject) => {
      out.on('finish', () => resolve());
      out.on('error', reject);
    });
    let batch: string[] = [];
    for (const line of this.credentialsCsvLines()) {
      batch.push(line);
      if (batch.length >= 1000) {
        if (!out.write(`${batch.join('\n')}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
        batch = [];
      }
    }
    out.end(batch.length > 0 ? `${batch.join('\n')}\n` : '');
    await done;
  }

  // ---- HTTP listener --------------------------------------------------------------------

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const answer = (status: number, text: string, type = 'text/plain; charset=utf-8') => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'GET' && path === '/stats') {
      answer(200, JSON.stringify(this.stats()), 'application/json');
      return;
    }
    if (req.method === 'GET' && path === '/deliveries') {
      answer(200, JSON.stringify(this.deliveries()), 'application/json');
      return;
    }
    if (req.method === 'GET' && path === '/executions') {
      answer(200, JSON.stringify(this.executions()), 'application/json');
      return;
    }
    const one = /^\/device\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && one) {
      let device: SimulatedDevice | undefined;
      try {
        device = this.byId.get(decodeURIComponent(one[1]!));
      } catch {
        device = undefined;
      }
      if (!device) answer(404, 'unknown device\n');
      else answer(200, JSON.stringify({ ...device.describe(), dropsNextNotification: this.dropFirstNotification.has(device) }), 'application/json');
      return;
    }
    if (req.method === 'POST' && path === '/check-in') {
      req.resume();
      answer(202, JSON.stringify({ checkingIn: this.checkIn() }), 'application/json');
      return;
    }
    const m = /^\/(notify|bootstrap)\/([^/]+)$/.exec(path);
    if (!m) {
      answer(404, 'not found\n');
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      answer(405, 'POST only\n');
      return;
    }
    let deviceId: string;
    try {
      deviceId = decodeURIComponent(m[2]!);
    } catch {
      answer(400, 'bad device id\n');
      return;
    }
    const device = this.byId.get(deviceId);
    if (!device) {
      req.resume();
      answer(404, 'unknown device\n');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        answer(413, 'too large\n');
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY) return;
      const body = Buffer.concat(chunks);
      const contentType = req.headers['content-type'] ?? '';
      const media = contentType.split(';')[0]!.trim().toLowerCase();
      // The gateway pushes Package#0 and DM bootstraps to the one notification URL: route by media type.
      if (m[1] === 'notify' && media !== BOOTSTRAP_MEDIA_TYPE) {
        if (media !== CONTENT_TYPE_DM_NOTIFICATION) {
          answer(415, `expected ${CONTENT_TYPE_DM_NOTIFICATION} or ${BOOTSTRAP_MEDIA_TYPE}\n`);
          return;
        }
        if (this.dropFirstNotification.delete(device)) {
          // As a handset that missed the push: the gateway saw it delivered and must wake the device again.
          this.counters.notificationsDropped++;
          device.note('notification dropped (the device drops its first)');
          answer(200, 'accepted\n');
          return;
        }
        const result = device.receiveNotification(body);
        answer(result.accepted ? 200 : 400, result.accepted ? 'accepted\n' : `${result.reason}\n`);
        return;
      }
      const result = device.receiveBootstrap(body, contentType);
      answer(result.ok ? 200 : 400, result.ok ? 'applied\n' : `${result.reason}\n`);
    });
    req.on('error', () => answer(400, 'bad request\n'));
  }

  private record(stat: DeviceStat, detail?: string): void {
    const c = this.counters;
    switch (stat) {
      case 'session-ok':
        c.sessionsOk++;
        break;
      case 'session-failed': {
        c.sessionsFailed++;
        const known = detail !== undefined && (Object.hasOwn(c.sessionFailures, detail) || Object.keys(c.sessionFailures).length < 20);
        const reason = known ? detail : 'other';
        c.sessionFailures[reason] = (c.sessionFailures[reason] ?? 0) + 1;
        break;
      }
      case 'notification':
        c.notificationsReceived++;
        break;
      case 'notification-rejected':
        c.notificationsRejected++;
        break;
      case 'notification-ignored':
        c.notificationsIgnored++;
        break;
      case 'execution':
        c.executions++;
        break;
      case 'execution-failed':
        c.executions++;
        c.executionsFailed++;
        break;
      case 'schedule-armed':
        c.schedulesArmed++;
        break;
      case 'schedule-fired':
        c.schedulesFired++;
        break;
      case 'schedule-missed':
        c.schedulesMissed++;
        break;
      case 'alert-reported':
        c.alertsReported++;
        break;
      case 'bootstrap':
        c.bootstraps++;
        break;
      case 'bootstrap-rejected':
        c.bootstrapsRejected++;
        break;
      case 'delivery-succeeded':
        c.deliveriesSucceeded++;
        break;
      case 'delivery-failed':
        c.deliveriesFailed++;
        break;
      case 'busy-retry':
        c.busyRetries++;
        break;
    }
  }
}

/** A secret of 24 base64url characters (144 bits) from the seed, the kind and the device id. */
export function deriveSecret(seed: string, kind: 'client' | 'server', deviceId: string): string {
  return createHmac('sha256', seed).update(`${kind}:${deviceId}`).digest('base64url').slice(0, 24);
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
