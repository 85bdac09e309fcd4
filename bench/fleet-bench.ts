/**
 * The fleet benchmark (bulk operations, `npm run bench:fleet -- --devices N`):
 * one gateway process (`dmwsi serve`, role all; with `dmProcess` a second
 * one, `--role dm`, serves the devices; with `roles`, api, dm and worker
 * processes instead) and one simulated fleet process (`dmwsi simulate`) on
 * this machine, on one throwaway Redis and one database (`database`: the
 * SQLite file, or a fresh PostgreSQL schema).
 *
 * Setup (not timed in the figures): the fleet writes its credentials CSV, the
 * devices are registered with createDeviceCapability (sseRoot ./SSE) and
 * importDeviceInstances in chunks of `importChunk` rows; with `warm`, every
 * device then checks in once (the fleet's POST /check-in).
 *
 * Then ONE createDeployments call over SOAP (IBulkOperationsManagerServices,
 * /dmwsi/BulkOperationsManager): operation SCHEDULED_EXEC of ./FUMO/fw1/Update
 * at AtTime, targets = every device id, no rollout options (no waves, rate or
 * session cap). AtTime is fixed before the call, as the call carries it:
 * the call start + `atLeadSeconds`, or by default + (20 s + 5 s per 100,000
 * targets for the call itself + devices ÷ `armRate`), rounded up to a whole
 * second. `armRate` is the arming rate assumed for this machine (measured with
 * this bench), so by default AtTime falls after arming has finished; the
 * tasks armed after AtTime are counted (from task_history) and printed.
 *
 * Figures:
 * 1. createDeployments: call to answer (the job and all its tasks are durable then).
 * 2. All SCHEDULED: call start to the last task's move to SCHEDULED, from the
 *    `at` of task_history rows (the gateway's clock; same machine), read from
 *    whichever database the gateway processes share.
 * 3. All reported: AtTime to the last task's move to an end state (the
 *    Generic Alert recorded), from task_history; also the first report and
 *    the median and 99th percentile.
 * 4. DM sessions/s and notifications/s: the fleet's counters (GET /stats)
 *    and the DM messages the gateway answered (its /metrics), over each
 *    window: arming (call start to the first poll seeing every task armed
 *    or ended) and reporting (AtTime to the first poll seeing every task ended).
 * 5. Peak RSS (VmHWM from /proc) of the gateway, the fleet and Redis.
 * 6. task_history rows (whole table: only this job's tasks exist), by event.
 * 7. The job's tasks by status (task table), the not-COMPLETED ones listed.
 *
 * With `operation: 'firmware'` the job is a FIRMWARE_UPDATE instead: the
 * fleet has a FUMO node (--fumo-root ./FUMO, --install-ms `installMs`), a
 * simulated package of `packageBytes` is uploaded through PUT /content
 * (setup), and createDeployments sends it to every device. No AtTime: the
 * reporting window starts with the call; "reported" is a task's end state
 * (the device's FUMO final alert), and the fleet's own count of successful
 * deliveries and the gateway's peak of downloads in flight are printed too.
 *
 * Progress is polled every second with getJobById (one SOAP call; its
 * counters move in the same transaction as the task). The run gives up
 * `timeoutSeconds` after the call start (default: 600 s after AtTime) and
 * reports how far it got; SIGINT/SIGTERM stop the gateway and the fleet. CPU
 * seconds of each process per window (from /proc) and Redis commands per task
 * show where the time goes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from '../src/main/redis-launcher.js';
import { RedisBrokerCache } from '../src/queue/broker-cache.js';
import { RedisDeviceRequestQueue } from '../src/queue/device-request-queue.js';
import { dmLockKey } from '../src/queue/dm-session-store.js';
import { bullPrefix, taggedKey } from '../src/queue/redis-keys.js';
import { TASK_QUEUE } from '../src/queue/task-jobs.js';
import type { FleetStats } from '../src/simulator/fleet.js';
import { makeSimulatedPackage } from '../src/simulator/mo/package.js';
import {
  commandGrowth,
  cpuSecondsOf,
  cpuSecondsOfAll,
  envelope,
  escapeXml,
  importCsvRows,
  type FleetProcess,
  redisCommandCalls,
  soapCall,
  startFleetProcess,
  stopPatiently,
} from './support/broker-load.js';
import {
  armedOrEnded,
  ended,
  type FleetDb,
  type Wakes,
  gatewayMetrics,
  type JobCounters,
  localRedisPid,
  parseJobData,
  postgresFleetDb,
  RssWatch,
  sqliteFleetDb,
  TERMINAL_STATUSES,
} from './support/fleet-db.js';
import { rssOf, type Started, spawnGateway, waitForHttpAnswer } from './support/processes.js';

/** The fleet's default cap on open connections per DM process (see `fleetSockets`). */
export const FLEET_SOCKETS_MAX = 4096;

