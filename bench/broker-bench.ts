/**
 * Deployment broker figures, against one gateway process and one simulated
 * fleet process (`dmwsi simulate`, so its devices' work does not share the
 * bench process with autocannon), on one throwaway Redis. In this order:
 *
 * 1. `arm`, queue-to-armed: `tasks` doOperation SCHEDULED_EXEC calls
 *    (targetUri ./FUMO/fw1/Update, atTime one hour ahead, bOptin false,
 *    policy 30, testCycle false), one per simulated device, sent by autocannon
 *    (`connections` connections, userSession auth). Each task goes QUEUED ->
 *    notify job on BullMQ -> HTTP notification to the fleet -> the device's
 *    DM session arms the SingleShotExec -> SCHEDULED. Timed from the first
 *    call until every task is SCHEDULED, counted by polling the gateway's
 *    SQLite file read-only every 250 ms (`SELECT status, count(*) FROM task
 *    GROUP BY status`); the time after the last doOperation returned is
 *    printed beside it.
 * 2. `raw`, BullMQ alone on the same Redis: Queue.addBulk of `tasks` empty
 *    jobs and a Worker with the gateway's concurrency and a no-op processor,
 *    timed from the addBulk call to the last completion (see
 *    support/raw-bullmq.ts), in the bench process while the gateway and the
 *    fleet sit idle. Figure 1 ÷ figure 2 is the ratio.
 * 3. `soap`, doOperation over SOAP: autocannon, `connections` connections for
 *    `duration` seconds, QUERY (Get ./DevInfo/Mod) on the fleet's phone
 *    numbers round-robin; once every device had one, the next round uses
 *    another URI (no longer needed: only a WS-Addressing MessageID makes a
 *    call a retry, and the bench sends none; kept so figures stay comparable). The devices
 *    are the live fleet, so the gateway also runs the notify jobs and DM
 *    sessions these tasks cause while it answers (as a role=all gateway
 *    does); the sessions run meanwhile are printed.
 * 4. `api`, the same load against a gateway started with `--role api` on the
 *    same database and Redis (the first one stopped; 2 s of warm-up load not
 *    counted): no workers, no DM endpoint, so the SOAP call's own cost
 *    without the work it causes.
 *
 * Also reported per window: CPU seconds of each process (from /proc), Redis
 * commands (INFO commandstats) and DM messages the gateway answered (its
 * /metrics).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../src/main/redis-launcher.js';
import type { FleetStats } from '../src/simulator/fleet.js';
import {
  commandGrowth,
  cpuSecondsOf,
  dmMessagesByStatus,
  envelope,
  escapeXml,
  type FleetProcess,
  formatCounts,
  load,
  redisCommandCalls,
  soapCall,
  startFleetProcess,
  stopPatiently,
  TaskTable,
} from './support/broker-load.js';
import { rssOf, type Started, spawnGateway, waitForHttpAnswer } from './support/processes.js';
import { type RawBullMqResult, runRawBullMq } from './support/raw-bullmq.js';

export const BROKER_PHASES = ['arm', 'raw', 'soap', 'api'] as const;
export type BrokerPhase = (typeof BROKER_PHASES)[number];

export interface BrokerBenchOptions {
  redisUrl: string;
  /** SCHEDULED_EXEC tasks, simulated devices and raw BullMQ jobs. */
  tasks: number;
  /** Seconds of each doOperation load run. */
  durationSeconds: number;
  connections: number;
  /** The gateway's WORKER_CONCURRENCY and the raw worker's concurrency. */
  workerConcurrency: number;
  /** The fleet's simultaneous DM sessions (`simulate --max-sessions`). */
  fleetMaxSessions: number;
  /** Give up waiting for the tasks to be armed after this long. */
  armTimeoutSeconds: number;
  /** Which figures to run (all by default). */
  phases?: ReadonlySet<BrokerPhase>;
  /** Write CPU profiles of the gateway processes (node --cpu-prof) into this directory. */
  cpuProfileDir?: string;
  /** Progress lines (stderr by default). */
  log?: (line: string) => void;
}

export interface CpuSeconds {
  gateway: number | undefined;
  fleet: number | undefined;
  redis: number | undefined;
  bench: number;
}

