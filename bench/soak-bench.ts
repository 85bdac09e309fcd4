/**
 * The soak benchmark (`npm run bench:soak -- --minutes N`): a steady mixed
 * load on real gateway processes for N minutes, with their memory and
 * event-loop delay printed every minute, and at the end whether memory
 * stayed flat.
 *
 * Processes (as the fleet bench): the gateway (`dmwsi serve`, role all; or
 * with --soak-split one process per role, api first so that it alone
 * migrates the database), a simulated fleet (`dmwsi simulate`) answering
 * the gateway's notifications over HTTP, a throwaway Redis; one SQLite file.
 * Setup (not measured): the fleet's devices are registered with
 * createDeviceCapability and importDeviceInstances.
 *
 * The load, paced, so it stays moderate on a shared 2-core box:
 * - SOAP calls at `soapRate` per second: getDeviceInstanceByDeviceID of a
 *   fleet device; a cycle of createDeviceInstance / updateDeviceInstance /
 *   deleteDeviceInstance over a pool of ~100 extra devices (so the registry
 *   does not grow); getTaskById of a recent task; getJobs.
 * - Device sessions: doOperation QUERY (Get ./DevInfo/Mod) at `sessionRate`
 *   per second, on the fleet's devices in turn (so no two calls within 10
 *   minutes are the same call, which the gateway would answer with the same
 *   task): each is a notification and a DM session.
 * - Rollouts: every `rolloutEverySeconds`, once the previous one has ended,
 *   createDeployments over `rolloutSize` random fleet devices, SCHEDULED_EXEC
 *   (AtTime 40 s ahead) and QUERY in turn, at most 50 notifications/s;
 *   followed with getJobById until every task has ended.
 *
 * Every minute, per gateway process: RSS (/proc), V8 heap used and the
 * event-loop delay p50/p99/max over that minute (its /metrics: prom-client's
 * monitorEventLoopDelay, reset at each scrape, so this bench must be its only
 * scraper; the histogram records the time between 10 ms timer ticks, so 10 ms
 * is taken off); and the load's counts and failures over that minute.
 * At the end: the slope of each process's RSS over the second half (least
 * squares over samples every 5 s, MiB per 10 minutes), and whether it stayed
 * flat (≤ FLAT_MIB_PER_10_MIN), once the second half is long enough to tell.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { freePort } from '../src/main/redis-launcher.js';
import { imeiWithCheckDigit } from '../src/simulator/fleet.js';
import { envelope, escapeXml, type FleetProcess, soapCall, startFleetProcess, stopPatiently } from './support/broker-load.js';
import { currentRssOf, ended, type JobCounters, parseJobData } from './support/fleet-db.js';
import { GATEWAY_NODE_ARGS, ROOT, waitForHttpAnswer } from './support/processes.js';

export interface SoakOptions {
  redisUrl: string;
  minutes: number;
  /** Simulated devices in the fleet process. */
  devices: number;
  /** The fleet's simultaneous DM sessions (`simulate --max-sessions`). */
  fleetSessions: number;
  /** SOAP registry and read calls per second. */
  soapRate: number;
  /** doOperation QUERY calls (each a device session) per second. */
  sessionRate: number;
  rolloutSize: number;
  rolloutEverySeconds: number;
  /** api, dm and worker as three processes instead of one `--role all`. */
  split: boolean;
  /** The report (stdout by default). */
  out?: (line: string) => void;
  /** Progress (stderr by default). */
  log?: (line: string) => void;
}