export interface FleetBenchOptions {
  redisUrl: string;
  devices: number;
  /** The fleet's simultaneous DM sessions (`simulate --max-sessions`). */
  fleetSessions: number;
  /**
   * The fleet's open connections to each DM process (`simulate --max-sockets`);
   * default `fleetSessions`, at most FLEET_SOCKETS_MAX. Beyond a few thousand
   * the fleet process ran out of file descriptors and local ports (EMFILE,
   * EADDRNOTAVAIL at 20,000 sessions) before the gateway did.
   */
  fleetSockets?: number;
  /** The gateway's WORKER_CONCURRENCY. */
  workerConcurrency: number;
  /** AtTime = call start + this many seconds; default from `armRate`. */
  atLeadSeconds?: number;
  /** Tasks armed per second assumed when choosing AtTime. */
  armRate: number;
  /** Give up this long after the createDeployments call started; default AtTime + 600 s. */
  timeoutSeconds?: number;
  /** importDeviceInstances rows per call. */
  importChunk: number;
  /**
   * Every device checks in once after the import, before the job (setup, not
   * timed): a fleet in service, whose devices the gateway has already
   * challenged once and inventoried. Without it each arming session is the
   * device's first contact (a 401 round trip and the DevDetail Gets on top).
   */
  warm?: boolean;
  /**
   * Serve DM in a second gateway process (`serve --role dm`) beside the first
   * (role all, which then answers SOAP and runs the workers): one event loop
   * per core for the two busiest parts. Both share the SQLite file.
   */
  dmProcess?: boolean;
  /**
   * The database every gateway process shares: the SQLite file in the run's
   * data directory (default), or a fresh schema (dropped afterwards) on the
   * PostgreSQL server at `postgresUrl`.
   */
  database?: 'sqlite' | 'postgres';
  postgresUrl?: string;
  /**
   * Processes per role instead of one process with every role: each its own
   * Node process on its own port, all on the one Redis and database. SOAP
   * goes to the first api process (the setup, the call and the polls); the
   * fleet's devices are spread round-robin over the dm processes (each
   * device's server URL; PUBLIC_DM_URL of each dm process is itself).
   */
  roles?: { api: number; dm: number; workers: number };
  /** Write CPU profiles of the gateway process and (under fleet/) the simulated fleet (node --cpu-prof) into this directory. */
  cpuProfileDir?: string;
  /**
   * Each simulated device keeps its last this many notifications and sessions (`simulate --trace-events`),
   * printed with the open tasks when a run does not end; default 0 (the open tasks' history and Redis state only).
   */
  traceEvents?: number;
  /** Progress lines (stderr by default). */
  log?: (line: string) => void;
  /** The job's operation: a SingleShotExec schedule (default) or a FIRMWARE_UPDATE with an uploaded package. */
  operation?: 'sse' | 'firmware';
  /** Firmware: the package's payload bytes (default 64 KiB). */
  packageBytes?: number;
  /** Firmware: the simulated install time (default 100 ms). */
  installMs?: number;
  /** A fleet like a real network (see FleetNetworkOptions); absent: every message fast and delivered. */
  network?: FleetNetworkOptions;
}

// ---- a fleet like a real network (kept apart from the topology options) ------------------------

/**
 * The fleet's network and the job's pace: per-message latency drawn from a
 * range, a share of messages lost, offline devices coming online at random
 * moments, a share dropping their first Package#0; the gateway's task retry
 * and the job's notification rate. The run then compares every task's end
 * state with the fleet's own record of what each device executed.
 */
export interface FleetNetworkOptions {
  /** `simulate --latency-ms`: `300-3000` or one value. */
  latencyMs?: string;
  offlineShare?: number;
  /** Offline devices come online each at a random moment within this window (default 60 s). */
  comeOnlineWithinMs?: number;
  failShare?: number;
  ignoreFirstNotificationShare?: number;
  /** The job's notificationsPerSecond option. */
  notificationsPerSecond?: number;
  /** The gateway's TASK_RETRY_SECONDS (default 30: a dropped notification is retried within the run). */
  taskRetrySeconds?: number;
  /** The gateway's TASK_RETRY_MAX_SECONDS (unset: its default, 12 × TASK_RETRY_SECONDS): the longest wait between a waiting task's wakes. */
  taskRetryMaxSeconds?: number;
  randomSeed?: number;
}

/** Task end states against what the fleet says each device executed. */
export interface FleetRecordCheck {
  /** Tasks whose state agrees: COMPLETED and run exactly once, or another end state and never run. */
  matches: number;
  mismatches: number;
  /** The first mismatches, described. */
  examples: string[];
  /** Devices that ran the target (the fleet's GET /executions). */
  devicesThatRan: number;
}

function networkSimulateArgs(n: FleetNetworkOptions): string[] {
  return [
    ...(n.latencyMs !== undefined ? ['--latency-ms', n.latencyMs] : []),
    ...(n.offlineShare !== undefined ? ['--offline-share', String(n.offlineShare), '--come-online-within-ms', String(n.comeOnlineWithinMs ?? 60_000)] : []),
    ...(n.failShare !== undefined ? ['--fail-share', String(n.failShare)] : []),
    ...(n.ignoreFirstNotificationShare !== undefined ? ['--ignore-first-notification-share', String(n.ignoreFirstNotificationShare)] : []),
    '--random-seed',
    String(n.randomSeed ?? 15),
  ];
}

const END_STATES = new Set(['COMPLETED', 'FAILED', 'MISSED', 'CANCELLED', 'EXPIRED']);

/** Compares the job's tasks with the fleet's GET /executions (exec counts per device and target). */
async function checkAgainstFleetRecord(db: FleetDb, jobId: string, fleetUrl: string, target: string): Promise<FleetRecordCheck> {
  const ran = (await (await fetch(`${fleetUrl}/executions`)).json()) as Record<string, Record<string, number>>;
  const check: FleetRecordCheck = { matches: 0, mismatches: 0, examples: [], devicesThatRan: 0 };
  for (const counts of Object.values(ran)) if ((counts[target] ?? 0) > 0) check.devicesThatRan++;
  for (const [id, t] of await db.taskStatuses(jobId)) {
    const times = ran[id]?.[target] ?? 0;
    const ok = END_STATES.has(t.status) && (t.status === 'COMPLETED' ? times === 1 : times === 0);
    if (ok) check.matches++;
    else {
      check.mismatches++;
      if (check.examples.length < 10) check.examples.push(`${id}: ${t.status} (${t.code ?? '-'}), ran ${times}×`);
    }
  }
  return check;
}