/** Redis commands run in a window (INFO commandstats: a Lua script's own calls count too). */
export interface RedisWork {
  total: number;
  top: [string, number][];
}

export interface ArmResult {
  tasks: number;
  /** All SCHEDULED (false: timed out, or some tasks ended otherwise). */
  complete: boolean;
  /** First call to the last task SCHEDULED (or to giving up). */
  seconds: number;
  /** First call to the last doOperation answer. */
  submitSeconds: number;
  /** Last doOperation answer to the last task SCHEDULED. */
  afterLastReturnSeconds: number;
  tasksPerSecond: number;
  submitFailures: number;
  firstSubmitFailure: string | undefined;
  finalCounts: Record<string, number>;
  fleet: FleetStats;
  cpu: CpuSeconds;
  redis: RedisWork;
  /** DM messages the gateway answered in the window, by HTTP status. */
  dmMessages: Record<string, number>;
}

export interface SoapResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  non2xx: number;
  connections: number;
  durationSeconds: number;
  /** DM sessions the fleet ran during the run (the background work of these tasks). */
  fleetSessions: number;
  /** The QUERY tasks by status right after the run. */
  queryCounts: Record<string, number>;
  cpu: CpuSeconds;
  redis: RedisWork;
}

export interface BrokerBenchResult {
  arm: ArmResult | undefined;
  raw: RawBullMqResult | undefined;
  /** CPU during the raw BullMQ run (its queue and worker are in the bench process). */
  rawCpu: CpuSeconds | undefined;
  /** Queue-to-armed tasks/s ÷ raw BullMQ jobs/s. */
  ratio: number | undefined;
  soap: SoapResult | undefined;
  /** doOperation against a `--role api` gateway (no workers, no DM). */
  api: SoapResult | undefined;
  gatewayPeakRssBytes: number | undefined;
  fleetPeakRssBytes: number | undefined;
  setupSeconds: number;
  /** os.loadavg() (1 min) when the bench started and when it ended: other work on the box. */
  loadAverage: [number, number];
  cores: number;
}

const CAPABILITY_OID = 'bench-broker-cap';
const ADMIN_PASSWORD = 'bench-admin-password';
const PHONE_PREFIX = '+1555';
const TARGET_URI = './FUMO/fw1/Update';
/** QUERY targets, one per round over the devices (then ./DevInfo/Ext/bN). */
const QUERY_URIS = [
  './DevInfo/Mod',
  './DevInfo/Man',
  './DevInfo/Lang',
  './DevInfo/DmV',
  './DevInfo/DevId',
  './DevDetail/FwV',
  './DevDetail/SwV',
  './DevDetail/HwV',
];
const TERMINAL = ['COMPLETED', 'FAILED', 'MISSED', 'CANCELLED', 'EXPIRED'];
const HEADERS = { 'content-type': 'text/xml; charset=utf-8' };

/** The simulator's phone numbers: prefix + 7-digit counter from 1. */
const phoneOf = (i: number) => PHONE_PREFIX + String(i + 1).padStart(7, '0');

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function doOperationXml(session: string, operation: string, phone: string): string {
  return envelope(
    `<t:doOperation><t:userSession>${session}</t:userSession><t:operation>${operation}</t:operation><t:phoneNumber>${phone}</t:phoneNumber><t:bOptin>false</t:bOptin><t:acceptDevicePolicy>30</t:acceptDevicePolicy><t:testCycle>false</t:testCycle></t:doOperation>`,
  );
}

async function redisPid(redisUrl: string): Promise<number | undefined> {
  const host = new URL(redisUrl).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) return undefined;
  const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    const m = /process_id:(\d+)/.exec(await r.info('server'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  } finally {
    r.disconnect();
  }
}

interface Pids {
  gateway: number | undefined;
  fleet: number | undefined;
  redis: number | undefined;
}

interface Mark {
  commands: Record<string, number>;
  dmMessages: Record<string, number>;
  gateway: number | undefined;
  fleet: number | undefined;
  redis: number | undefined;
  bench: NodeJS.CpuUsage;
}