/** RSS growth over the second half, in MiB per 10 minutes, below which memory counts as flat. */
export const FLAT_MIB_PER_10_MIN = 5;
/** A second half shorter than this says nothing about a slope of a few MiB per 10 minutes. */
const MIN_JUDGED_HALF_MINUTES = 5;
/** prom-client's monitorEventLoopDelay resolution (its default): every recorded delay includes it. */
const ELD_RESOLUTION_S = 0.01;
const RSS_SAMPLE_MS = 5_000;
const CAPABILITY_OID = 'soak-cap';
const ADMIN_PASSWORD = 'soak-admin-password';
const FLEET_IMEI_START = '35700000000000';
const FLEET_PHONE_PREFIX = '+1666';
const EXTRA_IMEI_START = 35_800_000_000_000;
const EXTRA_POOL = 100;
const TARGET_URI = './FUMO/fw1/Update';
const SCHEDULE_LEAD_S = 40;
/** How long the end waits for open tasks (a rollout's schedules, sessions in flight) before the final counts. */
const DRAIN_MS = 120_000;
const MiB = 1024 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isoSeconds = (ms: number) => new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

/** Counts of one kind of call: answers, failures by reason, latencies (ms) since the last `take`. */
class Tally {
  ok = 0;
  failed = 0;
  readonly reasons = new Map<string, number>();
  private latencies: number[] = [];

  record(ms: number, failure?: string): void {
    this.latencies.push(ms);
    if (failure === undefined) {
      this.ok++;
      return;
    }
    this.failed++;
    this.reasons.set(failure, (this.reasons.get(failure) ?? 0) + 1);
  }

  /** The counts so far and the latencies since the last call. */
  take(): { ok: number; failed: number; latencies: number[] } {
    const latencies = this.latencies;
    this.latencies = [];
    return { ok: this.ok, failed: this.failed, latencies };
  }
}

function quantile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Least-squares slope of y over x. */
function slope(points: readonly [number, number][]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

interface GatewayProcess {
  name: string;
  base: string;
  child: ChildProcess;
  /** [ms since the load started, bytes] every RSS_SAMPLE_MS. */
  rss: [number, number][];
  /** [ms since the load started, bytes] at each minute's scrape. */
  heap: [number, number][];
  /** Log lines at warn or above since the last minute, and their first messages. */
  warnings: number;
  errors: number;
  firstProblems: string[];
}

/** `dmwsi serve` with its JSON log read, to count its warn/error lines. */
function startGatewayProcess(name: string, role: string, port: number, env: Record<string, string>): GatewayProcess {
  const child = spawn(process.execPath, [...GATEWAY_NODE_ARGS, path.join(ROOT, 'bin', 'dmwsi.mjs'), 'serve', '--role', role], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const g: GatewayProcess = {
    name,
    base: `http://127.0.0.1:${port}`,
    child,
    rss: [],
    heap: [],
    warnings: 0,
    errors: 0,
    firstProblems: [],
  };
  let rest = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const level = Number(/"level":(\d+)/.exec(line)?.[1]);
      if (!(level >= 40)) continue;
      if (level >= 50) g.errors++;
      else g.warnings++;
      if (g.firstProblems.length < 5) g.firstProblems.push(line.slice(0, 300));
    }
  });
  return g;
}

interface Scrape {
  heapUsed: number | undefined;
  /** V8's committed heap and memory outside it (Buffers, native): where RSS grows when the used heap does not. */
  heapTotal: number | undefined;
  external: number | undefined;
  /** Event-loop delay over the minute, seconds. */
  eld: { p50: number; p99: number; max: number } | undefined;
  dmByStatus: Record<string, number>;
}