export interface CpuSeconds {
  /** Every gateway process together. */
  gateway: number | undefined;
  /** Each gateway process's (named by role and number), in the order started. */
  byProcess: [string, number | undefined][];
  fleet: number | undefined;
  redis: number | undefined;
  /** The PostgreSQL server's processes (every backend), on --database postgres; the box's one server. */
  postgres?: number | undefined;
}

/** What happened in one window, from the polls at its ends. */
export interface Window {
  seconds: number;
  /** DM sessions the fleet ran (ok + failed). */
  sessions: number;
  sessionsFailed: number;
  notifications: number;
  /** DM messages the gateway answered. */
  dmMessages: number;
  cpu: CpuSeconds;
  /** Redis commands run (INFO commandstats; a script's own calls count too). */
  redisCommands: number;
  redisTop: [string, number][];
}

export interface FleetBenchResult {
  devices: number;
  setupSeconds: number;
  importSeconds: number;
  /** The check-in of every device (`warm`), in seconds; undefined without it. */
  checkInSeconds: number | undefined;
  jobId: string;
  atTime: string;
  /** AtTime minus the call start. */
  leadSeconds: number;
  leadRule: string;
  createSeconds: number;
  /** The gateway's CPU seconds (user + system) while createDeployments ran: less sensitive to other work on the box. */
  createCpuSeconds: number | undefined;
  createRequestBytes: number;
  /** Call start to the last move to SCHEDULED (task_history); undefined: not all armed. */
  armedSeconds: number | undefined;
  /** Tasks moved to SCHEDULED, and how many of them after AtTime. */
  armedCount: number;
  armedLate: number;
  /** AtTime to the last move to an end state; undefined: not all reported. */
  reportedSeconds: number | undefined;
  /** AtTime to the first / median / 99th percentile / last report (end-state moves after AtTime). */
  reportTimes: { count: number; first?: number; p50?: number; p99?: number; last?: number };
  /** Call start to the last report, wall clock (idle wait before AtTime included). */
  wallSeconds: number | undefined;
  complete: boolean;
  stopReason: string | undefined;
  lastCounters: JobCounters | undefined;
  finalCounts: Record<string, number>;
  historyRows: number;
  historyByEvent: [string, number][];
  /** What the wakes of the devices led to (a network run: notifications dropped, sessions lost). */
  wakes?: Wakes;
  arming: Window | undefined;
  reporting: Window | undefined;
  fleet: FleetStats | undefined;
  gatewayPeakRssBytes: number | undefined;
  /** When the gateway's RSS was highest (sampled every 250 ms), in seconds after the call started; negative: during setup. */
  gatewayPeakRssAt: number | undefined;
  fleetPeakRssBytes: number | undefined;
  fleetPeakRssAt: number | undefined;
  /** Highest V8 heap figures of the gateway (its /metrics, polled once a second; missed while it cannot answer). */
  gatewayHeap: { used: number; total: number; external: number };
  /** With `dmProcess`: the DM process's peak RSS (the gateway figures above are then the other process's; CPU is both). */
  dmPeakRssBytes: number | undefined;
  redisPeakRssBytes: number | undefined;
  loadAverage: [number, number];
  cores: number;
  operation: 'sse' | 'firmware';
  /** The database (sqlite, or postgres with its schema) and the gateway processes by name and role. */
  database: string;
  processes: string;
  /** Firmware: the package size and the gateway's peak of downloads in flight (its /metrics). */
  packageBytes?: number;
  downloadsInFlightPeak?: number;
  downloadsCompleted?: number;
  /** With `network`: the tasks against the fleet's own record. */
  fleetRecord?: FleetRecordCheck;
}

const CAPABILITY_OID = 'bench-fleet-cap';
const ADMIN_PASSWORD = 'bench-admin-password';
const TARGET_URI = './FUMO/fw1/Update';
const POLL_MS = 1000;
/** The poll before AtTime starts this long before it. */
const AT_LEAD_MS = 500;
/** The default time limit leaves this long after AtTime for the reports. */
const REPORT_ALLOWANCE_S = 600;

/** Firmware: the package's payload size by default. */
const PACKAGE_BYTES = 64 * 1024;

/** Creates a firmware record and uploads a simulated package through PUT /content; its contentId. */
async function uploadPackage(base: string, bulkUrl: string, session: string, size: number): Promise<string> {
  const pkg = makeSimulatedPackage({ kind: 'firmware', name: 'bench-fw', version: '2.0.0', size });
  const sha256 = crypto.createHash('sha256').update(pkg).digest('hex');
  const created = await soapCall(
    bulkUrl,
    `<t:createContent><t:userSession>${session}</t:userSession><t:content><t:name>bench-fw</t:name><t:version>2.0.0</t:version><t:kind>firmware</t:kind><t:sha256>${sha256}</t:sha256><t:size>${pkg.length}</t:size></t:content></t:createContent>`,
  );
  const contentId = /<contentId>([^<]+)<\/contentId>/.exec(created)?.[1];
  if (!contentId) throw new Error(`createContent gave no contentId: ${created.slice(0, 400)}`);
  const r = await fetch(`${base}/content/${contentId}`, { method: 'PUT', headers: { authorization: `Bearer ${session}` }, body: pkg });
  if (r.status !== 201) throw new Error(`the package upload was refused (${r.status}): ${await r.text()}`);
  return contentId;
}

/** The gateway's own download counts (/metrics). */
async function downloadFigures(base: string): Promise<{ downloadsInFlightPeak?: number; downloadsCompleted?: number }> {
  const text = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) })
    .then((r) => r.text())
    .catch(() => '');
  const value = (name: string) => {
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const peak = value('dmwsi_downloads_in_flight_peak');
  const completed = value('dmwsi_downloads_completed_total');
  return { ...(peak !== undefined && { downloadsInFlightPeak: peak }), ...(completed !== undefined && { downloadsCompleted: completed }) };
}