async function mark(pids: Pids, stats: Redis, gatewayBase: string): Promise<Mark> {
  return {
    commands: await redisCommandCalls(stats),
    dmMessages: await dmMessagesByStatus(gatewayBase),
    gateway: await cpuSecondsOf(pids.gateway),
    fleet: await cpuSecondsOf(pids.fleet),
    redis: await cpuSecondsOf(pids.redis),
    bench: process.cpuUsage(),
  };
}

function cpuSince(a: Mark, b: Mark): CpuSeconds {
  const d = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? undefined : y - x);
  const bench = process.cpuUsage(a.bench);
  return {
    gateway: d(a.gateway, b.gateway),
    fleet: d(a.fleet, b.fleet),
    redis: d(a.redis, b.redis),
    bench: (bench.user + bench.system) / 1e6,
  };
}

function startGateway(o: BrokerBenchOptions, env: Record<string, string>, args: string[]): Started {
  const nodeArgs: string[] = [];
  if (o.cpuProfileDir !== undefined) {
    // Written when the gateway exits (it exits on SIGTERM once closed).
    fs.mkdirSync(o.cpuProfileDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${path.resolve(o.cpuProfileDir)}`);
  }
  return spawnGateway(args, env, nodeArgs);
}

async function login(brokerUrl: string): Promise<string> {
  const answer = await soapCall(brokerUrl, `<t:login><t:username>admin</t:username><t:password>${ADMIN_PASSWORD}</t:password></t:login>`);
  return /<userSession>([^<]+)<\/userSession>/.exec(answer)![1]!;
}

export async function runBrokerBench(o: BrokerBenchOptions): Promise<BrokerBenchResult> {
  const log = o.log ?? ((line: string) => process.stderr.write(`[broker] ${line}\n`));
  const phases = o.phases ?? new Set<BrokerPhase>(BROKER_PHASES);
  const started = performance.now();
  const loadAtStart = os.loadavg()[0]!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-broker-bench-'));
  const port = await freePort();
  const fleetPort = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const brokerUrl = `${base}/dmwsi/DeploymentBroker`;
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    REDIS_URL: o.redisUrl,
    PUBLIC_DM_URL: `${base}/dm`,
    DMWSI_ADMIN_PASSWORD: ADMIN_PASSWORD,
    DMWSI_SECRET_KEY: crypto.randomBytes(32).toString('hex'),
    QUEUE_PREFIX: `bench-${crypto.randomBytes(3).toString('hex')}`,
    WORKER_CONCURRENCY: String(o.workerConcurrency),
    LOG_LEVEL: 'warn',
  };
  let gateway = startGateway(o, env, []);
  let fleet: FleetProcess | undefined;
  let table: TaskTable | undefined;
  const statsRedis = new Redis(o.redisUrl, { maxRetriesPerRequest: 1, connectionName: 'bench-stats' });
  try {
    const csvPath = path.join(dir, 'fleet.csv');
    const [up, startedFleet] = await Promise.allSettled([
      waitForHttpAnswer(`${base}/healthz`),
      startFleetProcess({
        devices: o.tasks,
        serverUrl: `${base}/dm`,
        listenPort: fleetPort,
        csvPath,
        capabilityOid: CAPABILITY_OID,
        imeiStart: '35800000000000',
        phonePrefix: PHONE_PREFIX,
        secretSeed: 'broker-bench',
        maxSessions: o.fleetMaxSessions,
      }),
    ]);
    if (startedFleet.status === 'fulfilled') fleet = startedFleet.value;
    if (up.status === 'rejected') throw up.reason;
    if (startedFleet.status === 'rejected') throw startedFleet.reason;
    if (!fleet) throw new Error('unreachable');
    const redisProcess = await redisPid(o.redisUrl);
    const pids: Pids = { gateway: gateway.child.pid, fleet: fleet.child.pid, redis: redisProcess };

    const deviceManager = `${base}/dmwsi/DeviceManager`;
    let session = await login(brokerUrl);
    await soapCall(
      deviceManager,
      `<t:createDeviceCapability><t:userSession>${session}</t:userSession><t:capability><t:oid>${CAPABILITY_OID}</t:oid><t:make>DmwsiSim</t:make><t:model>SimPhone-1</t:model><t:firmwareVersion>1.0.0</t:firmwareVersion><t:dmVersion>1.2</t:dmVersion><t:sseRoot>./SSE</t:sseRoot></t:capability></t:createDeviceCapability>`,
    );
    const imported = await soapCall(
      deviceManager,
      `<t:importDeviceInstances><t:userSession>${session}</t:userSession><t:csv>${escapeXml(fs.readFileSync(csvPath, 'utf8'))}</t:csv></t:importDeviceInstances>`,
    );
    const count = Number(/<imported>(\d+)<\/imported>/.exec(imported)?.[1]);
    if (count !== o.tasks) throw new Error(`import stored ${count} of ${o.tasks} devices: ${imported.slice(0, 400)}`);
    table = new TaskTable(path.join(dir, 'dmwsi.sqlite'));
    const setupSeconds = (performance.now() - started) / 1000;
    log(`setup: gateway, ${o.tasks} simulated devices imported in ${setupSeconds.toFixed(1)} s`);

    // --- 1. queue-to-armed ---------------------------------------------------------------
    let arm: ArmResult | undefined;
    if (phases.has('arm')) {
      const atTime = isoSeconds(Date.now() + 3600_000);
      const operation = `<t:name>SCHEDULED_EXEC</t:name><t:targetUri>${TARGET_URI}</t:targetUri><t:atTime>${atTime}</t:atTime>`;
      let next = 0;
      let submitFailures = 0;
      let firstSubmitFailure: string | undefined;
      let lastCounts: Record<string, number> = {};
      let armedAt: number | undefined;
      const m0 = await mark(pids, statsRedis, base);
      const t0 = performance.now();
      const poll = setInterval(() => {
        lastCounts = table!.counts('SCHEDULED_EXEC');
        const settled = (lastCounts.SCHEDULED ?? 0) + TERMINAL.reduce((a, s) => a + (lastCounts[s] ?? 0), 0);
        if (armedAt === undefined && settled >= o.tasks) armedAt = performance.now();
      }, 250);
      const progress = setInterval(() => log(`arm: ${((performance.now() - t0) / 1000).toFixed(0)} s: ${formatCounts(lastCounts)}`), 5000);
      let submitSeconds = 0;
      try {
        const r = await load({
          url: brokerUrl,
          method: 'POST',
          headers: HEADERS,
          connections: o.connections,
          amount: o.tasks,
          requests: [
            {
              setupRequest: (req) => ({ ...req, body: doOperationXml(session, operation, phoneOf(next++ % o.tasks)) }),
              onResponse: (status, body) => {
                if (status !== 200 || !body.includes('<taskId>')) {
                  submitFailures++;
                  firstSubmitFailure ??= `${status}: ${body.slice(0, 300)}`;
                }
              },
            },
          ],
        });
        submitSeconds = (performance.now() - t0) / 1000;
        submitFailures = Math.max(submitFailures, r.errors + r.non2xx);
        log(`arm: ${r.requests.total} doOperation calls answered in ${submitSeconds.toFixed(1)} s (${submitFailures} failed)`);
        const deadline = performance.now() + o.armTimeoutSeconds * 1000;
        while (armedAt === undefined && performance.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      } finally {
        clearInterval(poll);
        clearInterval(progress);
      }
      const end = armedAt ?? performance.now();
      const m1 = await mark(pids, statsRedis, base);
      const finalCounts = table.counts('SCHEDULED_EXEC');
      const seconds = (end - t0) / 1000;
      arm = {
        tasks: o.tasks,
        complete: (finalCounts.SCHEDULED ?? 0) === o.tasks,
        seconds,
        submitSeconds,
        afterLastReturnSeconds: Math.max(0, seconds - submitSeconds),
        tasksPerSecond: (finalCounts.SCHEDULED ?? 0) / seconds,
        submitFailures,
        firstSubmitFailure,
        finalCounts,
        fleet: await fleet.stats(),
        cpu: cpuSince(m0, m1),
        redis: commandGrowth(m0.commands, m1.commands),
        dmMessages: Object.fromEntries(commandGrowth(m0.dmMessages, m1.dmMessages).top),
      };
      log(`arm: ${formatCounts(finalCounts)} after ${seconds.toFixed(1)} s`);
    }

    // --- 2. raw BullMQ -------------------------------------------------------------------
    let raw: RawBullMqResult | undefined;
    let rawCpu: CpuSeconds | undefined;
    if (phases.has('raw')) {
      const m0 = await mark(pids, statsRedis, base);
      raw = await runRawBullMq(o.redisUrl, `${env.QUEUE_PREFIX}-raw`, o.tasks, o.workerConcurrency);
      rawCpu = cpuSince(m0, await mark(pids, statsRedis, base));
      log(`raw BullMQ: ${raw.jobs} jobs in ${raw.seconds.toFixed(2)} s (addBulk ${raw.addBulkSeconds.toFixed(2)} s)`);
    }

    // --- 3. and 4. doOperation over SOAP ---------------------------------------------------
    // One counter over both runs: request k is device k mod N, URI round k div N.
    let k = 0;
    const query = (n: number) => {
      const round = Math.floor(n / o.tasks);
      const uri = QUERY_URIS[round] ?? `./DevInfo/Ext/b${round}`;
      return `<t:name>QUERY</t:name><t:commands><t:command><t:verb>Get</t:verb><t:uri>${uri}</t:uri></t:command></t:commands>`;
    };
    const queryRun = (durationSeconds: number) =>
      load({
        url: brokerUrl,
        method: 'POST',
        headers: HEADERS,
        connections: o.connections,
        duration: durationSeconds,
        requests: [
          {
            setupRequest: (req) => {
              const n = k++;
              return { ...req, body: doOperationXml(session, query(n), phoneOf(n % o.tasks)) };
            },
          },
        ],
      });
    const queryLoad = async (what: string): Promise<SoapResult> => {
      const fleetBefore = await fleet!.stats();
      const m0 = await mark(pids, statsRedis, base);
      const r = await queryRun(o.durationSeconds);
      const m1 = await mark(pids, statsRedis, base);
      const fleetAfter = await fleet!.stats();
      log(`${what}: ${r.requests.total} doOperation QUERY calls answered, ${r.errors + r.non2xx} failed`);
      return {
        requestsPerSecond: Math.round(r.requests.average),
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        requests: r.requests.total,
        errors: r.errors,
        non2xx: r.non2xx,
        connections: o.connections,
        durationSeconds: o.durationSeconds,
        fleetSessions: fleetAfter.sessionsOk + fleetAfter.sessionsFailed - fleetBefore.sessionsOk - fleetBefore.sessionsFailed,
        queryCounts: table!.counts('QUERY'),
        cpu: cpuSince(m0, m1),
        redis: commandGrowth(m0.commands, m1.commands),
      };
    };
    const soap = phases.has('soap') ? await queryLoad('soap') : undefined;
    const gatewayPeakRssBytes = gateway.child.pid ? await rssOf(gateway.child.pid) : undefined;

    let api: SoapResult | undefined;
    if (phases.has('api')) {
      const stopping = performance.now();
      await stopPatiently(gateway.child);
      log(`api: the first gateway took ${((performance.now() - stopping) / 1000).toFixed(1)} s to stop`);
      gateway = startGateway(o, env, ['--role', 'api']);
      pids.gateway = gateway.child.pid;
      await waitForHttpAnswer(`${base}/healthz`);
      session = await login(brokerUrl);
      // The first gateway was warm from the arm run; this one gets 2 s of the same load first.
      await queryRun(2);
      const before = table.counts('QUERY');
      api = await queryLoad('api');
      // Tasks of the api run stay QUEUED (no worker): show only those.
      const after = api.queryCounts;
      api.queryCounts = { QUEUED: (after.QUEUED ?? 0) - (before.QUEUED ?? 0) };
    }

    return {
      arm,
      raw,
      rawCpu,
      ratio: arm && raw ? arm.tasksPerSecond / raw.jobsPerSecond : undefined,
      soap,
      api,
      gatewayPeakRssBytes,
      fleetPeakRssBytes: fleet.child.pid ? await rssOf(fleet.child.pid) : undefined,
      setupSeconds,
      loadAverage: [loadAtStart, os.loadavg()[0]!],
      cores: os.availableParallelism(),
    };
  } finally {
    table?.close();
    statsRedis.disconnect();
    await fleet?.stop();
    await stopPatiently(gateway.child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
