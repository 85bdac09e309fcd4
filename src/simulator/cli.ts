/**
 * `dmwsi simulate`: runs a fleet of simulated DM 1.2 devices against a DM
 * server, listening for HTTP notifications and bootstraps, and optionally
 * writes the devices' credentials as the gateway's import CSV.
 *
 * `buildSimulateCommand()` is the commander wiring; `runSimulateCommand()`
 * does the work and returns a handle, so tests and scripts can drive it
 * without a process.
 */
import { randomBytes } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from 'commander';
import { AUTH_TYPES, type DeviceAuthType } from '../domain/registry.js';
import { Fleet, type FleetStats } from './fleet.js';
import { type LatencyRange, parseLatency } from './network.js';
import { runSimulateDm2 } from './dm2/cli.js';

export interface SimulateOptions {
  devices: number;
  /**
   * DM server URL, e.g. http://127.0.0.1:8080/dm; several, comma-separated,
   * spread the devices round-robin (one DM process per URL, no load balancer).
   */
  server: string;
  /** `host:port` of the notification/bootstrap listener (port 0: ephemeral). */
  listen: string;
  /** Base URL written as notificationUrl when servers reach the listener elsewhere. */
  publicUrl?: string;
  idPrefix: string;
  imeiStart: string;
  phonePrefix: string;
  encoding: 'xml' | 'wbxml';
  /** WBXML: every node value as OPAQUE, as SyncML reference toolkit clients send it. */
  opaqueData?: boolean;
  auth: DeviceAuthType;
  serverId: string;
  offlineShare: number;
  offlineForMs?: number;
  /** Offline devices come online each at a random moment within this window. */
  comeOnlineWithinMs?: number;
  /** A fixed delay or a range drawn per message. */
  latencyMs: number | LatencyRange;
  /** Share of HTTP posts lost at the transport. */
  failShare?: number;
  /** Share of devices that drop their first Package#0. */
  ignoreFirstNotificationShare?: number;
  failureRate: number;
  failureStatus: number;
  maxSessions: number;
  /** Open connections per DM server, shared by the sessions; default `maxSessions`. */
  maxSockets?: number;
  /** Notifications and sessions each device keeps for GET /device/<id>; default 0. */
  traceEvents?: number;
  sseRoot: string;
  /** FUMO node (e.g. ./FUMO); absent: no FUMO MO. */
  fumoRoot?: string;
  /** SCOMO root (e.g. ./SCOMO); absent: no SCOMO MO. */
  scomoRoot?: string;
  /** FUMO/SCOMO failure shares (0..1 each). */
  downloadFailedShare?: number;
  outOfMemoryShare?: number;
  corruptPackageShare?: number;
  installFailedShare?: number;
  userPostponedShare?: number;
  /** Share of downloads dropped halfway and resumed with Range. */
  interruptedDownloadShare?: number;
  installMs?: number;
  /** Seed of every random draw (failures, shares, session ids): a rerun with it repeats them. */
  randomSeed?: number;
  capabilityOid: string;
  credentialsCsv?: string;
  /** Seed of the derived secrets; random when absent (printed, so a rerun can reuse it). */
  secretSeed?: string;
  /** PIN for USERPIN bootstraps. */
  bootstrapPin?: string;
  /** Seconds between stats lines; 0: none. */
  statsInterval: number;
  /** `2.0`: simulated DM 2.0 devices against `/dm2` (src/simulator/dm2/cli.ts). Default 1.2. */
  dmVersion?: '1.2' | '2.0';
}

export const SIMULATE_DEFAULTS: Readonly<SimulateOptions> = Object.freeze({
  devices: 10,
  server: 'http://127.0.0.1:8080/dm',
  listen: '127.0.0.1:8091',
  idPrefix: 'IMEI:',
  imeiStart: '49015420000000',
  phonePrefix: '+1555',
  encoding: 'xml',
  auth: 'md5',
  serverId: 'dmwsi-gateway',
  offlineShare: 0,
  latencyMs: 0,
  failureRate: 0,
  failureStatus: 500,
  maxSessions: 64,
  sseRoot: './SSE',
  capabilityOid: 'sim-phone-1',
  statsInterval: 10,
});

