/**
 * `npm run demo` (`dmwsi demo`): the whole gateway on one machine in about a
 * minute. Starts a Redis (REDIS_URL, else a throwaway redis-server) and the
 * gateway on embedded SQLite in a temporary folder, a simulated fleet of
 * 1,000 OMA DM 1.2 devices, registers them over SOAP (importDeviceInstances,
 * as `dmwsi device import` does), runs a SCHEDULED_EXEC rollout a little in
 * the future with live progress per task state (as `dmwsi job watch`), and
 * ends with a summary table and the URL of the web console.
 *
 * The fleet is seeded so every run tells the same story: a few devices fail
 * the Exec (FAILED), and a few are switched off at the scheduled moment and
 * come back after it (MISSED, result 401).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { importCsv } from '../cli/device-import.js';
import { CliError, EXIT } from '../cli/exit-codes.js';
import { GatewayApi, type JobData } from '../cli/gateway-api.js';
import { watchJob } from '../cli/job-watch.js';
import { note, printJson, printLine } from '../cli/output.js';
import { countView, jobView, type OutputMode, outputMode } from '../cli/progress.js';
import { GatewayClient } from '../cli/soap-client.js';
import { table } from '../cli/table.js';
import { utcSeconds } from '../cli/times.js';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../observability/logger.js';
import { runSimulateCommand, seededRandom } from '../simulator/cli.js';
import { startGateway } from './gateway.js';
import { ensureRedis } from './redis-launcher.js';

export interface DemoOptions {
  devices: number;
  /** Preferred port; taken: any free one. */
  port: number;
  /** Seconds from creating the job to the devices' AtTime. */
  leadSeconds?: number;
  /** Keep serving after the summary until Ctrl-C (default: when standard output is a terminal). */
  keepRunning?: boolean;
  json?: boolean;
}

export interface DemoSummary {
  devices: number;
  registered: number;
  jobId: string;
  status: string;
  completed: number;
  failed: number;
  missed: number;
  expired: number;
  cancelled: number;
  /** From creating the job to its end. */
  rolloutSeconds: number;
  registerSeconds: number;
  consoleUrl: string;
  admin: { username: string; password: string };
}

const CAPABILITY = { oid: 'demo-phone-1', make: 'Acme', model: 'Demo Phone', firmwareVersion: '1.0', dmVersion: '1.2', sseRoot: './SSE' };
const TARGET_URI = './Ext/Sim/Reboot';
const FAIL_SHARE = 0.02;
const SWITCHED_OFF_SHARE = 0.03;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Enough time for every device to be notified and to arm its SingleShotExec before AtTime. */
function defaultLeadSeconds(devices: number): number {
  return Math.max(10, Math.ceil(devices / 40));
}