interface Sample {
  t: number;
  job: JobCounters | undefined;
  fleet: FleetStats | undefined;
  /** DM messages the gateway has answered (carried over from the previous poll when /metrics did not answer). */
  dmMessages: number;
  cpu: CpuSeconds;
  redisCommands: Record<string, number>;
}

/** Whole seconds, UTC with Z. */
const isoSeconds = (ms: number) => new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startGateway(o: FleetBenchOptions, env: Record<string, string>, args: string[] = []): Started {
  const nodeArgs: string[] = [];
  if (o.cpuProfileDir !== undefined) {
    // Written when the gateway exits (it exits on SIGTERM once closed).
    fs.mkdirSync(o.cpuProfileDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${path.resolve(o.cpuProfileDir)}`);
  }
  return spawnGateway(args, env, nodeArgs);
}

async function timedSoap(url: string, body: string, timeoutMs: number): Promise<string> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8' },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`SOAP call failed (${r.status}): ${text.slice(0, 400)}`);
  return text;
}

/** Asks every device of the fleet to check in once and waits until each session has ended; its seconds. */
async function checkInFleet(fleet: FleetProcess, devices: number, log: (line: string) => void): Promise<number> {
  const t0 = performance.now();
  const before = await fleet.stats();
  const r = await fetch(`${fleet.url}/check-in`, { method: 'POST' });
  if (r.status !== 202) throw new Error(`the fleet refused the check-in (${r.status})`);
  const { checkingIn } = (await r.json()) as { checkingIn: number };
  if (checkingIn !== devices) throw new Error(`only ${checkingIn} of ${devices} devices are online to check in`);
  let lastLog = t0;
  for (;;) {
    await sleep(POLL_MS);
    const st = await fleet.stats();
    const ended = st.sessionsOk + st.sessionsFailed - before.sessionsOk - before.sessionsFailed;
    const failed = st.sessionsFailed - before.sessionsFailed;
    if (failed > 0) throw new Error(`${failed} check-in sessions failed`);
    if (ended >= checkingIn) return (performance.now() - t0) / 1000;
    if (performance.now() - lastLog >= 10_000) {
      lastLog = performance.now();
      log(`check-in: ${ended} of ${checkingIn} sessions ended`);
    }
  }
}

/** The window between two polls; `seconds` overrides its length (e.g. exact times from task_history). */
function windowOf(a: Sample, b: Sample, seconds?: number): Window {
  const d = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? undefined : y - x);
  const fa = a.fleet;
  const fb = b.fleet;
  const redis = commandGrowth(a.redisCommands, b.redisCommands);
  return {
    seconds: seconds ?? (b.t - a.t) / 1000,
    sessions: fa && fb ? fb.sessionsOk + fb.sessionsFailed - fa.sessionsOk - fa.sessionsFailed : 0,
    sessionsFailed: fa && fb ? fb.sessionsFailed - fa.sessionsFailed : 0,
    notifications: fa && fb ? fb.notificationsReceived - fa.notificationsReceived : 0,
    dmMessages: b.dmMessages - a.dmMessages,
    cpu: {
      gateway: d(a.cpu.gateway, b.cpu.gateway),
      byProcess: b.cpu.byProcess.map(([name, c], i): [string, number | undefined] => [name, d(a.cpu.byProcess[i]?.[1], c)]),
      fleet: d(a.cpu.fleet, b.cpu.fleet),
      redis: d(a.cpu.redis, b.cpu.redis),
      postgres: d(a.cpu.postgres, b.cpu.postgres),
    },
    redisCommands: redis.total,
    redisTop: redis.top,
  };
}

export async function runFleetBench(o: FleetBenchOptions): Promise<FleetBenchResult> {
  const log = o.log ?? ((line: string) => process.stderr.write(`[fleet] ${line}\n`));
  const firmware = o.operation === 'firmware';
  const started = performance.now();
  const loadAtStart = os.loadavg()[0]!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-fleet-bench-'));
  // The gateway processes: one with every role (and with dmProcess a DM one beside it), or o.roles.
  const plan: { name: string; role: 'all' | 'api' | 'dm' | 'worker'; port: number }[] = [];
  const add = async (name: string, role: 'all' | 'api' | 'dm' | 'worker') => plan.push({ name, role, port: await freePort() });
  if (o.roles) {
    if (o.roles.api < 1 || o.roles.dm < 1 || o.roles.workers < 1) throw new Error('--api, --dm and --workers: at least one process each');
    for (let i = 1; i <= o.roles.api; i++) await add(`api${i}`, 'api');
    for (let i = 1; i <= o.roles.dm; i++) await add(`dm${i}`, 'dm');
    for (let i = 1; i <= o.roles.workers; i++) await add(`worker${i}`, 'worker');
  } else {
    await add('gateway', 'all');
    if (o.dmProcess) await add('dm', 'dm');
  }
  const port = plan[0]!.port;
  const fleetPort = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dmBases = plan.filter((p) => p.role === 'dm' || (p.role === 'all' && !o.dmProcess)).map((p) => `http://127.0.0.1:${p.port}`);
  const dmBase = dmBases[0]!;
  const pgUrl = o.database === 'postgres' ? (o.postgresUrl ?? 'postgres://postgres@127.0.0.1:5432/test') : undefined;
  const pgSchema = `bench_fleet_${crypto.randomBytes(4).toString('hex')}`;
  const bulkUrl = `${base}/dmwsi/BulkOperationsManager`;
  const deviceManager = `${base}/dmwsi/DeviceManager`;
  // createDeployments carries every target (~50 B each): leave room for it.
  const soapMaxBody = Math.max(32 * 1024 * 1024, o.devices * 200);
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    REDIS_URL: o.redisUrl,
    PUBLIC_DM_URL: `${dmBase}/dm`,
    DMWSI_ADMIN_PASSWORD: ADMIN_PASSWORD,
    DMWSI_SECRET_KEY: crypto.randomBytes(32).toString('hex'),
    QUEUE_PREFIX: `bench-${crypto.randomBytes(3).toString('hex')}`,
    WORKER_CONCURRENCY: String(o.workerConcurrency),
    SOAP_MAX_BODY_BYTES: String(soapMaxBody),
    LOG_LEVEL: 'warn',
    ...(o.network && { TASK_RETRY_SECONDS: String(o.network.taskRetrySeconds ?? 30) }),
    ...(o.network?.taskRetryMaxSeconds !== undefined && { TASK_RETRY_MAX_SECONDS: String(o.network.taskRetryMaxSeconds) }),
    ...(pgUrl !== undefined && { DATABASE_URL: pgUrl, DATABASE_SCHEMA: pgSchema }),
  };
  // A DM process advertises itself; the others (notifications, bootstraps) the first DM process.
  const envOf = (p: (typeof plan)[number]) => ({
    ...env,
    PORT: String(p.port),
    PUBLIC_DM_URL: p.role === 'dm' ? `http://127.0.0.1:${p.port}/dm` : `${dmBase}/dm`,
  });
  // The first process alone brings the schema up (migrations), then the others start on it.
  const gateways: Started[] = [startGateway(o, envOf(plan[0]!), ['--role', plan[0]!.role])];
  const gateway = gateways[0]!;
  let fleet: FleetProcess | undefined;
  // Set while the fleet starts beside the gateway processes: a setup that fails meanwhile still stops it.
  let fleetStarting: Promise<FleetProcess> | undefined;
  // Interrupted: stop the children (Redis is the caller's; its launcher stops it on exit).
  const interrupted = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the gateway and the fleet`);
    void Promise.all([fleet?.stop(), ...gateways.map((g) => stopPatiently(g.child, 10_000))]).finally(() => {
      fs.rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let db: FleetDb | undefined;
  const watches: RssWatch[] = [];
  const heap = { used: 0, total: 0, external: 0 };
  let heapTimer: NodeJS.Timeout | undefined;
  const statsRedis = new Redis(o.redisUrl, { maxRetriesPerRequest: 1, connectionName: 'bench-fleet-stats' });
  try {
    const csvPath = path.join(dir, 'fleet.csv');
    fleetStarting = startFleetProcess(
      {
        devices: o.devices,
        serverUrl: dmBases.map((b) => `${b}/dm`).join(','),
        listenPort: fleetPort,
        csvPath,
        capabilityOid: CAPABILITY_OID,
        imeiStart: '35900000000000',
        phonePrefix: '+1666',
        secretSeed: 'fleet-bench',
        maxSessions: o.fleetSessions,
        simulateArgs: [
          '--max-sockets',
          String(o.fleetSockets ?? Math.min(o.fleetSessions, FLEET_SOCKETS_MAX)),
          ...(firmware ? ['--fumo-root', './FUMO', '--install-ms', String(o.installMs ?? 100)] : []),
          ...(o.network ? networkSimulateArgs(o.network) : []),
          ...(o.traceEvents ? ['--trace-events', String(o.traceEvents)] : []),
        ],
        ...(o.cpuProfileDir !== undefined && {
          nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.resolve(o.cpuProfileDir, 'fleet')}`],
        }),
      },
      300_000,
    );
    const [, startedFleet] = await Promise.all([
      (async () => {
        await waitForHttpAnswer(`${base}/healthz`, 60_000);
        for (const p of plan.slice(1)) gateways.push(startGateway(o, envOf(p), ['--role', p.role]));
        await Promise.all(plan.slice(1).map((p) => waitForHttpAnswer(`http://127.0.0.1:${p.port}/healthz`, 60_000)));
      })(),
      fleetStarting,
    ]);
    fleet = startedFleet;
    const pids = {
      gateway: gateway.child.pid,
      fleet: fleet.child.pid,
      redis: await localRedisPid(o.redisUrl),
      dm: o.dmProcess && !o.roles ? gateways[1]?.child.pid : undefined,
    };
    watches.push(new RssWatch(pids.gateway), new RssWatch(pids.fleet));
    // The gateway's CPU: every gateway process's, and their sum.
    const gatewayCpuByProcess = (): Promise<[string, number | undefined][]> =>
      Promise.all(gateways.map(async (g, i): Promise<[string, number | undefined]> => [plan[i]!.name, await cpuSecondsOf(g.child.pid)]));
    const sumCpu = (byProcess: [string, number | undefined][]) =>
      byProcess.some(([, c]) => c === undefined) ? undefined : byProcess.reduce((a, [, c]) => a + c!, 0);
    const gatewayCpu = async (): Promise<number | undefined> => sumCpu(await gatewayCpuByProcess());
    // The gateway's heap, once a second from setup on (also while createDeployments runs, when it can answer).
    heapTimer = setInterval(() => {
      void gatewayMetrics(base, 900).then((m) => {
        heap.used = Math.max(heap.used, m?.heapUsed ?? 0);
        heap.total = Math.max(heap.total, m?.heapTotal ?? 0);
        heap.external = Math.max(heap.external, m?.external ?? 0);
      });
    }, 1000);

    // --- setup: register the fleet ---------------------------------------------------------
    const login = await soapCall(bulkUrl, `<t:login><t:username>admin</t:username><t:password>${ADMIN_PASSWORD}</t:password></t:login>`);
    const session = /<userSession>([^<]+)<\/userSession>/.exec(login)![1]!;
    await soapCall(
      deviceManager,
      `<t:createDeviceCapability><t:userSession>${session}</t:userSession><t:capability><t:oid>${CAPABILITY_OID}</t:oid><t:make>DmwsiSim</t:make><t:model>SimPhone-1</t:model><t:firmwareVersion>1.0.0</t:firmwareVersion><t:dmVersion>1.2</t:dmVersion><t:sseRoot>./SSE</t:sseRoot>${firmware ? '<t:fumoRoot>./FUMO</t:fumoRoot>' : ''}</t:capability></t:createDeviceCapability>`,
    );
    const [header, ...rows] = fs.readFileSync(csvPath, 'utf8').split('\n').filter((l) => l !== '');
    if (rows.length !== o.devices) throw new Error(`the fleet wrote ${rows.length} CSV rows for ${o.devices} devices`);
    const deviceIds = rows.map((r) => r.slice(0, r.indexOf(',')));
    const importStarted = performance.now();
    await importCsvRows(deviceManager, session, header!, rows, o.importChunk);
    const importSeconds = (performance.now() - importStarted) / 1000;
    const cpuBeforeCheckIn = await gatewayCpu();
    const checkInSeconds = o.warm ? await checkInFleet(fleet, o.devices, log) : undefined;
    const checkInCpu = ((await gatewayCpu()) ?? Number.NaN) - (cpuBeforeCheckIn ?? Number.NaN);
    const contentId = firmware ? await uploadPackage(base, bulkUrl, session, o.packageBytes ?? PACKAGE_BYTES) : undefined;
    db = pgUrl !== undefined ? postgresFleetDb(pgUrl, pgSchema) : sqliteFleetDb(path.join(dir, 'dmwsi.sqlite'));
    const setupSeconds = (performance.now() - started) / 1000;
    log(
      `setup: gateway and fleet up, ${o.devices} devices imported in ${importSeconds.toFixed(1)} s${checkInSeconds === undefined ? '' : `, checked in in ${checkInSeconds.toFixed(1)} s (gateway CPU ${((1000 * checkInCpu) / o.devices).toFixed(2)} ms per device)`} (setup ${setupSeconds.toFixed(1)} s in all)`,
    );

    // --- sampling ---------------------------------------------------------------------------
    let jobId: string | undefined;
    let lastDmMessages = 0;
    const sample = async (): Promise<Sample> => {
      const t = performance.now();
      const [job, fleetStats, metrics, redisCommands, gwByProcess, fl, rd, pgCpu] = await Promise.all([
        jobId === undefined
          ? Promise.resolve(undefined)
          : timedSoap(
              bulkUrl,
              envelope(`<t:getJobById><t:userSession>${session}</t:userSession><t:jobId>${jobId}</t:jobId></t:getJobById>`),
              10_000,
            )
              .then(parseJobData)
              .catch(() => undefined),
        fleet!.stats().catch(() => undefined),
        Promise.all(dmBases.map((b) => gatewayMetrics(b))),
        redisCommandCalls(statsRedis).catch(() => ({})),
        gatewayCpuByProcess(),
        cpuSecondsOf(pids.fleet),
        cpuSecondsOf(pids.redis),
        pgUrl !== undefined ? cpuSecondsOfAll('postgres') : Promise.resolve(undefined),
      ]);
      const dmMessages = metrics.every((m) => m !== undefined) ? metrics.reduce((a, m) => a + m!.dmMessages, 0) : lastDmMessages;
      lastDmMessages = dmMessages;
      return {
        t,
        job,
        fleet: fleetStats,
        dmMessages,
        redisCommands,
        cpu: { gateway: sumCpu(gwByProcess), byProcess: gwByProcess, fleet: fl, redis: rd, postgres: pgCpu },
      };
    };

    // --- the call ---------------------------------------------------------------------------
    const leadRule = firmware
      ? 'no schedule: FIRMWARE_UPDATE runs at once'
      : o.atLeadSeconds !== undefined
        ? `--fleet-at-lead ${o.atLeadSeconds} s`
        : `20 s + 5 s per 100,000 targets (the call) + ${o.devices.toLocaleString('en-US')} devices ÷ ${o.armRate} tasks/s assumed arming rate`;
    const lead = firmware ? 0 : (o.atLeadSeconds ?? 20 + (5 * o.devices) / 100_000 + o.devices / o.armRate);
    const timeoutSeconds = o.timeoutSeconds ?? Math.ceil(lead + REPORT_ALLOWANCE_S);
    const s0 = await sample();
    const atTime = isoSeconds(Date.now() + lead * 1000);
    // Firmware: no schedule; the reports are counted from the call (set below, once it starts).
    let atMs = Date.parse(atTime);
    const operation = firmware
      ? `<t:name>FIRMWARE_UPDATE</t:name><t:contentId>${contentId}</t:contentId>`
      : `<t:name>SCHEDULED_EXEC</t:name><t:targetUri>${TARGET_URI}</t:targetUri><t:atTime>${atTime}</t:atTime>`;
    const targets = deviceIds.map((id) => `<t:targets>${escapeXml(id)}</t:targets>`).join('');
    const rate = o.network?.notificationsPerSecond;
    const options = rate === undefined ? '' : `<t:options><t:notificationsPerSecond>${rate}</t:notificationsPerSecond></t:options>`;
    const request = envelope(
      `<t:createDeployments><t:userSession>${session}</t:userSession><t:operation>${operation}</t:operation>${targets}${options}</t:createDeployments>`,
    );
    log(
      `createDeployments: ${o.devices} targets (${(Buffer.byteLength(request) / 1024 / 1024).toFixed(1)} MiB), ${firmware ? `FIRMWARE_UPDATE of ${contentId}` : `AtTime ${atTime} (${((atMs - Date.now()) / 1000).toFixed(0)} s ahead: ${leadRule})`}`,
    );
    if (atMs - Date.now() > timeoutSeconds * 1000) {
      log(`warning: AtTime is after the time limit (${timeoutSeconds} s): the run will stop before any report`);
    }
    // The call start on both clocks: wall (compared with task_history's `at`) and monotonic (the polls).
    const wall0 = Date.now();
    const t0 = performance.now();
    if (firmware) atMs = wall0;
    const answer = await timedSoap(bulkUrl, request, 600_000);
    const createSeconds = (performance.now() - t0) / 1000;
    const cpuAfterCall = await gatewayCpu();
    const createCpuSeconds = cpuAfterCall === undefined || s0.cpu.gateway === undefined ? undefined : cpuAfterCall - s0.cpu.gateway;
    jobId = /<jobId>([^<]+)<\/jobId>/.exec(answer)?.[1];
    if (!jobId) throw new Error(`createDeployments gave no jobId: ${answer.slice(0, 400)}`);
    log(`createDeployments returned after ${createSeconds.toFixed(2)} s: job ${jobId}`);

    // --- polling until every task has reported, or the time limit ---------------------------------
    const samples: Sample[] = [s0];
    let armedSample: Sample | undefined;
    /** The last poll before AtTime (taken just before it): the reporting window's start. */
    let atSample: Sample | undefined;
    let doneSample: Sample | undefined;
    let stopReason: string | undefined;
    let lastLog = performance.now();
    const tAt = t0 + (atMs - wall0);
    for (;;) {
      const now = performance.now();
      // Poll once a second, and once just before AtTime (the devices fire at AtTime; a poll takes a while).
      const preAt = tAt - AT_LEAD_MS;
      const wait = atSample === undefined && preAt > now ? Math.min(POLL_MS, preAt - now) : POLL_MS;
      const previous = samples[samples.length - 1]!;
      await sleep(wait);
      const s = await sample();
      samples.push(s);
      const job = s.job;
      if (atSample === undefined && s.t >= preAt) atSample = s.t <= tAt ? s : previous;
      if (job && armedSample === undefined && armedOrEnded(job) >= job.total) {
        armedSample = s;
        log(`all ${job.total} tasks armed or ended ${((s.t - t0) / 1000).toFixed(1)} s after the call (polled)`);
      }
      if (job && ended(job) >= job.total) {
        doneSample = s;
        break;
      }
      if (s.t - lastLog >= 10_000) {
        lastLog = s.t;
        const f = s.fleet;
        log(
          `${((s.t - t0) / 1000).toFixed(0)} s: ${job ? `queued ${job.queued}, notifying ${job.notifying}, in session ${job.inSession}, scheduled ${job.scheduled}, in progress ${job.inProgress}, completed ${job.completed}, failed ${job.failed}, missed ${job.missed}, expired ${job.expired}` : 'getJobById did not answer'}${f ? `; fleet sessions ${f.sessionsOk} ok, ${f.sessionsFailed} failed, ${f.activeSessions} active, ${f.queuedSessions} waiting` : ''}`,
        );
      }
      if (s.t - t0 > timeoutSeconds * 1000) {
        stopReason = `stopped at the time limit, ${timeoutSeconds} s after the call`;
        log(stopReason);
        break;
      }
      const exited = gateways.find((g) => g.child.exitCode !== null || g.child.signalCode !== null);
      if (exited) {
        stopReason = `a gateway process exited (${exited.child.exitCode ?? exited.child.signalCode})`;
        break;
      }
    }
    const last = samples[samples.length - 1]!;
    if (doneSample === undefined) await describeOpenTasks(db, jobId, statsRedis, env.QUEUE_PREFIX!, fleet.url, log);
    const armed = await db.transitionTimes(['SCHEDULED']);
    const armedLate = (await db.transitionTimes(['SCHEDULED'], atMs + 1)).count;
    const reports = await db.transitionTimes(TERMINAL_STATUSES, atMs, [0.5, 0.99]);
    const allArmedOrEnded = armedSample !== undefined;
    const complete = doneSample !== undefined;
    // Windows: counters from the polls at their ends (nothing happens between the last arming session and
    // AtTime, nor after the last report), lengths from task_history where the window completed.
    const armingEnd = armedSample ?? atSample ?? last;
    const arming = windowOf(s0, armingEnd, allArmedOrEnded && armed.last !== undefined ? (armed.last - wall0) / 1000 : undefined);
    const reporting = atSample
      ? windowOf(atSample, doneSample ?? last, complete && reports.last !== undefined ? (reports.last - atMs) / 1000 : (last.t - tAt) / 1000)
      : undefined;
    let fleetRecord: FleetRecordCheck | undefined;
    if (o.network && complete && !firmware) {
      // Reports retried after a lost answer, and late devices, settle before the fleet's record is read.
      await sleep(5_000);
      fleetRecord = await checkAgainstFleetRecord(db, jobId, fleet.url, TARGET_URI);
    }
    const finalCounts = await db.taskCounts(jobId);
    const history = await db.historyRows();
    const wakes = o.network ? await db.wakes(jobId) : undefined;
    const sec = (ms: number | undefined, from: number) => (ms === undefined ? undefined : (ms - from) / 1000);
    const result: FleetBenchResult = {
      devices: o.devices,
      setupSeconds,
      importSeconds,
      checkInSeconds,
      jobId,
      atTime,
      leadSeconds: (atMs - wall0) / 1000,
      leadRule,
      createSeconds,
      createCpuSeconds,
      createRequestBytes: Buffer.byteLength(request),
      armedSeconds: allArmedOrEnded ? sec(armed.last, wall0) : undefined,
      armedCount: armed.count,
      armedLate,
      reportedSeconds: complete ? sec(reports.last, atMs) : undefined,
      reportTimes: {
        count: reports.count,
        first: sec(reports.first, atMs),
        p50: sec(reports.at[0], atMs),
        p99: sec(reports.at[1], atMs),
        last: sec(reports.last, atMs),
      },
      wallSeconds: complete ? sec(reports.last, wall0) : undefined,
      complete,
      stopReason,
      lastCounters: last.job,
      finalCounts,
      historyRows: history.total,
      historyByEvent: history.byEvent,
      ...(wakes && { wakes }),
      arming,
      reporting,
      fleet: last.fleet,
      gatewayPeakRssBytes: pids.gateway ? await rssOf(pids.gateway) : undefined,
      gatewayPeakRssAt: watches[0]?.peak ? (watches[0].peakAt - t0) / 1000 : undefined,
      fleetPeakRssBytes: pids.fleet ? await rssOf(pids.fleet) : undefined,
      fleetPeakRssAt: watches[1]?.peak ? (watches[1].peakAt - t0) / 1000 : undefined,
      gatewayHeap: heap,
      dmPeakRssBytes: pids.dm ? await rssOf(pids.dm) : undefined,
      redisPeakRssBytes: pids.redis ? await rssOf(pids.redis) : undefined,
      loadAverage: [loadAtStart, os.loadavg()[0]!],
      cores: os.availableParallelism(),
      operation: firmware ? 'firmware' : 'sse',
      database: pgUrl === undefined ? 'sqlite' : `postgres (schema ${pgSchema})`,
      processes: plan.map((p) => `${p.name} (${p.role})`).join(', '),
      ...(firmware && { packageBytes: o.packageBytes ?? PACKAGE_BYTES, ...(await downloadFigures(base)) }),
      ...(fleetRecord && { fleetRecord, fleet: await fleet.stats() }),
    };
    return result;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    for (const w of watches) w.stop();
    clearInterval(heapTimer);
    await db?.close();
    statsRedis.disconnect();
    if (fleet === undefined && fleetStarting !== undefined) fleet = await fleetStarting.catch(() => undefined);
    await fleet?.stop();
    const stopping = performance.now();
    await Promise.all(gateways.map((g) => stopPatiently(g.child, 60_000)));
    if (o.cpuProfileDir !== undefined) log(`gateway stopped in ${((performance.now() - stopping) / 1000).toFixed(1)} s; CPU profile in ${o.cpuProfileDir}`);
    fs.rmSync(dir, { recursive: true, force: true });
    if (pgUrl !== undefined) await dropSchema(pgUrl, pgSchema).catch((err: Error) => log(`could not drop schema ${pgSchema}: ${err.message}`));
  }
}