export interface SimulateHandle {
  fleet: Fleet;
  /** Listener base URL. */
  url: string | undefined;
  secretSeed: string;
  /** Milliseconds spent creating the fleet. */
  createdInMs: number;
  stop(): Promise<void>;
}

export async function runSimulateCommand(
  options: Partial<SimulateOptions>,
  log: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<SimulateHandle> {
  const opts: SimulateOptions = { ...SIMULATE_DEFAULTS, ...options };
  const { host, port } = parseListen(opts.listen);
  const secretSeed = opts.secretSeed ?? randomBytes(16).toString('hex');
  const t0 = performance.now();
  const fleet = new Fleet({
    devices: opts.devices,
    serverUrl: opts.server.split(',')[0]!,
    serverUrls: opts.server.split(','),
    serverId: opts.serverId,
    idPrefix: opts.idPrefix,
    imeiStart: opts.imeiStart,
    phonePrefix: opts.phonePrefix,
    capabilityOid: opts.capabilityOid,
    encoding: opts.encoding,
    authType: opts.auth,
    sseRoot: opts.sseRoot,
    ...(opts.fumoRoot !== undefined && { fumoRoot: opts.fumoRoot }),
    ...(opts.scomoRoot !== undefined && { scomoRoot: opts.scomoRoot }),
    delivery: {
      failureShares: {
        downloadFailed: opts.downloadFailedShare ?? 0,
        outOfMemory: opts.outOfMemoryShare ?? 0,
        corruptPackage: opts.corruptPackageShare ?? 0,
        installFailed: opts.installFailedShare ?? 0,
        userPostponed: opts.userPostponedShare ?? 0,
      },
      interruptedShare: opts.interruptedDownloadShare ?? 0,
      ...(opts.installMs !== undefined && { installMs: opts.installMs }),
    },
    ...(opts.randomSeed !== undefined && { random: seededRandom(opts.randomSeed) }),
    offlineShare: opts.offlineShare,
    ...(opts.offlineForMs !== undefined && { offlineForMs: opts.offlineForMs }),
    ...(opts.comeOnlineWithinMs !== undefined && { comeOnlineWithinMs: opts.comeOnlineWithinMs }),
    latencyMs: opts.latencyMs,
    ...(opts.failShare !== undefined && { failShare: opts.failShare }),
    ...(opts.ignoreFirstNotificationShare !== undefined && { ignoreFirstNotificationShare: opts.ignoreFirstNotificationShare }),
    failureRate: opts.failureRate,
    failureStatus: opts.failureStatus,
    maxConcurrentSessions: opts.maxSessions,
    ...(opts.traceEvents !== undefined && { traceEvents: opts.traceEvents }),
    ...(opts.maxSockets !== undefined && { maxSockets: opts.maxSockets }),
    listen: { host, port },
    ...(opts.publicUrl !== undefined && { publicBaseUrl: opts.publicUrl }),
    secretSeed,
    ...(opts.bootstrapPin !== undefined && { bootstrapSecrets: { pin: opts.bootstrapPin } }),
    ...(opts.opaqueData === true && { profile: { opaqueItemData: true } }),
  });
  const createdInMs = performance.now() - t0;
  const { url } = await fleet.start();
  log(`simulate: ${opts.devices} devices created in ${createdInMs.toFixed(0)} ms; DM server ${opts.server}`);
  log(`simulate: listening on ${url} (POST /notify/<deviceId>, POST /bootstrap/<deviceId>, GET /stats)`);
  if (options.secretSeed === undefined) log(`simulate: secret seed ${secretSeed} (pass --secret-seed to reuse the credentials)`);
  if (opts.credentialsCsv) {
    await fleet.writeCredentialsCsv(opts.credentialsCsv);
    log(`simulate: credentials written to ${opts.credentialsCsv} (import with importDeviceInstances)`);
  }
  let timer: NodeJS.Timeout | undefined;
  if (opts.statsInterval > 0) {
    timer = setInterval(() => log(`simulate: ${formatStats(fleet.stats())}`), opts.statsInterval * 1000);
    timer.unref();
  }
  return {
    fleet,
    url,
    secretSeed,
    createdInMs,
    async stop() {
      if (timer) clearInterval(timer);
      await fleet.stop();
      log(`simulate: stopped; ${formatStats(fleet.stats())}`);
    },
  };
}

export function formatStats(s: FleetStats): string {
  return [
    `sessions ok=${s.sessionsOk} failed=${s.sessionsFailed} active=${s.activeSessions} peak=${s.peakSessions} queued=${s.queuedSessions}`,
    `notifications ok=${s.notificationsReceived} rejected=${s.notificationsRejected} ignored=${s.notificationsIgnored} dropped=${s.notificationsDropped}`,
    `messages lost=${s.messagesLost}`,
    `execs=${s.executions} failed=${s.executionsFailed}`,
    `sse armed=${s.schedulesArmed} fired=${s.schedulesFired} missed=${s.schedulesMissed}`,
    `alerts=${s.alertsReported} online=${s.online}/${s.devices}`,
    `deliveries ok=${s.deliveriesSucceeded} failed=${s.deliveriesFailed}`,
  ].join('; ');
}

/** `host:port`, `[v6]:port`, `:port` or `port`. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*))?:?(\d+)$/.exec(text.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`expected host:port, got "${text}"`);
  }
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}

function fraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new InvalidArgumentError('expected a number from 0 to 1');
  }
  return n;
}

/** `300` or `300-3000` (milliseconds, at most 600,000). */
export function latency(value: string): LatencyRange {
  try {
    const range = parseLatency(value);
    if (range.maxMs > 600_000) throw new RangeError('at most 600000 ms');
    return range;
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

/** One http(s) URL, or several comma-separated. */
function httpUrls(value: string): string {
  for (const url of value.split(',')) httpUrl(url);
  return value;
}

function httpUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.protocol === 'http:' || u.protocol === 'https:') return value;
  } catch {
    // fall through
  }
  throw new InvalidArgumentError('expected an http(s) URL');
}

