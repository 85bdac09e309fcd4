/**
 * The registry at size (`npm run bench:registry -- --devices 1000000 --database sqlite|postgres`):
 *
 * 1. one gateway process (`dmwsi serve`, role all) on a throwaway Redis and a
 *    fresh SQLite file or PostgreSQL schema (TEST_DATABASE_URL or
 *    postgres://postgres@127.0.0.1:5432/test, dropped afterwards);
 * 2. imports the first 10,000 devices, then measures getDeviceInstanceByDeviceID
 *    and getDeviceInstanceByPhoneNumber over SOAP (random registered devices,
 *    `lookupConnections` callers in a loop; p50/p99);
 * 3. imports the rest, `importChunk` CSV rows per importDeviceInstances call
 *    (the route the README gives for large imports), and prints the time and
 *    rows/s of the whole import;
 * 4. measures the same lookups at N, and prints each beside its 10,000 figure
 *    (the ratio of the p99s is the figure: same run, same box, same load);
 * 5. createDeployments (QUERY) with `targetFilter` allDevices over all N, a
 *    startAt an hour ahead so nothing is released: the time to the answer and
 *    the tasks written by then (the call writes for EXPANSION_CALL_SECONDS),
 *    the time until every task is written (the worker writes the rest), the
 *    gateway's CPU meanwhile.
 *
 * The gateway's RSS is sampled every 250 ms throughout (and its VmHWM read at
 * the end): the peak is printed.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../src/main/redis-launcher.js';
import { generateImeis } from '../src/simulator/fleet.js';
import { cpuSecondsOf, escapeXml, soapCall, stopPatiently } from './support/broker-load.js';
import { rssOf, spawnGateway, waitForHttpAnswer } from './support/processes.js';

export interface RegistryBenchOptions {
  redisUrl: string;
  devices: number;
  database: 'sqlite' | 'postgres';
  postgresUrl?: string;
  /** CSV rows per importDeviceInstances call. */
  importChunk?: number;
  /** Lookups of each kind per measurement. */
  lookups?: number;
  lookupConnections?: number;
  log?: (line: string) => void;
}

export interface Latency {
  p50Ms: number;
  p99Ms: number;
  perSecond: number;
  /** The gateway's CPU per lookup (steadier than wall-clock latency on a shared box). */
  gatewayCpuUs: number | undefined;
}

export interface RegistryBenchResult {
  devices: number;
  database: string;
  importSeconds: number;
  importCpuSeconds: number | undefined;
  small: { devices: number; byId: Latency; byPhone: Latency };
  large: { byId: Latency; byPhone: Latency };
  deploy: { seconds: number; totalAtAnswer: number; allWrittenSeconds: number; total: number; cpuSeconds: number | undefined };
  peakRssBytes: number;
  loadAverages: string[];
}

const ADMIN_PASSWORD = 'bench-admin-password';
const CAPABILITY_OID = 'bench-phone-1.0';
const SMALL = 10_000;
const IMEI_START = 35_300_000_000_000;
const HEADER = 'deviceId,phoneNumber,capabilityOid,notificationUrl,clientUsername,clientPassword,serverPassword';

const deviceIdOf = (i: number) => `IMEI:${generateImeis(String(IMEI_START + i), 1)[0]}`;
const phoneOf = (i: number) => `+1${String(2_000_000_000 + i)}`;

function csvRows(from: number, count: number): string {
  const imeis = generateImeis(String(IMEI_START + from), count);
  const lines = [HEADER];
  for (let k = 0; k < count; k++) lines.push(`IMEI:${imeis[k]},${phoneOf(from + k)},${CAPABILITY_OID},http://10.1.0.1:8080/notify/${from + k},,,`);
  return lines.join('\n');
}

