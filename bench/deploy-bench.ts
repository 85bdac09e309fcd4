/**
 * Job acceptance (`npm run bench -- --only deploy`): how long createDeployments
 * takes to return for N device-id targets, the fleet benchmark's first figure
 * without the fleet, so it can be measured (and profiled) in a minute.
 *
 * One gateway process (`dmwsi serve`, role all) on a throwaway Redis and a
 * fresh SQLite file; N devices registered with importDeviceInstances (not
 * timed). Then `runs` createDeployments calls over SOAP, each a SCHEDULED_EXEC
 * over every device with a startAt an hour ahead, so the dispatcher releases
 * nothing and the call's own work is all there is: parse and validate the
 * request, resolve the targets, write the job and its N tasks with their
 * history rows, queue the job's deadline and dispatch jobs. Each run uses
 * another AtTime (and no call carries a WS-Addressing MessageID, so none is a retry).
 *
 * Printed per run: seconds to the answer, the gateway's CPU seconds meanwhile
 * (from /proc), and the gateway's peak RSS (VmHWM) after the run.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../src/main/redis-launcher.js';
import { generateImeis } from '../src/simulator/fleet.js';
import { cpuSecondsOf, importCsvRows, soapCall, stopPatiently } from './support/broker-load.js';
import { rssOf, spawnGateway, waitForHttpAnswer } from './support/processes.js';

export interface DeployBenchOptions {
  redisUrl: string;
  targets: number;
  runs: number;
  /** Write a CPU profile of the gateway (node --cpu-prof) into this directory. */
  cpuProfileDir?: string;
  log?: (line: string) => void;
}

export interface DeployRun {
  seconds: number;
  gatewayCpuSeconds: number | undefined;
  peakRssBytes: number | undefined;
}

export interface DeployBenchResult {
  targets: number;
  importSeconds: number;
  runs: DeployRun[];
  loadAverage: [number, number];
}

const ADMIN_PASSWORD = 'bench-admin-password';
const CAPABILITY_OID = '1.3.6.1.4.1.99999.1';

export async function runDeployBench(o: DeployBenchOptions): Promise<DeployBenchResult> {
  const log = o.log ?? ((line: string) => process.stderr.write(`[deploy] ${line}\n`));
  const loadAtStart = os.loadavg()[0]!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-deploy-bench-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const nodeArgs: string[] = [];
  if (o.cpuProfileDir !== undefined) {
    fs.mkdirSync(o.cpuProfileDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${path.resolve(o.cpuProfileDir)}`);
  }
  const gateway = spawnGateway([], {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    REDIS_URL: o.redisUrl,
    QUEUE_PREFIX: `deploy-bench-${crypto.randomBytes(4).toString('hex')}`,
    DMWSI_ADMIN_PASSWORD: ADMIN_PASSWORD,
    DMWSI_SECRET_KEY: crypto.randomBytes(32).toString('hex'),
    // The request carries every target (~50 B each).
    SOAP_MAX_BODY_BYTES: String(Math.max(32 * 1024 * 1024, o.targets * 200)),
    LOG_LEVEL: 'warn',
  }, nodeArgs);
  try {
    await waitForHttpAnswer(`${base}/readyz`, 60_000);
    const pid = gateway.child.pid;
    const deviceManager = `${base}/dmwsi/DeviceManager`;
    const bulk = `${base}/dmwsi/BulkOperationsManager`;
    const login = await soapCall(bulk, `<t:login><t:username>admin</t:username><t:password>${ADMIN_PASSWORD}</t:password></t:login>`);
    const session = /<userSession>([^<]+)<\/userSession>/.exec(login)![1]!;
    await soapCall(
      deviceManager,
      `<t:createDeviceCapability><t:userSession>${session}</t:userSession><t:capability><t:oid>${CAPABILITY_OID}</t:oid><t:make>DmwsiSim</t:make><t:model>SimPhone-1</t:model><t:firmwareVersion>1.0.0</t:firmwareVersion><t:dmVersion>1.2</t:dmVersion><t:sseRoot>./SSE</t:sseRoot></t:capability></t:createDeviceCapability>`,
    );
    const imeis = generateImeis('35300000000000', o.targets);
    const deviceIds = imeis.map((i) => `IMEI:${i}`);
    const header = 'deviceId,phoneNumber,capabilityOid,notificationUrl,clientUsername,clientPassword,serverPassword';
    const importStarted = performance.now();
    const rows = deviceIds.map((id, i) => `${id},+1555${String(i).padStart(7, '0')},${CAPABILITY_OID},,user${i},client-secret-${i},server-secret-${i}`);
    await importCsvRows(deviceManager, session, header, rows, 20_000);
    const importSeconds = (performance.now() - importStarted) / 1000;
    log(`${o.targets} devices imported in ${importSeconds.toFixed(1)} s`);

    const targets = deviceIds.map((id) => `<t:targets>${id}</t:targets>`).join('');
    const runs: DeployRun[] = [];
    for (let r = 0; r < o.runs; r++) {
      const startAt = new Date(Date.now() + 3_600_000).toISOString();
      // A different AtTime per run: a new request, never an idempotent repeat.
      const atTime = new Date(Date.now() + 7_200_000 + r * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      const body =
        `<t:createDeployments><t:userSession>${session}</t:userSession>` +
        `<t:operation><t:name>SCHEDULED_EXEC</t:name><t:targetUri>./FUMO/fw1/Update</t:targetUri><t:atTime>${atTime}</t:atTime></t:operation>` +
        `${targets}<t:options><t:startAt>${startAt}</t:startAt></t:options></t:createDeployments>`;
      const cpu0 = await cpuSecondsOf(pid);
      const t0 = performance.now();
      const answer = await soapCall(bulk, body);
      const seconds = (performance.now() - t0) / 1000;
      const cpu1 = await cpuSecondsOf(pid);
      const jobId = /<jobId>([^<]+)<\/jobId>/.exec(answer)?.[1];
      if (!jobId) throw new Error(`createDeployments gave no jobId: ${answer.slice(0, 400)}`);
      const run = {
        seconds,
        gatewayCpuSeconds: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0,
        peakRssBytes: pid === undefined ? undefined : await rssOf(pid),
      };
      runs.push(run);
      log(`run ${r + 1}: ${seconds.toFixed(2)} s, gateway CPU ${run.gatewayCpuSeconds?.toFixed(2) ?? 'n/a'} s, peak RSS ${((run.peakRssBytes ?? 0) / 2 ** 20).toFixed(0)} MiB`);
    }
    return { targets: o.targets, importSeconds, runs, loadAverage: [loadAtStart, os.loadavg()[0]!] };
  } finally {
    await stopPatiently(gateway.child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