async function scrape(base: string): Promise<Scrape | undefined> {
  const r = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
  if (!r?.ok) return undefined;
  const text = await r.text();
  const gauge = (name: string) => {
    const m = new RegExp(`^${name} (\\S+)`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const less = (v: number | undefined) => (v === undefined ? Number.NaN : Math.max(0, v - ELD_RESOLUTION_S));
  const p50 = gauge('dmwsi_nodejs_eventloop_lag_p50_seconds');
  const dmByStatus: Record<string, number> = {};
  for (const m of text.matchAll(/^dmwsi_dm_message_duration_seconds_count\{status="(\d+)"\} (\d+)/gm)) dmByStatus[m[1]!] = Number(m[2]);
  return {
    heapUsed: gauge('dmwsi_nodejs_heap_size_used_bytes'),
    heapTotal: gauge('dmwsi_nodejs_heap_size_total_bytes'),
    external: gauge('dmwsi_nodejs_external_memory_bytes'),
    eld:
      p50 === undefined
        ? undefined
        : {
            p50: less(p50),
            p99: less(gauge('dmwsi_nodejs_eventloop_lag_p99_seconds')),
            max: less(gauge('dmwsi_nodejs_eventloop_lag_max_seconds')),
          },
    dmByStatus,
  };
}

/** What the SOAP answer says: undefined when it is a success, else the fault code or HTTP status. */
async function call(url: string, body: string): Promise<{ ms: number; text: string; failure: string | undefined }> {
  const t = performance.now();
  try {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'text/xml; charset=utf-8' },
      body: envelope(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await r.text();
    const failure = r.status === 200 ? undefined : (/<tns:code>([^<]+)</.exec(text)?.[1] ?? `HTTP ${r.status}`);
    return { ms: performance.now() - t, text, failure };
  } catch (err) {
    return { ms: performance.now() - t, text: '', failure: (err as Error).name === 'TimeoutError' ? 'timeout' : 'network' };
  }
}

/**
 * Runs `fn` `perSecond` times a second from `workers` loops until `stop()`:
 * each loop waits out the rest of its period, so a slow gateway gets less
 * load, never a pile-up.
 */
function paced(perSecond: number, workers: number, fn: () => Promise<void>, stopped: () => boolean): Promise<void>[] {
  if (perSecond <= 0) return [];
  const n = Math.max(1, Math.min(workers, Math.ceil(perSecond)));
  const period = (1000 * n) / perSecond;
  return Array.from({ length: n }, async (_, i) => {
    await sleep((period * i) / n);
    while (!stopped()) {
      const t = performance.now();
      await fn();
      await sleep(Math.max(0, period - (performance.now() - t)));
    }
  });
}

export async function runSoakBench(o: SoakOptions): Promise<void> {
  const out = o.out ?? ((line: string) => console.log(line));
  const log = o.log ?? ((line: string) => process.stderr.write(`[soak] ${line}\n`));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-soak-'));
  const roles = o.split ? (['api', 'dm', 'worker'] as const) : (['all'] as const);
  const ports = Object.fromEntries(await Promise.all(roles.map(async (r) => [r, await freePort()] as const))) as Record<string, number>;
  const urlOf = (role: string) => `http://127.0.0.1:${ports[o.split ? role : 'all']}`;
  const api = urlOf('api');
  const env: Record<string, string> = {
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    REDIS_URL: o.redisUrl,
    PUBLIC_DM_URL: `${urlOf('dm')}/dm`,
    DMWSI_ADMIN_PASSWORD: ADMIN_PASSWORD,
    DMWSI_SECRET_KEY: crypto.randomBytes(32).toString('hex'),
    QUEUE_PREFIX: `soak-${crypto.randomBytes(3).toString('hex')}`,
    // The bench's one userSession must outlast the run.
    USER_SESSION_TTL_SECONDS: String(Math.min(7 * 24 * 3600, Math.max(3600, Math.ceil(o.minutes * 60 + 3600)))),
    LOG_LEVEL: 'warn',
  };
  const gateways: GatewayProcess[] = [];
  let fleet: FleetProcess | undefined;
  let db: Database.Database | undefined;
  let stopLoad = false;
  const timers: NodeJS.Timeout[] = [];
  const stopAll = async () => {
    stopLoad = true;
    for (const t of timers) clearInterval(t);
    db?.close();
    db = undefined;
    await fleet?.stop();
    await Promise.all(gateways.map((g) => stopPatiently(g.child, 30_000)));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const interrupted = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the gateway and the fleet`);
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    // --- processes ---------------------------------------------------------------------------
    for (const role of roles) {
      const g = startGatewayProcess(role === 'all' ? 'gateway' : `gateway ${role}`, role, ports[role]!, env);
      gateways.push(g);
      // One at a time: the first one migrates the database and creates the admin alone.
      await waitForHttpAnswer(`${g.base}/healthz`, 60_000);
    }
    const csvPath = path.join(dir, 'fleet.csv');
    fleet = await startFleetProcess(
      {
        devices: o.devices,
        serverUrl: `${urlOf('dm')}/dm`,
        listenPort: await freePort(),
        csvPath,
        capabilityOid: CAPABILITY_OID,
        imeiStart: FLEET_IMEI_START,
        phonePrefix: FLEET_PHONE_PREFIX,
        secretSeed: 'soak',
        maxSessions: o.fleetSessions,
      },
      300_000,
    );
    const broker = `${api}/dmwsi/DeploymentBroker`;
    const bulk = `${api}/dmwsi/BulkOperationsManager`;
    const registry = `${api}/dmwsi/DeviceManager`;
    const login = await soapCall(bulk, `<t:login><t:username>admin</t:username><t:password>${ADMIN_PASSWORD}</t:password></t:login>`);
    const us = `<t:userSession>${/<userSession>([^<]+)<\/userSession>/.exec(login)![1]!}</t:userSession>`;
    await soapCall(
      registry,
      `<t:createDeviceCapability>${us}<t:capability><t:oid>${CAPABILITY_OID}</t:oid><t:make>DmwsiSim</t:make><t:model>SimPhone-1</t:model><t:firmwareVersion>1.0.0</t:firmwareVersion><t:dmVersion>1.2</t:dmVersion><t:sseRoot>./SSE</t:sseRoot></t:capability></t:createDeviceCapability>`,
    );
    const [header, ...rows] = fs.readFileSync(csvPath, 'utf8').split('\n').filter((l) => l !== '');
    for (let i = 0; i < rows.length; i += 20_000) {
      const chunk = rows.slice(i, i + 20_000);
      const answer = await soapCall(registry, `<t:importDeviceInstances>${us}<t:csv>${escapeXml([header, ...chunk].join('\n'))}</t:csv></t:importDeviceInstances>`);
      const count = Number(/<imported>(\d+)<\/imported>/.exec(answer)?.[1]);
      if (count !== chunk.length) throw new Error(`import stored ${count} of ${chunk.length} rows: ${answer.slice(0, 400)}`);
    }
    const fleetDevices = rows.map((r) => {
      const [deviceId, phone] = r.split(',');
      return { deviceId: deviceId!, phone: phone! };
    });
    db = new Database(path.join(dir, 'dmwsi.sqlite'), { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const openTasks = db.prepare(
      "SELECT job_id IS NULL AS single, count(*) AS n FROM task WHERE status NOT IN ('COMPLETED','FAILED','MISSED','CANCELLED','EXPIRED') GROUP BY 1",
    );
    const tasksByStatus = db.prepare('SELECT job_id IS NULL AS single, status, count(*) AS n FROM task GROUP BY 1, 2');
    log(
      `setup: ${gateways.map((g) => `${g.name} pid ${g.child.pid}`).join(', ')}, fleet pid ${fleet.child.pid}; ${o.devices} devices imported; load for ${o.minutes} min`,
    );

    // --- the load ----------------------------------------------------------------------------
    const soap = new Map<string, Tally>();
    const tallyOf = (op: string) => {
      const t = soap.get(op) ?? new Tally();
      soap.set(op, t);
      return t;
    };
    const doOps = new Tally();
    const recentTasks: string[] = [];
    // Extra devices (never contacted), oldest first; one call at a time on each, so none is updated while deleted.
    const extras: { deviceId: string; phone: string }[] = [];
    const busy = new Set<string>();
    let extraSeq = 0;
    let soapSeq = 0;
    const soapOnce = async () => {
      const k = soapSeq++ % 20;
      let op: string;
      let url = registry;
      let body: string;
      let created: { deviceId: string; phone: string } | undefined;
      let using: string | undefined;
      const idle = extras.filter((x) => !busy.has(x.deviceId));
      if (k < 8) {
        const d = fleetDevices[Math.floor(Math.random() * fleetDevices.length)]!;
        op = 'getDeviceInstanceByDeviceID';
        body = `<t:getDeviceInstanceByDeviceID>${us}<t:deviceId>${d.deviceId}</t:deviceId></t:getDeviceInstanceByDeviceID>`;
      } else if (k < 14) {
        // The pool of extra devices stays near EXTRA_POOL: created while below it, else updated or deleted.
        if (idle.length < EXTRA_POOL || (k === 13 && extras.length < EXTRA_POOL * 1.2)) {
          const n = extraSeq++;
          created = { deviceId: `IMEI:${imeiWithCheckDigit(String(EXTRA_IMEI_START + n))}`, phone: `+1777${String(n).padStart(7, '0')}` };
          op = 'createDeviceInstance';
          body = `<t:createDeviceInstance>${us}<t:device><t:deviceId>${created.deviceId}</t:deviceId><t:phoneNumber>${created.phone}</t:phoneNumber><t:capabilityOid>${CAPABILITY_OID}</t:capabilityOid><t:notificationUrl>http://127.0.0.1:9/notify/${n}</t:notificationUrl></t:device></t:createDeviceInstance>`;
        } else if (k % 2 === 0) {
          const d = idle[Math.floor(Math.random() * idle.length)]!;
          using = d.deviceId;
          op = 'updateDeviceInstance';
          body = `<t:updateDeviceInstance>${us}<t:device><t:deviceId>${d.deviceId}</t:deviceId><t:phoneNumber>${d.phone}</t:phoneNumber><t:capabilityOid>${CAPABILITY_OID}</t:capabilityOid><t:attribute><t:name>soak</t:name><t:value>${soapSeq}</t:value></t:attribute></t:device></t:updateDeviceInstance>`;
        } else {
          const d = idle[0]!;
          extras.splice(extras.indexOf(d), 1);
          op = 'deleteDeviceInstance';
          body = `<t:deleteDeviceInstance>${us}<t:deviceId>${d.deviceId}</t:deviceId></t:deleteDeviceInstance>`;
        }
      } else if (k < 17 && recentTasks.length > 0) {
        op = 'getTaskById';
        url = broker;
        body = `<t:getTaskById>${us}<t:taskId>${recentTasks[Math.floor(Math.random() * recentTasks.length)]}</t:taskId></t:getTaskById>`;
      } else {
        op = 'getJobs';
        url = bulk;
        const status = k % 2 === 0 ? '<t:status>COMPLETED</t:status>' : '';
        body = `<t:getJobs>${us}${status}<t:offset>0</t:offset><t:limit>20</t:limit></t:getJobs>`;
      }
      if (using) busy.add(using);
      const r = await call(url, body);
      if (using) busy.delete(using);
      if (created && !r.failure) extras.push(created);
      tallyOf(op).record(r.ms, r.failure);
    };
    let deviceTurn = 0;
    const sessionOnce = async () => {
      const d = fleetDevices[deviceTurn++ % fleetDevices.length]!;
      const operation = '<t:name>QUERY</t:name><t:commands><t:command><t:verb>Get</t:verb><t:uri>./DevInfo/Mod</t:uri></t:command></t:commands>';
      const r = await call(
        broker,
        `<t:doOperation>${us}<t:operation>${operation}</t:operation><t:phoneNumber>${d.phone}</t:phoneNumber><t:bOptin>false</t:bOptin><t:acceptDevicePolicy>30</t:acceptDevicePolicy><t:testCycle>false</t:testCycle></t:doOperation>`,
      );
      doOps.record(r.ms, r.failure);
      const id = /<taskId>([^<]+)<\/taskId>/.exec(r.text)?.[1];
      if (id) {
        recentTasks.push(id);
        if (recentTasks.length > 200) recentTasks.shift();
      }
    };
    const rollouts = { started: 0, done: 0, failedCalls: 0, tasks: 0, notCompleted: 0, seconds: [] as number[] };
    const rolloutLoop = async () => {
      for (let n = 0; !stopLoad; n++) {
        const started = performance.now();
        const picks = new Set<string>();
        while (picks.size < Math.min(o.rolloutSize, fleetDevices.length)) {
          picks.add(fleetDevices[Math.floor(Math.random() * fleetDevices.length)]!.deviceId);
        }
        const operation =
          n % 2 === 0
            ? `<t:name>SCHEDULED_EXEC</t:name><t:targetUri>${TARGET_URI}</t:targetUri><t:atTime>${isoSeconds(Date.now() + SCHEDULE_LEAD_S * 1000)}</t:atTime>`
            : '<t:name>QUERY</t:name><t:commands><t:command><t:verb>Get</t:verb><t:uri>./DevDetail/FwV</t:uri></t:command></t:commands>';
        const targets = [...picks].map((id) => `<t:targets>${id}</t:targets>`).join('');
        const r = await call(
          bulk,
          `<t:createDeployments>${us}<t:operation>${operation}</t:operation>${targets}<t:options><t:notificationsPerSecond>50</t:notificationsPerSecond></t:options></t:createDeployments>`,
        );
        rollouts.started++;
        const jobId = /<jobId>([^<]+)<\/jobId>/.exec(r.text)?.[1];
        if (r.failure || !jobId) {
          rollouts.failedCalls++;
        } else {
          let job: JobCounters | undefined;
          // Followed to its end even after the load stops: the drain below counts on it.
          for (;;) {
            await sleep(5_000);
            const j = await call(bulk, `<t:getJobById>${us}<t:jobId>${jobId}</t:jobId></t:getJobById>`);
            if (j.failure) continue;
            job = parseJobData(j.text);
            if (ended(job) >= job.total) break;
          }
          rollouts.done++;
          rollouts.tasks += job.total;
          rollouts.notCompleted += job.total - job.completed;
          rollouts.seconds.push((performance.now() - started) / 1000);
        }
        const wait = o.rolloutEverySeconds * 1000 - (performance.now() - started);
        for (let left = wait; left > 0 && !stopLoad; left -= 1000) await sleep(Math.min(1000, left));
      }
    };

    // --- sampling and the minute report -----------------------------------------------------------
    const t0 = performance.now();
    const sinceStart = () => performance.now() - t0;
    timers.push(
      setInterval(() => {
        for (const g of gateways) {
          void currentRssOf(g.child.pid).then((rss) => {
            if (rss !== undefined) g.rss.push([sinceStart(), rss]);
          });
        }
      }, RSS_SAMPLE_MS),
    );
    // The first scrape resets the event-loop histograms, so minute 1 covers the load only.
    await Promise.all(gateways.map((g) => scrape(g.base)));
    const workers = [
      ...paced(o.soapRate, 8, soapOnce, () => stopLoad),
      ...paced(o.sessionRate, 4, sessionOnce, () => stopLoad),
      ...(o.rolloutSize > 0 ? [rolloutLoop()] : []),
    ];
    const mib = (b: number | undefined) => (b === undefined || Number.isNaN(b) ? 'n/a' : (b / MiB).toFixed(0));
    const ms = (s: number | undefined) => (s === undefined || Number.isNaN(s) ? 'n/a' : (s * 1000).toFixed(1));
    out(`\n## Soak (${o.minutes} min; ${o.devices} devices; SOAP ${o.soapRate}/s, doOperation ${o.sessionRate}/s, rollouts of ${o.rolloutSize} every ${o.rolloutEverySeconds} s)`);
    out('| min | process | RSS MiB | heap used / total, external MiB | event-loop delay p50 / p99 / max ms | warn / error log lines | SOAP calls ok / failed, p99 ms | doOperation ok / failed | DM messages (non-2xx) | fleet sessions ok / failed | rollouts ended so far (tasks) | open tasks single / rollout |');
    out('|---|---|---|---|---|---|---|---|---|---|---|---|');
    let lastSoap = { ok: 0, failed: 0 };
    let lastDo = { ok: 0, failed: 0 };
    let lastDm = { total: 0, bad: 0 };
    let lastFleet = { ok: 0, failed: 0 };
    for (let minute = 1; minute <= o.minutes; minute++) {
      const due = t0 + minute * 60_000;
      while (performance.now() < due) await sleep(Math.min(1000, due - performance.now()));
      const at = sinceStart();
      const [scrapes, rssNow, fleetStats] = await Promise.all([
        Promise.all(gateways.map((g) => scrape(g.base))),
        Promise.all(gateways.map((g) => currentRssOf(g.child.pid))),
        fleet.stats().catch(() => undefined),
      ]);
      // Load over the minute.
      let soapOk = 0;
      let soapFailed = 0;
      const soapLat: number[] = [];
      for (const t of soap.values()) {
        const x = t.take();
        soapOk += x.ok;
        soapFailed += x.failed;
        soapLat.push(...x.latencies);
      }
      const d = doOps.take();
      let dmTotal = 0;
      let dmBad = 0;
      for (const s of scrapes) {
        for (const [status, n] of Object.entries(s?.dmByStatus ?? {})) {
          dmTotal += n;
          if (!status.startsWith('2')) dmBad += n;
        }
      }
      const open = { single: 0, rollout: 0 };
      for (const row of openTasks.all() as { single: number; n: number }[]) open[row.single ? 'single' : 'rollout'] = row.n;
      const fleetNow = { ok: fleetStats?.sessionsOk ?? lastFleet.ok, failed: fleetStats?.sessionsFailed ?? lastFleet.failed };
      const load = [
        `${soapOk - lastSoap.ok} / ${soapFailed - lastSoap.failed}, ${Math.round(quantile(soapLat, 0.99))}`,
        `${d.ok - lastDo.ok} / ${d.failed - lastDo.failed}`,
        `${dmTotal - lastDm.total} (${dmBad - lastDm.bad})`,
        `${fleetNow.ok - lastFleet.ok} / ${fleetNow.failed - lastFleet.failed}`,
        `${rollouts.done} (${rollouts.tasks})`,
        `${open.single} / ${open.rollout}`,
      ];
      lastSoap = { ok: soapOk, failed: soapFailed };
      lastDo = { ok: d.ok, failed: d.failed };
      lastDm = { total: dmTotal, bad: dmBad };
      lastFleet = fleetNow;
      for (const [i, g] of gateways.entries()) {
        const s = scrapes[i];
        if (s?.heapUsed !== undefined) g.heap.push([at, s.heapUsed]);
        const eld = s?.eld ? `${ms(s.eld.p50)} / ${ms(s.eld.p99)} / ${ms(s.eld.max)}` : 'no answer';
        const cells = [String(minute), g.name, mib(rssNow[i]), `${mib(s?.heapUsed)} / ${mib(s?.heapTotal)}, ${mib(s?.external)}`, eld, `${g.warnings} / ${g.errors}`, ...(i === 0 ? load : load.map(() => ''))];
        out(`| ${cells.join(' | ')} |`);
        g.warnings = 0;
        g.errors = 0;
      }
      for (const g of gateways) {
        if (g.child.exitCode !== null || g.child.signalCode !== null) throw new Error(`${g.name} exited (${g.child.exitCode ?? g.child.signalCode})`);
      }
    }
    const loadMinutes = sinceStart() / 60_000;

    // --- the end ----------------------------------------------------------------------------------
    stopLoad = true;
    log('load stopped; waiting for the rollout in flight and open tasks to end');
    const drainUntil = performance.now() + DRAIN_MS;
    await Promise.race([Promise.all(workers), sleep(DRAIN_MS)]);
    while (performance.now() < drainUntil) {
      const open = (openTasks.all() as { n: number }[]).reduce((a, r) => a + r.n, 0);
      if (open === 0) break;
      await sleep(2000);
    }
    out('');
    out(`### Memory over the second half (minutes ${(loadMinutes / 2).toFixed(1)}–${loadMinutes.toFixed(1)})`);
    out('| process | RSS first / last minute MiB | RSS peak MiB | RSS slope MiB per 10 min | heap used slope MiB per 10 min | memory |');
    out('|---|---|---|---|---|---|');
    const half = (loadMinutes * 60_000) / 2;
    const perTen = (pts: [number, number][]) => slope(pts.filter(([t]) => t >= half).map(([t, b]) => [t / 600_000, b / MiB]));
    for (const g of gateways) {
      const rssSlope = perTen(g.rss);
      const heapSlope = perTen(g.heap);
      const firstMinute = g.rss.filter(([t]) => t < 60_000).map(([, b]) => b);
      const lastMinute = g.rss.filter(([t]) => t >= loadMinutes * 60_000 - 60_000).map(([, b]) => b);
      const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN);
      const peak = Math.max(...g.rss.map(([, b]) => b));
      const verdict =
        loadMinutes / 2 < MIN_JUDGED_HALF_MINUTES
          ? `not judged: the second half is under ${MIN_JUDGED_HALF_MINUTES} min`
          : rssSlope <= FLAT_MIB_PER_10_MIN
            ? `flat (slope ≤ ${FLAT_MIB_PER_10_MIN} MiB per 10 min)`
            : `GROWING (slope > ${FLAT_MIB_PER_10_MIN} MiB per 10 min)`;
      const fixed = (v: number) => (Number.isNaN(v) ? 'n/a' : v.toFixed(1));
      out(`| ${g.name} | ${mib(mean(firstMinute))} / ${mib(mean(lastMinute))} | ${mib(peak)} | ${fixed(rssSlope)} | ${fixed(heapSlope)} | ${verdict} |`);
    }
    out('');
    const byOp = [...soap.entries()].map(([op, t]) => `${op} ${t.ok}${t.failed ? ` (${t.failed} failed: ${[...t.reasons].map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`);
    out(`SOAP calls: ${byOp.join('; ')}`);
    out(
      `doOperation: ${doOps.ok} ok, ${doOps.failed} failed${doOps.failed ? ` (${[...doOps.reasons].map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}; rollouts: ${rollouts.started} started, ${rollouts.done} followed to the end (${rollouts.tasks} tasks, ${rollouts.notCompleted} not COMPLETED), ${rollouts.failedCalls} refused calls; median rollout ${rollouts.seconds.length ? `${quantile(rollouts.seconds, 0.5).toFixed(0)} s` : 'n/a'}`,
    );
    const counts = { single: new Map<string, number>(), rollout: new Map<string, number>() };
    for (const row of tasksByStatus.all() as { single: number; status: string; n: number }[]) counts[row.single ? 'single' : 'rollout'].set(row.status, row.n);
    const fmt = (m: Map<string, number>) => [...m].map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
    out(`tasks at the end: doOperation ${fmt(counts.single)}; rollouts ${fmt(counts.rollout)}`);
    const f = await fleet.stats().catch(() => undefined);
    if (f) out(`fleet: ${f.sessionsOk} sessions ok, ${f.sessionsFailed} failed; ${f.notificationsReceived} notifications; ${f.schedulesArmed} schedules armed, ${f.schedulesFired} fired, ${f.schedulesMissed} missed`);
    for (const g of gateways) {
      if (g.firstProblems.length) out(`${g.name}: first warn/error log lines:\n  ${g.firstProblems.join('\n  ')}`);
    }
    out(`box: ${os.availableParallelism()} cores, 1-min load average ${os.loadavg()[0]!.toFixed(1)} at the end; event-loop delay is prom-client's monitorEventLoopDelay over each minute, minus its 10 ms sampling interval`);
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await stopAll();
  }
}