function imeiStart(value: string): string {
  if (!/^\d{14,15}$/.test(value)) throw new InvalidArgumentError('expected 14 digits (or 15; the check digit is recomputed)');
  return value;
}

function deviceUri(value: string): string {
  if (!/^\.(\/[^/\s]+)+$/.test(value)) throw new InvalidArgumentError('expected a device URI such as ./SSE');
  return value;
}

/** The `simulate` subcommand; runs until SIGINT/SIGTERM. */
export function buildSimulateCommand(): Command {
  const d = SIMULATE_DEFAULTS;
  return new Command('simulate')
    .description('run simulated OMA DM 1.2 (or, with --dm-version 2.0, DM 2.0) devices against a DM server')
    .option('--devices <n>', 'number of devices', integer(1, 10_000_000), d.devices)
    .option('--server <url>', 'DM server URL the devices call (several, comma-separated: devices spread round-robin)', httpUrls, d.server)
    .option('--listen <host:port>', 'notification/bootstrap listener', d.listen)
    .option('--public-url <url>', 'base URL written as notificationUrl (default: the listener)', httpUrl)
    .option('--id-prefix <prefix>', 'device id prefix', d.idPrefix)
    .option('--imei-start <digits>', 'first IMEI (14 digits; check digit appended)', imeiStart, d.imeiStart)
    .option('--phone-prefix <prefix>', 'phone numbers: prefix + 7-digit counter', d.phonePrefix)
    .addOption(new Option('--encoding <encoding>', 'message encoding').choices(['xml', 'wbxml']).default(d.encoding))
    .option('--opaque-data', 'WBXML: send every node value as OPAQUE, as SyncML reference toolkit clients do')
    .addOption(new Option('--auth <type>', 'client authentication').choices([...AUTH_TYPES]).default(d.auth))
    .option('--server-id <id>', 'DMAcc ServerID (the gateway DM_SERVER_ID)', d.serverId)
    .option('--offline-share <fraction>', 'share of devices offline at start', fraction, d.offlineShare)
    .option('--offline-for-ms <ms>', 'offline devices come online after this long', integer(0))
    .option('--come-online-within-ms <ms>', 'offline devices come online each at a random moment within this window', integer(0))
    .option('--latency-ms <ms|min-max>', 'delay before each HTTP post, e.g. 300-3000 (drawn per message)', latency, d.latencyMs)
    .option('--fail-share <fraction>', 'share of HTTP posts lost (never arriving, or their answer lost)', fraction)
    .option('--ignore-first-notification-share <fraction>', 'share of devices that drop their first Package#0', fraction)
    .option('--failure-rate <fraction>', 'share of target Execs that fail', fraction, d.failureRate)
    .option('--failure-status <code>', 'DM status of a failed Exec', integer(300, 599), d.failureStatus)
    .option('--max-sessions <n>', 'simultaneous sessions', integer(1, 100_000), d.maxSessions)
    .option('--max-sockets <n>', 'open connections per DM server, shared by the sessions (default: --max-sessions)', integer(1, 100_000))
    .option('--sse-root <uri>', 'SingleShotExec MO root', deviceUri, d.sseRoot)
    .option('--fumo-root <uri>', 'FUMO node (e.g. ./FUMO); default none', deviceUri)
    .option('--scomo-root <uri>', 'SCOMO root (e.g. ./SCOMO); default none', deviceUri)
    .option('--download-failed-share <fraction>', 'FUMO/SCOMO jobs whose download fails (503 / 1402)', fraction)
    .option('--out-of-memory-share <fraction>', 'jobs out of memory (501, 502 / 1404, 1406)', fraction)
    .option('--corrupt-package-share <fraction>', 'jobs whose package is corrupt (402 / 1407)', fraction)
    .option('--install-failed-share <fraction>', 'jobs whose install fails (410 / 1405)', fraction)
    .option('--user-postponed-share <fraction>', 'jobs the user declines (401 / 1401)', fraction)
    .option('--interrupted-download-share <fraction>', 'downloads dropped halfway and resumed with Range', fraction)
    .option('--install-ms <ms>', 'simulated install time', integer(0, 3_600_000))
    .option('--random-seed <n>', 'seed of every random draw, for a repeatable run', integer(0, 0xffffffff))
    .option('--capability-oid <oid>', 'capabilityOid written to the CSV', d.capabilityOid)
    .option('--credentials-csv <file>', 'write ids, phone numbers and secrets as the import CSV')
    .option('--secret-seed <seed>', 'seed of the derived device secrets (reuse to keep them)')
    .option('--bootstrap-pin <pin>', 'PIN for USERPIN bootstrap MACs')
    .option('--trace-events <n>', 'notifications and sessions each device keeps for GET /device/<id> (0: none)', integer(0, 1000))
    .option('--stats-interval <s>', 'seconds between stats lines (0: none)', integer(0), d.statsInterval)
    .addOption(new Option('--dm-version <version>', 'DM generation of the devices (2.0: JSON packages to /dm2)').choices(['1.2', '2.0']).default('1.2'))
    .action(async (opts: SimulateOptions) => {
      const handle =
        opts.dmVersion === '2.0'
          ? await runSimulateDm2({ ...opts, listen: parseListen(opts.listen) }, (line) => process.stdout.write(`${line}\n`))
          : await runSimulateCommand(opts);
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        void handle.stop().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

/** mulberry32: a small, fast, seedable generator; enough to make a simulation repeatable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