async function importRange(url: string, session: string, from: number, to: number, chunk: number, log: (l: string) => void): Promise<void> {
  for (let i = from; i < to; i += chunk) {
    const count = Math.min(chunk, to - i);
    const t0 = performance.now();
    const answer = await soapCall(
      url,
      `<t:importDeviceInstances><t:userSession>${session}</t:userSession><t:csv>${escapeXml(csvRows(i, count))}</t:csv></t:importDeviceInstances>`,
    );
    const imported = Number(/<imported>(\d+)<\/imported>/.exec(answer)?.[1]);
    if (imported !== count) throw new Error(`import stored ${imported} of ${count} rows: ${answer.slice(0, 400)}`);
    log(`  imported ${i + count} (${count} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** `count` lookups of random registered devices (0..registered-1) from `connections` callers in a loop. */
async function lookups(
  pid: number | undefined,
  url: string,
  session: string,
  op: 'getDeviceInstanceByDeviceID' | 'getDeviceInstanceByPhoneNumber',
  registered: number,
  count: number,
  connections: number,
): Promise<Latency> {
  const field = op === 'getDeviceInstanceByDeviceID' ? 'deviceId' : 'phoneNumber';
  const keyOf = op === 'getDeviceInstanceByDeviceID' ? deviceIdOf : phoneOf;
  const times: number[] = [];
  let left = count;
  const cpu0 = await cpuSecondsOf(pid);
  const started = performance.now();
  const caller = async () => {
    while (left-- > 0) {
      const i = crypto.randomInt(registered);
      const t0 = performance.now();
      const answer = await soapCall(url, `<t:${op}><t:userSession>${session}</t:userSession><t:${field}>${keyOf(i)}</t:${field}></t:${op}>`);
      times.push(performance.now() - t0);
      if (!answer.includes(keyOf(i))) throw new Error(`${op} ${keyOf(i)}: ${answer.slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: connections }, caller));
  const seconds = (performance.now() - started) / 1000;
  const cpu1 = await cpuSecondsOf(pid);
  times.sort((a, b) => a - b);
  return {
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    perSecond: count / seconds,
    gatewayCpuUs: cpu0 === undefined || cpu1 === undefined ? undefined : ((cpu1 - cpu0) * 1e6) / count,
  };
}

async function lookupPair(pid: number | undefined, url: string, session: string, registered: number, o: RegistryBenchOptions) {
  const count = o.lookups ?? 5_000;
  const connections = o.lookupConnections ?? 8;
  // A warm-up (connections, prepared statements, JIT), not counted.
  await lookups(pid, url, session, 'getDeviceInstanceByDeviceID', registered, 500, connections);
  const byId = await lookups(pid, url, session, 'getDeviceInstanceByDeviceID', registered, count, connections);
  const byPhone = await lookups(pid, url, session, 'getDeviceInstanceByPhoneNumber', registered, count, connections);
  return { byId, byPhone };
}

const load = () => `load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`;