/** Open tasks described at most, when a run does not end. */
const OPEN_TASKS_DESCRIBED = 5;

/**
 * A run that did not end: the first open tasks' history, their devices' state in Redis (request queue
 * with its sent marks, notification gate, session bindings, the task's notify jobs) and in the fleet
 * (GET /device/<id>), so that why each one is still open can be read without rerunning.
 */
async function describeOpenTasks(db: FleetDb, jobId: string, redis: Redis, prefix: string, fleetUrl: string, log: (line: string) => void): Promise<void> {
  const open = await db.openTasks(jobId, OPEN_TASKS_DESCRIBED).catch((err: Error) => {
    log(`open tasks: could not read them (${err.message})`);
    return [];
  });
  for (const t of open) {
    log(`open task ${t.taskId} (${t.status}, updated ${new Date(t.updatedAt).toISOString()}${t.releasedAt === undefined ? '' : `, released ${new Date(t.releasedAt).toISOString()}`}), device ${t.deviceId}; history:`);
    for (const h of t.history) log(`  ${h}`);
    const dev = t.deviceId;
    try {
      // Read as the gateway reads them: its queue reader and key builders, not key names written again.
      const [queued, gate, locked, bindings] = await Promise.all([
        new RedisDeviceRequestQueue(redis, prefix).pendingWithSent(dev),
        new RedisBrokerCache(redis, prefix).get(`notified:${dev}`),
        redis.pttl(dmLockKey(prefix, dev)),
        redis.keys(taggedKey(prefix, 'dm:sid', dev, ':*')),
      ]);
      const sent = queued.requests.map((r) => `${r.requestId}${queued.sentIn.has(r.requestId) ? ` (sent in session ${queued.sentIn.get(r.requestId)})` : ''}`);
      log(`  redis: queued ${sent.length > 0 ? sent.join(', ') : '(none)'}${queued.more ? ' and more' : ''}; notified gate ${gate ?? '(none)'}; message lock pttl ${locked}`);
      for (const k of bindings) log(`  redis: ${k} -> ${await redis.get(k)} (ttl ${await redis.ttl(k)} s)`);
      const jobKeys = (await redis.keys(`${bullPrefix(prefix)}:${TASK_QUEUE}:*${t.taskId}*`)).filter((k) => !k.endsWith(':logs') && !k.endsWith(':lock'));
      for (const k of jobKeys.sort()) {
        const j = await redis.hmget(k, 'name', 'timestamp', 'delay', 'processedOn', 'finishedOn', 'attemptsMade', 'failedReason');
        const iso = (x: string | null | undefined) => (x ? new Date(Number(x)).toISOString() : '-');
        log(`  job ${k.slice(k.lastIndexOf(':') + 1)}: ${j[0]} added ${iso(j[1])} delay ${j[2]} processed ${iso(j[3])} finished ${iso(j[4])} attempts ${j[5]}${j[6] ? ` failed: ${j[6]}` : ''}`);
      }
    } catch (err) {
      log(`  redis: could not read (${(err as Error).message})`);
    }
    const device = await fetch(`${fleetUrl}/device/${encodeURIComponent(dev)}`)
      .then((r) => r.text())
      .catch((err: Error) => `(could not ask: ${err.message})`);
    log(`  fleet: ${device}`);
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