export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-demo-'));
  const mode = outputMode(o.json);
  const admin = { username: 'admin', password: crypto.randomBytes(9).toString('base64url') };
  const port = o.port === 0 || (await portFree(o.port)) ? o.port : 0;
  if (port !== o.port) note(`demo: port ${o.port} is taken; using a free one`);
  const config = loadConfig(process.env, {
    port,
    host: '127.0.0.1',
    dataDir: dir,
    databaseUrl: `sqlite:${path.join(dir, 'demo.sqlite')}`,
    databaseSchema: undefined,
    publicDmUrl: `http://127.0.0.1:${port}/dm`,
    publicBaseUrl: undefined,
    tlsCert: undefined,
    tlsKey: undefined,
    adminUser: admin.username,
    adminPassword: admin.password,
    secretKey: crypto.randomBytes(32).toString('hex'),
    queuePrefix: `demo-${crypto.randomBytes(4).toString('hex')}`,
    logLevel: 'info',
    // A device that missed its AtTime reports when it comes back: no need to wait long for that.
    taskRetrySeconds: 5,
  });
  const logFile = path.join(dir, 'gateway.log');
  const logger = createLogger(config.logLevel, 'dmwsi', fs.createWriteStream(logFile));
  note(`demo: data and the gateway's log in ${dir}`);
  const redis = await ensureRedis(config.redisUrl, { mode: 'throwaway', log: (m) => note(`demo: ${m}`) });
  const closers: (() => Promise<unknown>)[] = [() => redis.stop()];
  let ok = false;
  let finished = false;
  let interrupted = false;
  let stopView: (() => void) | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      stopView?.();
      for (const close of closers) await close().catch(() => undefined);
      // Kept when something went wrong: the gateway's log says what.
      if (ok || finished || interrupted) fs.rmSync(dir, { recursive: true, force: true });
      else note(`demo: kept ${dir} (gateway.log) to look into`);
    })());
  // Ctrl-C at any point stops everything the demo started and removes its folder.
  const onSignal = () => {
    interrupted = true;
    note('demo: stopping');
    void cleanup().finally(() => process.exit(finished ? EXIT.ok : 130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const gateway = await startGateway({ ...config, redisUrl: redis.url }, { logger });
    closers.unshift(() => gateway.close());
    note(`demo: gateway listening on ${gateway.url} (embedded SQLite, Redis ${redis.owned ? 'started for the demo' : redis.url})`);

    const sim = await runSimulateCommand(
      {
        devices: o.devices,
        server: `${gateway.url}/dm`,
        listen: '127.0.0.1:0',
        serverId: config.dmServerId,
        capabilityOid: CAPABILITY.oid,
        failureRate: FAIL_SHARE,
        randomSeed: 2026,
        maxSessions: 256,
        statsInterval: 0,
        secretSeed: crypto.randomBytes(16).toString('hex'),
      },
      // The simulator's own lines (listener, stats) are for `dmwsi simulate`; the demo says what matters.
      () => undefined,
    );
    closers.unshift(() => sim.stop());
    const fleet = sim.fleet;
    note(`demo: ${o.devices} simulated OMA DM 1.2 devices listening for notifications on ${sim.url}`);

    const api = new GatewayApi(new GatewayClient({ url: gateway.url, ...admin }));
    await api.createCapability(CAPABILITY);
    const registered = await registerFleet(api, fleet, mode);
    const rollout = await scheduledRollout(api, fleet, o.leadSeconds ?? defaultLeadSeconds(o.devices), mode, (stop) => {
      stopView = stop;
    });
    const job = rollout.job;
    const summary: DemoSummary = {
      devices: o.devices,
      registered: registered.imported,
      jobId: job.jobId,
      status: job.status,
      completed: job.completed,
      failed: job.failed,
      missed: job.missed,
      expired: job.expired,
      cancelled: job.cancelled,
      rolloutSeconds: rollout.seconds,
      registerSeconds: registered.seconds,
      consoleUrl: `${gateway.url}/console`,
      admin,
    };
    printSummary(summary, Boolean(o.json));
    finished = true;
    if (o.keepRunning) {
      note(`demo: the gateway keeps running at ${gateway.url}; sign in to ${summary.consoleUrl} as ${admin.username} / ${admin.password}. Ctrl-C stops it.`);
      // Until the signal handler cleans up and exits.
      await new Promise<never>(() => undefined);
    }
    ok = true;
    return summary;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanup();
  }
}

type Fleet = Awaited<ReturnType<typeof runSimulateCommand>>['fleet'];

/** Registers the fleet over SOAP as `dmwsi device import` does (importDeviceInstances, CSV chunks). */
async function registerFleet(api: GatewayApi, fleet: Fleet, mode: OutputMode): Promise<{ imported: number; seconds: number }> {
  const started = Date.now();
  const total = fleet.devices.length;
  const view = countView(mode, 'register');
  const result = await importCsv(api, Readable.from([fleet.credentialsCsv()]), {
    progress: (t) => view.update(t.rows, total, `${t.imported} of ${total} devices`),
  }).finally(() => view.stop());
  const seconds = (Date.now() - started) / 1000;
  if (result.rejected > 0) throw new CliError(`the gateway rejected ${result.rejected} of the fleet's devices`, EXIT.server);
  note(`demo: ${result.imported} devices registered over SOAP in ${seconds.toFixed(1)} s`);
  return { imported: result.imported, seconds };
}

/** A few phones are switched off just before the scheduled moment and back on after it: they report MISSED. */
function switchSomeOffAt(fleet: Fleet, atTime: number): () => void {
  const pick = seededRandom(7);
  const switchedOff = fleet.devices.filter(() => pick() < SWITCHED_OFF_SHARE);
  const off = setTimeout(() => {
    for (const d of switchedOff) d.setOnline(false);
  }, Math.max(0, atTime - Date.now() - 1000));
  const on = setTimeout(() => {
    for (const d of switchedOff) d.setOnline(true);
  }, Math.max(0, atTime - Date.now() + 4000));
  return () => {
    clearTimeout(off);
    clearTimeout(on);
  };
}

/** A SCHEDULED_EXEC job over the fleet, `lead` seconds ahead, watched to its end as `dmwsi job watch` does. */
async function scheduledRollout(
  api: GatewayApi,
  fleet: Fleet,
  lead: number,
  mode: OutputMode,
  onView: (stop: () => void) => void,
): Promise<{ job: JobData; seconds: number }> {
  const atTime = Date.now() + lead * 1000;
  const started = Date.now();
  const jobId = await api.createDeployments(
    { name: 'SCHEDULED_EXEC', targetUri: TARGET_URI, atTime: utcSeconds(atTime) },
    fleet.devices.map((d) => d.devId),
    { notificationsPerSecond: 200 },
  );
  note(`demo: job ${jobId}: SCHEDULED_EXEC of ${TARGET_URI} on ${fleet.devices.length} devices at ${utcSeconds(atTime)} (in ${lead} s)`);
  const restore = switchSomeOffAt(fleet, atTime);
  try {
    const view = jobView(mode, (l) => note(l));
    onView(() => view.stop());
    const job = await watchJob(api, jobId, view, { intervalMs: 500, timeoutMs: (lead + 300) * 1000 });
    return { job, seconds: (Date.now() - started) / 1000 };
  } finally {
    restore();
  }
}

function printSummary(s: DemoSummary, json: boolean): void {
  if (json) {
    printJson(s);
    return;
  }
  const rows: [string, string | number][] = [
    ['devices', s.devices],
    ['registered over SOAP', `${s.registered} in ${s.registerSeconds.toFixed(1)} s`],
    ['job', `${s.jobId} ${s.status}`],
    ['completed', s.completed],
    ['failed', s.failed],
    ['missed', s.missed],
  ];
  if (s.expired > 0) rows.push(['expired', s.expired]);
  if (s.cancelled > 0) rows.push(['cancelled', s.cancelled]);
  rows.push(['time taken', `${s.rolloutSeconds.toFixed(1)} s (job created to last task ended)`]);
  printLine('');
  printLine(table(['summary', ''], rows));
  printLine('');
  printLine(`console: ${s.consoleUrl}`);
}