export async function runRegistryBench(o: RegistryBenchOptions): Promise<RegistryBenchResult> {
  const log = o.log ?? ((line: string) => process.stderr.write(`[registry] ${line}\n`));
  const loadAverages = [load()];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-registry-bench-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const pgUrl = o.database === 'postgres' ? (o.postgresUrl ?? 'postgres://postgres@127.0.0.1:5432/test') : undefined;
  const pgSchema = `bench_registry_${crypto.randomBytes(4).toString('hex')}`;
  const chunk = o.importChunk ?? 100_000;
  const gateway = spawnGateway([], {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    REDIS_URL: o.redisUrl,
    QUEUE_PREFIX: `registry-bench-${crypto.randomBytes(4).toString('hex')}`,
    DMWSI_ADMIN_PASSWORD: ADMIN_PASSWORD,
    DMWSI_SECRET_KEY: crypto.randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
    ...(pgUrl !== undefined && { DATABASE_URL: pgUrl, DATABASE_SCHEMA: pgSchema }),
  });
  const pid = gateway.child.pid;
  let peakRss = 0;
  const sampler = setInterval(() => {
    if (pid === undefined) return;
    fs.promises
      .readFile(`/proc/${pid}/status`, 'utf8')
      .then((s) => {
        const kb = Number(/VmRSS:\s+(\d+) kB/.exec(s)?.[1] ?? 0);
        peakRss = Math.max(peakRss, kb * 1024);
      })
      .catch(() => undefined);
  }, 250);
  try {
    await waitForHttpAnswer(`${base}/readyz`, 120_000);
    const deviceManager = `${base}/dmwsi/DeviceManager`;
    const bulk = `${base}/dmwsi/BulkOperationsManager`;
    const login = await soapCall(bulk, `<t:login><t:username>admin</t:username><t:password>${ADMIN_PASSWORD}</t:password></t:login>`);
    const session = /<userSession>([^<]+)<\/userSession>/.exec(login)![1]!;
    await soapCall(
      deviceManager,
      `<t:createDeviceCapability><t:userSession>${session}</t:userSession><t:capability><t:oid>${CAPABILITY_OID}</t:oid><t:make>Bench</t:make><t:model>Phone</t:model><t:firmwareVersion>1.0</t:firmwareVersion><t:dmVersion>1.2</t:dmVersion></t:capability></t:createDeviceCapability>`,
    );
    const small = Math.min(SMALL, o.devices);
    const cpu0 = await cpuSecondsOf(pid);
    const t0 = performance.now();
    await importRange(deviceManager, session, 0, small, chunk, log);
    let importSeconds = (performance.now() - t0) / 1000;
    let importCpu = (await cpuSecondsOf(pid)) ?? Number.NaN;
    log(`${small} devices in ${importSeconds.toFixed(1)} s; measuring lookups at ${small} (${load()})`);
    const atSmall = await lookupPair(pid, deviceManager, session, small, o);
    log(`at ${small}: byId p50 ${atSmall.byId.p50Ms.toFixed(2)} p99 ${atSmall.byId.p99Ms.toFixed(2)} ms; byPhone p50 ${atSmall.byPhone.p50Ms.toFixed(2)} p99 ${atSmall.byPhone.p99Ms.toFixed(2)} ms`);
    loadAverages.push(load());

    const cpu1 = await cpuSecondsOf(pid);
    const t1 = performance.now();
    await importRange(deviceManager, session, small, o.devices, chunk, log);
    importSeconds += (performance.now() - t1) / 1000;
    importCpu = importCpu - (cpu0 ?? 0) + ((await cpuSecondsOf(pid)) ?? Number.NaN) - (cpu1 ?? 0);
    log(`${o.devices} devices imported in ${importSeconds.toFixed(1)} s (${load()})`);
    loadAverages.push(load());
    const atLarge = await lookupPair(pid, deviceManager, session, o.devices, o);
    log(`at ${o.devices}: byId p50 ${atLarge.byId.p50Ms.toFixed(2)} p99 ${atLarge.byId.p99Ms.toFixed(2)} ms; byPhone p50 ${atLarge.byPhone.p50Ms.toFixed(2)} p99 ${atLarge.byPhone.p99Ms.toFixed(2)} ms`);
    loadAverages.push(load());

    const startAt = new Date(Date.now() + 3_600_000).toISOString();
    const body =
      `<t:createDeployments><t:userSession>${session}</t:userSession>` +
      '<t:operation><t:name>QUERY</t:name><t:commands><t:command><t:verb>Get</t:verb><t:uri>./DevInfo/Mod</t:uri></t:command></t:commands></t:operation>' +
      `<t:options><t:startAt>${startAt}</t:startAt><t:targetFilter><t:allDevices>true</t:allDevices></t:targetFilter></t:options></t:createDeployments>`;
    const cpu2 = await cpuSecondsOf(pid);
    const t2 = performance.now();
    const answer = await soapCall(bulk, body);
    const deploySeconds = (performance.now() - t2) / 1000;
    const jobId = /<jobId>([^<]+)<\/jobId>/.exec(answer)?.[1];
    if (!jobId) throw new Error(`createDeployments gave no jobId: ${answer.slice(0, 400)}`);
    const totalNow = async () =>
      Number(/<total>(\d+)<\/total>/.exec(await soapCall(bulk, `<t:getJobById><t:userSession>${session}</t:userSession><t:jobId>${jobId}</t:jobId></t:getJobById>`))?.[1]);
    const totalAtAnswer = await totalNow();
    log(`createDeployments by filter over ${o.devices}: answered in ${deploySeconds.toFixed(1)} s with ${totalAtAnswer} tasks written (${load()})`);
    // Past the call's budget the worker writes the rest: until every device has its task.
    let total = totalAtAnswer;
    while (total < o.devices) {
      await new Promise((r) => setTimeout(r, 250));
      total = await totalNow();
    }
    const allWrittenSeconds = (performance.now() - t2) / 1000;
    const cpu4 = await cpuSecondsOf(pid);
    log(`every task written ${allWrittenSeconds.toFixed(1)} s after the call (${load()})`);
    loadAverages.push(load());
    const hwm = pid === undefined ? undefined : await rssOf(pid);
    return {
      devices: o.devices,
      database: pgUrl === undefined ? 'sqlite' : `postgres (schema ${pgSchema})`,
      importSeconds,
      importCpuSeconds: Number.isFinite(importCpu) ? importCpu : undefined,
      small: { devices: small, ...atSmall },
      large: atLarge,
      deploy: {
        seconds: deploySeconds,
        totalAtAnswer,
        allWrittenSeconds,
        total,
        cpuSeconds: cpu2 === undefined || cpu4 === undefined ? undefined : cpu4 - cpu2,
      },
      peakRssBytes: Math.max(peakRss, hwm ?? 0),
      loadAverages,
    };
  } finally {
    clearInterval(sampler);
    await stopPatiently(gateway.child);
    fs.rmSync(dir, { recursive: true, force: true });
    if (pgUrl !== undefined) {
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`).catch((err: Error) => log(`could not drop ${pgSchema}: ${err.message}`));
      await client.end();
    }
  }
}
