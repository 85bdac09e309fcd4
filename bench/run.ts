/**
 * `npm run bench`: prints the gateway's speed figures. Options:
 *   --only soap,codec     run some sections only
 *   --duration 10         seconds per load run
 *   --connections 32      concurrent HTTP connections
 *   --import-rows 100000  rows for the CSV import figure
 *   --dm-devices 2000     simulated devices per encoding (dm section)
 *   --dm-concurrency 64   DM sessions in flight (dm section)
 *   --dm-encodings xml,wbxml
 *   --dm-cpu-prof DIR     write a CPU profile of the gateway process (dm section)
 *   (section dm2: DM 2.0 beside DM 1.2 on one gateway; --dm-devices, at most 1000, and --dm-concurrency apply)
 *   --broker-tasks 10000  SCHEDULED_EXEC tasks, simulated devices, raw BullMQ jobs (broker section)
 *   --broker-concurrency 32  the gateway's WORKER_CONCURRENCY and the raw worker's (broker section)
 *   --broker-fleet-sessions 64  simultaneous DM sessions of the simulated fleet (broker section)
 *   --broker-phases arm,raw,soap,api  which broker figures to run (api: doOperation on a --role api gateway)
 *   --broker-arm-timeout 300  seconds to wait for every task to be armed (broker section)
 *   --broker-cpu-prof DIR  write CPU profiles of the gateway processes (broker section)
 *   --deploy-targets 100000  device-id targets of each createDeployments call (deploy section)
 *   --deploy-runs 3       createDeployments calls (deploy section)
 *   --deploy-cpu-prof DIR  write a CPU profile of the gateway process (deploy section)
 *   --devices 10000       simulated devices, one SCHEDULED_EXEC job over all of them (fleet section)
 *   --fleet-sessions 64   simultaneous DM sessions of the simulated fleet (fleet section)
 *   --fleet-sockets N     the fleet's open connections to each DM process (default: --fleet-sessions, at most 4096)
 *   --fleet-concurrency 32  the gateway's WORKER_CONCURRENCY (fleet section)
 *   --fleet-at-lead S     AtTime = the createDeployments call + S seconds (default: from --fleet-arm-rate)
 *   --fleet-arm-rate 80   tasks armed per second assumed when choosing AtTime (fleet section)
 *   --fleet-timeout S     seconds after the call before the fleet run gives up (default: AtTime + 600 s)
 *   --fleet-warm          every device checks in once before the job (a fleet in service; fleet section)
 *   --fleet-dm-process    serve DM from a second gateway process (serve --role dm; fleet section)
 *   --database sqlite     the gateway processes' database: sqlite (a file) or postgres (a fresh schema on
 *                         TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, dropped after; fleet section)
 *   --transport unix      how the gateway processes reach Redis and PostgreSQL on this box: unix (sockets) or tcp
 *                         (loopback); fleet section (bench/support/local-transport.ts)
 *   --api N --dm N --workers N  processes per role, each its own node process (all three or none; fleet section)
 *   --compare sqlite[,postgres]  then the same fleet bench with one gateway process on each, in turn; prints the
 *                         topologies side by side and the first one's arming rate as a share of the last one's
 *   --compare-rounds 1    with --compare: run the whole sequence this many times, the order reversed every
 *                         other round (so a drift in the box's speed counts against each side alike); prints
 *                         each round's share and their median
 *   --operation firmware  the fleet job is a FIRMWARE_UPDATE of an uploaded package instead of SCHEDULED_EXEC (fleet section)
 *   --fleet-package-kib 64  firmware: the package's payload size; --fleet-install-ms 100: the simulated install time
 *   --fleet-cpu-prof DIR  write CPU profiles of the gateway and (DIR/fleet) the fleet (fleet section)
 *   --fleet-trace N       each device keeps its last N notifications and sessions, printed with the
 *                         open tasks of a run that does not end (their history and Redis state always are)
 *   A fleet like a real network (fleet section; any of these turns the check against the fleet's record on):
 *   --latency-ms 300-3000  delay before each DM message, drawn per message (or one value)
 *   --offline-share 0.1   devices offline at start, each coming online at a random moment within --come-online-within-ms (60000)
 *   --fail-share 0.02     DM messages lost at the transport (half never arrive, half lose their answer)
 *   --ignore-first-notification-share 0.05  devices that drop their first Package#0
 *   --notifications-per-second 500  the job's notificationsPerSecond option
 *   --task-retry-seconds 30  the gateway's TASK_RETRY_SECONDS in this run
 *   --task-retry-max-seconds S  its TASK_RETRY_MAX_SECONDS (default 12 × TASK_RETRY_SECONDS)
 *   --minutes 30          how long the steady load runs (soak section)
 *   --soak-devices 2000   simulated devices (soak section)
 *   --soak-fleet-sessions 32  simultaneous DM sessions of the simulated fleet (soak section)
 *   --soak-soap-rate 20   SOAP registry and read calls per second (soak section)
 *   --soak-session-rate 2  doOperation calls (device sessions) per second (soak section)
 *   --soak-rollout-size 300  devices per rollout; 0: no rollouts (soak section)
 *   --soak-rollout-every 120  seconds between rollout starts (soak section)
 *   --soak-split          api, dm and worker as separate processes (soak section)
 *   --content-mib 50      package size (content section)
 *   --content-clients 1000  concurrent range downloads (content section)
 *   --content-range-mib 1  bytes per range request (content section)
 *   --content-requests 3  range requests per client per round (content section)
 *   --content-rounds 4    bare/gateway rounds, alternating (content section)
 *   --content-cpu-prof DIR  write a CPU profile of the gateway process (content section)
 *   --devices N --database sqlite|postgres  the registry section too: N devices imported, looked up, deployed to by filter
 *   --registry-import-chunk 100000  CSV rows per importDeviceInstances call (registry section)
 *   --registry-lookups 5000  lookups of each kind per measurement (registry section)
 */

import { loadavg } from 'node:os';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { SyncMlEncoding } from '../src/dm/codec/types.js';
import { ensureRedis } from '../src/main/redis-launcher.js';
import {
  BROKER_PHASES,
  type CpuSeconds as BrokerCpuSeconds,
  type BrokerPhase,
  type SoapResult as BrokerSoapResult,
  runBrokerBench,
} from './broker-bench.js';
import { formatCodecBench, runCodecBench } from './codec.js';
import { runContentBench } from './content-bench.js';
import { runDeployBench } from './deploy-bench.js';
import { runDmBench } from './dm-bench.js';
import { runDm2Bench } from './dm2-bench.js';
import { type FleetBenchResult, type FleetNetworkOptions, type Window as FleetWindow, runFleetBench } from './fleet-bench.js';
import { runRegistryBench } from './registry-bench.js';
import { runSoakBench } from './soak-bench.js';
import { runSoapBench } from './soap-bench.js';
import { formatCounts, sumCounts } from './support/broker-load.js';
import { describeTransport, parseTransport, postgresOverSocket } from './support/local-transport.js';
import { median } from './support/median.js';

const OPTIONS = {
    only: { type: 'string', default: 'soap,codec,broker' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    'import-rows': { type: 'string', default: '100000' },
    'dm-devices': { type: 'string', default: '2000' },
    'dm-concurrency': { type: 'string', default: '64' },
    'dm-encodings': { type: 'string', default: 'xml,wbxml' },
    'dm-cpu-prof': { type: 'string' },
    'broker-tasks': { type: 'string', default: '10000' },
    'broker-concurrency': { type: 'string', default: '32' },
    'broker-fleet-sessions': { type: 'string', default: '64' },
    'broker-phases': { type: 'string', default: 'arm,raw,soap,api' },
    'broker-arm-timeout': { type: 'string', default: '300' },
    'broker-cpu-prof': { type: 'string' },
    'deploy-targets': { type: 'string', default: '100000' },
    'deploy-runs': { type: 'string', default: '3' },
    'deploy-cpu-prof': { type: 'string' },
    devices: { type: 'string', default: '10000' },
    'fleet-sessions': { type: 'string', default: '64' },
    'fleet-sockets': { type: 'string' },
    'fleet-concurrency': { type: 'string', default: '32' },
    'fleet-at-lead': { type: 'string' },
    'fleet-arm-rate': { type: 'string', default: '80' },
    'fleet-timeout': { type: 'string' },
    'fleet-cpu-prof': { type: 'string' },
    'fleet-trace': { type: 'string' },
    'fleet-warm': { type: 'boolean', default: false },
    'fleet-dm-process': { type: 'boolean', default: false },
    database: { type: 'string', default: 'sqlite' },
    transport: { type: 'string', default: 'unix' },
    api: { type: 'string' },
    dm: { type: 'string' },
    workers: { type: 'string' },
    compare: { type: 'string' },
    'compare-rounds': { type: 'string', default: '1' },
    operation: { type: 'string', default: 'sse' },
    'fleet-package-kib': { type: 'string', default: '64' },
    'fleet-install-ms': { type: 'string', default: '100' },
    // A fleet like a real network (fleet section).
    'latency-ms': { type: 'string' },
    'offline-share': { type: 'string' },
    'come-online-within-ms': { type: 'string' },
    'fail-share': { type: 'string' },
    'ignore-first-notification-share': { type: 'string' },
    'notifications-per-second': { type: 'string' },
    'task-retry-seconds': { type: 'string' },
    'task-retry-max-seconds': { type: 'string' },
    minutes: { type: 'string', default: '30' },
    'soak-devices': { type: 'string', default: '2000' },
    'soak-fleet-sessions': { type: 'string', default: '32' },
    'soak-soap-rate': { type: 'string', default: '20' },
    'soak-session-rate': { type: 'string', default: '2' },
    'soak-rollout-size': { type: 'string', default: '300' },
    'soak-rollout-every': { type: 'string', default: '120' },
    'soak-split': { type: 'boolean', default: false },
    'content-mib': { type: 'string', default: '50' },
    'content-clients': { type: 'string', default: '1000' },
    'content-range-mib': { type: 'string', default: '1' },
    'content-requests': { type: 'string', default: '3' },
    'content-rounds': { type: 'string', default: '4' },
    'content-cpu-prof': { type: 'string' },
    'registry-import-chunk': { type: 'string', default: '100000' },
    'registry-lookups': { type: 'string', default: '5000' },
    help: { type: 'boolean', default: false },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/** The options and their defaults (what each one does: this file's header). */
function usage(): string {
  const lines = Object.entries(OPTIONS)
    .filter(([name]) => name !== 'help')
    .map(([name, o]) => `  --${name}${o.type === 'string' ? ' VALUE' : ''}${'default' in o && o.default !== false ? ` (default ${String(o.default)})` : ''}`);
  return ['usage: npm run bench -- [options]   (each option is described at the top of bench/run.ts)', ...lines].join('\n');
}

// A mistyped option gets the list of options, not a stack trace.
function parseOptions() {
  try {
    return parseArgs({ options: OPTIONS });
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage()}`);
    process.exit(1);
  }
}
const { values } = parseOptions();
if (values.help) {
  console.log(usage());
  process.exit(0);
}
const sections = new Set(values.only.split(','));
const mb = (b: number | undefined) => (b === undefined ? 'n/a' : `${(b / 1024 / 1024).toFixed(0)} MiB`);

console.log(`dmwsi-gateway benchmarks — node ${process.version}, ${new Date().toISOString()}`);

if (sections.has('codec')) {
  console.log('\n## DM codec (µs per message)');
  console.log(formatCodecBench(await runCodecBench()));
}

if (sections.has('soap')) {
  const redis = await ensureRedis(process.env.REDIS_URL, { mode: 'throwaway' });
  try {
    const r = await runSoapBench({
      redisUrl: redis.url,
      durationSeconds: Number(values.duration),
      connections: Number(values.connections),
      importRows: Number(values['import-rows']),
    });
    console.log(`\n## SOAP device registry (${values.connections} connections, ${values.duration} s each, userSession auth)`);
    console.log('| operation | req/s | p99 ms | errors | bare express req/s | bare p99 ms | ratio (aim ≥ 0.4) |');
    console.log('|---|---|---|---|---|---|---|');
    for (const p of r.pairs) {
      console.log(
        `| ${p.soap.name} | ${p.soap.requestsPerSecond} | ${p.soap.p99Ms} | ${p.soap.errors} | ${p.bare.requestsPerSecond} | ${p.bare.p99Ms} | ${p.ratio.toFixed(2)} |`,
      );
    }
    console.log(`\nimportDeviceInstances: ${r.importRows} CSV rows in ${r.importSeconds.toFixed(1)} s (aim < 20 s)`);
    console.log(`gateway peak RSS: ${mb(r.gatewayPeakRssBytes)}`);
  } finally {
    await redis.stop();
  }
}

if (sections.has('content')) {
  const redis = await ensureRedis(process.env.REDIS_URL, { mode: 'throwaway' });
  try {
    const o = {
      redisUrl: redis.url,
      packageMiB: Number(values['content-mib']),
      clients: Number(values['content-clients']),
      rangeMiB: Number(values['content-range-mib']),
      requestsPerClient: Number(values['content-requests']),
      rounds: Number(values['content-rounds']),
      ...(values['content-cpu-prof'] !== undefined && { cpuProfDir: values['content-cpu-prof'] }),
    };
    const r = await runContentBench(o);
    console.log(
      `\n## Package downloads (${o.packageMiB} MiB package, ${o.clients} concurrent clients, random ${o.rangeMiB} MiB ranges, ${o.requestsPerClient} per client per round)`,
    );
    console.log('| target | requests | MiB | seconds | MiB/s | errors | its RSS after |');
    console.log('|---|---|---|---|---|---|---|');
    for (const run of r.runs) {
      console.log(
        `| ${run.target} | ${run.requests} | ${(run.bytes / 1024 / 1024).toFixed(0)} | ${run.seconds.toFixed(2)} | ${run.mibPerSecond.toFixed(0)} | ${run.errors} | ${mb(run.rssAfterBytes)} |`,
      );
    }
    console.log(
      `\ngateway ${r.gatewayMibPerSecond.toFixed(0)} MiB/s, bare node:http ${r.bareMibPerSecond.toFixed(0)} MiB/s: ratio ${r.ratio.toFixed(2)}, median of the rounds' ratios ${r.medianRoundRatio.toFixed(2)} (aim ≥ 0.80)`,
    );
    console.log(`gateway RSS before ${mb(r.rssBeforeBytes)}, after ${mb(r.rssAfterBytes)}, peak ${mb(r.rssPeakBytes)}`);
  } finally {
    await redis.stop();
  }
}

if (sections.has('registry')) {
  const redis = await ensureRedis(process.env.REDIS_URL, { mode: 'throwaway' });
  try {
    if (values.database !== 'sqlite' && values.database !== 'postgres') throw new Error(`--database: sqlite or postgres, not ${values.database}`);
    const r = await runRegistryBench({
      redisUrl: redis.url,
      devices: Number(values.devices),
      database: values.database,
      ...(process.env.TEST_DATABASE_URL && { postgresUrl: process.env.TEST_DATABASE_URL }),
      importChunk: Number(values['registry-import-chunk']),
      lookups: Number(values['registry-lookups']),
    });
    const n = (x: number) => x.toLocaleString('en-US');
    const lat = (l: { p50Ms: number; p99Ms: number; perSecond: number; gatewayCpuUs: number | undefined }) =>
      `${l.p50Ms.toFixed(2)} / ${l.p99Ms.toFixed(2)} ms (${l.perSecond.toFixed(0)}/s; gateway CPU ${l.gatewayCpuUs?.toFixed(0) ?? 'n/a'} µs each)`;
    console.log(`\n## Registry at ${n(r.devices)} devices (${r.database}; one gateway process)`);
    console.log('| figure | measured | aim |');
    console.log('|---|---|---|');
    console.log(
      `| import ${n(r.devices)} CSV rows (${n(Number(values['registry-import-chunk']))} per call) | ${r.importSeconds.toFixed(1)} s, ${n(Math.round(r.devices / r.importSeconds))} rows/s; gateway CPU ${r.importCpuSeconds?.toFixed(1) ?? 'n/a'} s (${r.importCpuSeconds === undefined ? 'n/a' : ((r.importCpuSeconds * 1e6) / r.devices).toFixed(0)} µs a row) | ≤ 180 s |`,
    );
    console.log(`| createDeployments, targetFilter allDevices: answered | ${r.deploy.seconds.toFixed(1)} s, ${n(r.deploy.totalAtAnswer)} tasks written by then | ≤ 30 s |`);
    console.log(`| the same: every task written | ${r.deploy.allWrittenSeconds.toFixed(1)} s after the call, total ${n(r.deploy.total)}; gateway CPU ${r.deploy.cpuSeconds?.toFixed(1) ?? 'n/a'} s | |`);
    console.log(`| getDeviceInstanceByDeviceID p50 / p99 at ${n(r.small.devices)} | ${lat(r.small.byId)} | |`);
    console.log(`| getDeviceInstanceByDeviceID p50 / p99 at ${n(r.devices)} | ${lat(r.large.byId)}; p99 ratio ${(r.large.byId.p99Ms / r.small.byId.p99Ms).toFixed(2)} | ratio ≤ 1.5 |`);
    console.log(`| getDeviceInstanceByPhoneNumber p50 / p99 at ${n(r.small.devices)} | ${lat(r.small.byPhone)} | |`);
    console.log(`| getDeviceInstanceByPhoneNumber p50 / p99 at ${n(r.devices)} | ${lat(r.large.byPhone)}; p99 ratio ${(r.large.byPhone.p99Ms / r.small.byPhone.p99Ms).toFixed(2)} | ratio ≤ 1.5 |`);
    console.log(`| gateway peak RSS | ${mb(r.peakRssBytes)} | ≤ 1 GiB |`);
    console.log(`load averages (start, after 10k lookups, after import, after large lookups, after deploy): ${r.loadAverages.join('; ')}`);
  } finally {
    await redis.stop();
  }
}

if (sections.has('dm')) {
  const redis = await ensureRedis(process.env.REDIS_URL, { mode: 'throwaway' });
  try {
    const encodings = values['dm-encodings'].split(',').map((e) => {
      if (e !== 'xml' && e !== 'wbxml') throw new Error(`--dm-encodings: xml or wbxml, not ${e}`);
      return e as SyncMlEncoding;
    });
    const r = await runDmBench({
      redisUrl: redis.url,
      devices: Number(values['dm-devices']),
      concurrency: Number(values['dm-concurrency']),
      durationSeconds: Number(values.duration),
      encodings,
      ...(values['dm-cpu-prof'] !== undefined && { cpuProfileDir: values['dm-cpu-prof'] }),
    });
    const fixed = (n: number, d: number) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
    console.log(
      `\n## DM endpoint (${r.devices} devices, ${r.concurrency} concurrent sessions, md5, ${encodings.join('|')}; ${values.duration} s each)`,
    );
    console.log('| encoding | sessions/s | messages/s | p99 ms per message | bare server messages/s | bare p99 ms | ratio (aim ≥ 0.5) |');
    console.log('|---|---|---|---|---|---|---|');
    for (const row of r.rows) {
      const g = row.gateway;
      console.log(
        `| ${row.encoding} | ${Math.round(g.sessionsPerSecond)} | ${Math.round(g.messagesPerSecond)} | ${fixed(g.p99Ms, 1)} | ${Math.round(row.bare.messagesPerSecond)} | ${fixed(row.bare.p99Ms, 1)} | ${row.ratio.toFixed(2)} |`,
      );
    }
    console.log('');
    for (const row of r.rows) {
      console.log(
        `${row.encoding}: ${fixed(row.gateway.messagesPerSession, 2)} messages per steady session (first sessions: ${fixed(row.warmupMessages / r.devices, 2)}); request ${row.requestBytes} B, reply ${row.replyBytes} B (${row.contentType}); gateway p50 ${fixed(row.gateway.p50Ms, 1)} ms, bare p50 ${fixed(row.bare.p50Ms, 1)} ms`,
      );
      const us = (v: number | undefined) => (v === undefined ? 'n/a' : `${Math.round(v)} µs`);
      console.log(
        `${row.encoding}: CPU per message: gateway ${us(row.gateway.serverCpuUsPerMessage)}, bare server ${us(row.bare.serverCpuUsPerMessage)}; the bench's client ${us(row.gateway.clientCpuUsPerMessage)} against the gateway, ${us(row.bare.clientCpuUsPerMessage)} against the bare server`,
      );
      for (const [name, l] of [
        ['gateway', row.gateway],
        ['bare server', row.bare],
      ] as const) {
        if (l.sessionsFailed > 0) console.log(`  ${name}: ${l.sessionsFailed} of ${l.sessions} sessions failed, e.g. ${l.firstError}`);
      }
    }
    console.log(`gateway peak RSS: ${mb(r.gatewayPeakRssBytes)}`);
  } finally {
    await redis.stop();
  }
}

if (sections.has('dm2')) {
  const redis = await ensureRedis(process.env.REDIS_URL, { mode: 'throwaway' });
  try {
    // Fewer devices than the DM 1.2 section: each DM 2.0 device is a full management tree in this process.
    const devices = Math.min(Number(values['dm-devices']), 1000);
    const concurrency = Math.min(Number(values['dm-concurrency']), Math.floor(devices / 2));
    const r = await runDm2Bench({ redisUrl: redis.url, devices, concurrency, durationSeconds: Number(values.duration) });
    const us = (v: number | undefined) => (v === undefined ? 'n/a' : `${Math.round(v)}`);
    console.log(`\n## DM 2.0 beside DM 1.2 (one gateway process, ${r.devices} devices each, ${r.concurrency} concurrent sessions, steady one-message sessions; ${values.duration} s each, alternating windows)`);
    console.log(`load average: ${loadavg().map((l: number) => l.toFixed(2)).join(' ')}`);
    console.log('| protocol | sessions/s | messages/s | p99 ms | gateway CPU µs per message | client CPU µs per message | failed |');
    console.log('|---|---|---|---|---|---|---|');
    for (const [name, g] of [
      ['DM 1.2 (/dm, XML, md5 Cred)', r.dm12],
      ['DM 2.0 (/dm2, JSON, HTTP Digest)', r.dm20],
    ] as const) {
      console.log(`| ${name} | ${Math.round(g.sessionsPerSecond)} | ${Math.round(g.messagesPerSecond)} | ${g.p99Ms.toFixed(1)} | ${us(g.serverCpuUsPerMessage)} | ${us(g.clientCpuUsPerMessage)} | ${g.sessionsFailed} |`);
    }
    if (r.dm12.serverCpuUsPerMessage && r.dm20.serverCpuUsPerMessage) {
      console.log(`gateway CPU per message, DM 2.0 ÷ DM 1.2: ${(r.dm20.serverCpuUsPerMessage / r.dm12.serverCpuUsPerMessage).toFixed(2)}`);
    }
  } finally {
    await redis.stop();
  }
}

if (sections.has('broker')) {
  const redis = await ensureRedis(process.env.REDIS_URL, { mode: 'throwaway' });
  try {
    const phases = new Set(
      values['broker-phases'].split(',').map((p) => {
        if (!(BROKER_PHASES as readonly string[]).includes(p)) {
          throw new Error(`--broker-phases: a list of ${BROKER_PHASES.join(', ')}, not ${p}`);
        }
        return p as BrokerPhase;
      }),
    );
    const r = await runBrokerBench({
      redisUrl: redis.url,
      tasks: Number(values['broker-tasks']),
      durationSeconds: Number(values.duration),
      connections: Number(values.connections),
      workerConcurrency: Number(values['broker-concurrency']),
      fleetMaxSessions: Number(values['broker-fleet-sessions']),
      armTimeoutSeconds: Number(values['broker-arm-timeout']),
      phases,
      ...(values['broker-cpu-prof'] !== undefined && { cpuProfileDir: values['broker-cpu-prof'] }),
    });
    const n = (x: number) => Math.round(x).toLocaleString('en-US');
    const s = (x: number | undefined) => (x === undefined ? 'n/a' : `${x.toFixed(1)} s`);
    const cpu = (c: BrokerCpuSeconds) => `gateway ${s(c.gateway)}, fleet ${s(c.fleet)}, redis ${s(c.redis)}, bench ${s(c.bench)}`;
    const perUnit = (top: [string, number][], per: number) =>
      top
        .slice(0, 8)
        .map(([c, k]) => `${c} ${(k / Math.max(1, per)).toFixed(1)}`)
        .join(', ');
    const loadFigure = (q: BrokerSoapResult) => {
      const errors = q.errors + q.non2xx;
      return `${n(q.requestsPerSecond)} req/s, p99 ${q.p99Ms} ms (${q.connections} connections, ${q.durationSeconds} s${errors ? `, ${errors} errors` : ''})`;
    };
    console.log('\n## Deployment broker');
    console.log('| figure | value | aim |');
    console.log('|---|---|---|');
    if (r.soap) console.log(`| doOperation over SOAP | ${loadFigure(r.soap)} | ≥ 1,500 req/s, p99 ≤ 50 ms |`);
    if (r.arm) {
      const a = r.arm;
      const incomplete = a.complete ? '' : `; INCOMPLETE: ${formatCounts(a.finalCounts)}`;
      console.log(`| queue-to-armed, ${n(a.tasks)} SCHEDULED_EXEC tasks | ${n(a.tasksPerSecond)} tasks/s (${a.seconds.toFixed(1)} s${incomplete}) | |`);
    }
    if (r.raw) console.log(`| raw BullMQ, ${n(r.raw.jobs)} empty jobs, concurrency ${r.raw.concurrency} | ${n(r.raw.jobsPerSecond)} jobs/s | |`);
    if (r.ratio !== undefined) console.log(`| ratio | ${r.ratio.toFixed(r.ratio < 0.1 ? 3 : 2)} | ≥ 0.4 |`);
    console.log('');
    console.log(
      `box: ${r.cores} cores, 1-min load average ${r.loadAverage[0].toFixed(1)} at the start, ${r.loadAverage[1].toFixed(1)} at the end (other work on the box slows every figure; the CPU ms per unit below depend on it less)`,
    );
    const ms = (sec: number | undefined, per: number) => (sec === undefined ? 'n/a' : `${((sec * 1000) / Math.max(1, per)).toFixed(2)} ms`);
    if (r.soap) {
      const q = r.soap;
      console.log(
        `doOperation: QUERY (Get) on the live fleet's devices, userSession auth, ${n(q.requests)} calls, p50 ${q.p50Ms} ms; meanwhile the fleet ran ${n(q.fleetSessions)} DM sessions for them; QUERY tasks after the run: ${formatCounts(q.queryCounts)}`,
      );
      console.log(`  CPU: ${cpu(q.cpu)}; Redis: ${(q.redis.total / Math.max(1, q.requests)).toFixed(0)} commands per call (${perUnit(q.redis.top, q.requests)})`);
      console.log(`  gateway CPU per call (with the sessions it causes): ${ms(q.cpu.gateway, q.requests)}`);
    }
    if (r.api) {
      const q = r.api;
      console.log(`doOperation against a --role api gateway (same database and Redis; no workers, no DM sessions): ${loadFigure(q)}, p50 ${q.p50Ms} ms`);
      console.log(`  CPU: ${cpu(q.cpu)}; Redis: ${(q.redis.total / Math.max(1, q.requests)).toFixed(0)} commands per call (${perUnit(q.redis.top, q.requests)})`);
      console.log(`  gateway CPU per call: ${ms(q.cpu.gateway, q.requests)}`);
    }
    if (r.arm) {
      const a = r.arm;
      console.log(
        `queue-to-armed: timed from the first doOperation call to the last task SCHEDULED (task table polled every 250 ms); the ${n(a.tasks)} calls were answered after ${a.submitSeconds.toFixed(1)} s (${n(a.tasks / a.submitSeconds)} calls/s, ${a.submitFailures} failed), the last task armed ${a.afterLastReturnSeconds.toFixed(1)} s after the last answer`,
      );
      if (a.firstSubmitFailure) console.log(`  first failed call: ${a.firstSubmitFailure}`);
      console.log(
        `  fleet: ${n(a.fleet.sessionsOk)} sessions ok, ${n(a.fleet.sessionsFailed)} failed, ${n(a.fleet.notificationsReceived)} notifications, ${n(a.fleet.schedulesArmed)} schedules armed; DM messages answered: ${(sumCounts(a.dmMessages) / a.tasks).toFixed(1)} per task (by HTTP status: ${formatCounts(a.dmMessages)})`,
      );
      console.log(`  CPU: ${cpu(a.cpu)}; Redis: ${(a.redis.total / a.tasks).toFixed(0)} commands per task (${perUnit(a.redis.top, a.tasks)})`);
      console.log(`  CPU per task: gateway ${ms(a.cpu.gateway, a.tasks)}, fleet ${ms(a.cpu.fleet, a.tasks)}, redis ${ms(a.cpu.redis, a.tasks)}`);
    }
    if (r.raw) {
      const c = r.rawCpu;
      console.log(
        `raw BullMQ: addBulk ${r.raw.addBulkSeconds.toFixed(2)} s, the last job done after ${r.raw.seconds.toFixed(2)} s; CPU per job: bench process (queue and worker) ${ms(c?.bench, r.raw.jobs)}, redis ${ms(c?.redis, r.raw.jobs)}`,
      );
    }
    console.log(`gateway peak RSS: ${mb(r.gatewayPeakRssBytes)}; fleet peak RSS: ${mb(r.fleetPeakRssBytes)} (${n(Number(values['broker-tasks']))} devices)`);
  } finally {
    await redis.stop();
  }
}

if (sections.has('deploy')) {
  const redis = await ensureRedis(process.env.REDIS_URL, { mode: 'throwaway' });
  try {
    const r = await runDeployBench({
      redisUrl: redis.url,
      targets: Number(values['deploy-targets']),
      runs: Number(values['deploy-runs']),
      ...(values['deploy-cpu-prof'] !== undefined && { cpuProfileDir: values['deploy-cpu-prof'] }),
    });
    const secs = r.runs.map((x) => x.seconds).sort((a, b) => a - b);
    const median = secs[Math.floor(secs.length / 2)] ?? Number.NaN;
    console.log(`\n## Job acceptance: createDeployments of ${r.targets.toLocaleString('en-US')} device ids (nothing dispatched)`);
    console.log('| run | seconds to the answer | gateway CPU s | gateway peak RSS |');
    console.log('|---|---|---|---|');
    for (const [i, x] of r.runs.entries()) {
      console.log(`| ${i + 1} | ${x.seconds.toFixed(2)} | ${x.gatewayCpuSeconds?.toFixed(2) ?? 'n/a'} | ${mb(x.peakRssBytes)} |`);
    }
    console.log(`\nmedian ${median.toFixed(2)} s (aim < 5 s at 100,000); 1-min load average ${r.loadAverage[0].toFixed(1)} at the start, ${r.loadAverage[1].toFixed(1)} at the end`);
  } finally {
    await redis.stop();
  }
}

/** The fleet-section flags of a fleet like a real network; none given: an ideal fleet. */
function networkOptions(): { network?: FleetNetworkOptions } {
  type Flag = 'offline-share' | 'come-online-within-ms' | 'fail-share' | 'ignore-first-notification-share' | 'notifications-per-second' | 'task-retry-seconds' | 'task-retry-max-seconds';
  const num = (name: Flag) => (values[name] === undefined ? undefined : Number(values[name]));
  const network: FleetNetworkOptions = {
    ...(values['latency-ms'] !== undefined && { latencyMs: String(values['latency-ms']) }),
    ...(num('offline-share') !== undefined && { offlineShare: num('offline-share')! }),
    ...(num('come-online-within-ms') !== undefined && { comeOnlineWithinMs: num('come-online-within-ms')! }),
    ...(num('fail-share') !== undefined && { failShare: num('fail-share')! }),
    ...(num('ignore-first-notification-share') !== undefined && { ignoreFirstNotificationShare: num('ignore-first-notification-share')! }),
    ...(num('notifications-per-second') !== undefined && { notificationsPerSecond: num('notifications-per-second')! }),
    ...(num('task-retry-seconds') !== undefined && { taskRetrySeconds: num('task-retry-seconds')! }),
    ...(num('task-retry-max-seconds') !== undefined && { taskRetryMaxSeconds: num('task-retry-max-seconds')! }),
  };
  return Object.keys(network).length > 0 ? { network } : {};
}

/** One fleet topology: the database and, for split roles, the processes per role. */
interface FleetTopology {
  database: 'sqlite' | 'postgres';
  roles?: { api: number; dm: number; workers: number };
}

function topologyName(t: FleetTopology): string {
  const db = t.database === 'sqlite' ? 'SQLite' : 'PostgreSQL';
  return t.roles ? `${db}, api ${t.roles.api} + dm ${t.roles.dm} + worker ${t.roles.workers}` : `${db}, one process`;
}

/** Runs the fleet bench on one topology (its own throwaway Redis) and prints its figures. */
async function runFleetSection(topology: FleetTopology): Promise<FleetBenchResult> {
  const transport = parseTransport(values.transport);
  const redis = await ensureRedis(process.env.REDIS_URL, { mode: 'throwaway', unixSocket: transport === 'unix' });
  const givenPg = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const postgresUrl = transport === 'unix' ? postgresOverSocket(givenPg) : givenPg;
  try {
    const devices = Number(values.devices);
    const r: FleetBenchResult = await runFleetBench({
      redisUrl: redis.url,
      devices,
      fleetSessions: Number(values['fleet-sessions']),
      ...(values['fleet-sockets'] !== undefined && { fleetSockets: Number(values['fleet-sockets']) }),
      workerConcurrency: Number(values['fleet-concurrency']),
      ...(values['fleet-at-lead'] !== undefined && { atLeadSeconds: Number(values['fleet-at-lead']) }),
      armRate: Number(values['fleet-arm-rate']),
      ...(values['fleet-timeout'] !== undefined && { timeoutSeconds: Number(values['fleet-timeout']) }),
      importChunk: 20_000,
      warm: values['fleet-warm'],
      dmProcess: values['fleet-dm-process'],
      database: topology.database,
      postgresUrl,
      ...(topology.roles && { roles: topology.roles }),
      ...(values['fleet-cpu-prof'] !== undefined && { cpuProfileDir: values['fleet-cpu-prof'] }),
      ...(values['fleet-trace'] !== undefined && { traceEvents: Number(values['fleet-trace']) }),
      operation: values.operation === 'firmware' ? 'firmware' : 'sse',
      packageBytes: Number(values['fleet-package-kib']) * 1024,
      installMs: Number(values['fleet-install-ms']),
      ...networkOptions(),
    });
    const n = (x: number) => Math.round(x).toLocaleString('en-US');
    const s = (x: number | undefined, d = 1) => (x === undefined ? 'n/a' : `${x.toFixed(d)} s`);
    const rate = (k: number, w: FleetWindow) => (w.seconds > 0 ? n(k / w.seconds) : 'n/a');
    const rates = (w: FleetWindow | undefined) =>
      w ? `${rate(w.sessions, w)} sessions/s, ${rate(w.notifications, w)} notifications/s (${rate(w.dmMessages, w)} DM messages/s)` : 'n/a';
    const notCompleted = Object.entries(r.finalCounts).filter(([k]) => k !== 'COMPLETED');
    const late = r.armedLate ? `; ${n(r.armedLate)} armed after AtTime` : '';
    const partial = r.complete ? '' : ` — INCOMPLETE: ${r.stopReason ?? 'not every task ended'}`;
    const armedFigure =
      r.armedSeconds !== undefined
        ? `${s(r.armedSeconds)} after the call${late}`
        : `not all: ${n(r.armedCount)} of ${n(r.devices)} armed${late}`;
    const reportedFigure =
      r.reportedSeconds !== undefined
        ? `${s(r.reportedSeconds)} (first ${s(r.reportTimes.first)}, median ${s(r.reportTimes.p50)}, p99 ${s(r.reportTimes.p99)})`
        : `not all: ${n(r.reportTimes.count)} of ${n(r.devices)} reported${r.reportTimes.last !== undefined ? `, the last ${s(r.reportTimes.last)} after AtTime` : ''}`;
    // Arming that ran past AtTime overlaps the reporting window: count that stretch once.
    const work =
      r.armedSeconds !== undefined && r.reportedSeconds !== undefined
        ? r.armedSeconds + r.reportedSeconds - Math.max(0, r.armedSeconds - r.leadSeconds)
        : undefined;
    if (r.operation === 'firmware') {
      const f = r.fleet;
      console.log(`\n## Fleet firmware update (${n(r.devices)} devices, ${n((r.packageBytes ?? 0) / 1024)} KiB package)${partial}`);
      console.log('| figure | value | aim |');
      console.log('|---|---|---|');
      console.log(`| createDeployments accepted | ${s(r.createSeconds, 2)} (gateway CPU ${s(r.createCpuSeconds, 2)}) | < 5 s at 100,000 |`);
      console.log(`| every task ended (call to the last final alert) | ${reportedFigure.replace('not all', 'not all ended')} | ≤ 600 s at 100,000 |`);
      console.log(`| devices updated (fleet: deliveries succeeded / failed) | ${f ? `${n(f.deliveriesSucceeded)} / ${n(f.deliveriesFailed)}` : 'n/a'} | all |`);
      console.log(`| downloads served (gateway /metrics), peak in flight | ${r.downloadsCompleted ?? 'n/a'}, peak ${r.downloadsInFlightPeak ?? 'n/a'} | |`);
      console.log(`| peak RSS gateway / fleet | ${mb(r.gatewayPeakRssBytes)} / ${mb(r.fleetPeakRssBytes)} (redis ${mb(r.redisPeakRssBytes)}) | gateway ≤ 1 GiB |`);
      console.log(`| task history rows | ${n(r.historyRows)} (${(r.historyRows / Math.max(1, r.devices)).toFixed(1)} per task) | |`);
      console.log(`| tasks not COMPLETED | ${notCompleted.length ? formatCounts(Object.fromEntries(notCompleted)) : '0'} | 0 |`);
      console.log(`\nbox: ${r.cores} cores, 1-min load average ${r.loadAverage[0].toFixed(1)} at the start, ${r.loadAverage[1].toFixed(1)} at the end; setup ${s(r.setupSeconds)} (import ${s(r.importSeconds)})`);
      if (r.reporting) console.log(`reporting window: ${s(r.reporting.seconds)}, ${n(r.reporting.sessions)} DM sessions (${n(r.reporting.sessionsFailed)} failed), ${n(r.reporting.notifications)} notifications, CPU gateway ${s(r.reporting.cpu.gateway)}, fleet ${s(r.reporting.cpu.fleet)}, redis ${s(r.reporting.cpu.redis)}`);
    } else {
    console.log(`\n## Fleet (${n(r.devices)} devices; gateway and fleet as separate processes; ${r.checkInSeconds === undefined ? 'cold fleet' : 'fleet checked in before the job'}${r.dmPeakRssBytes === undefined ? '' : '; DM served by a second gateway process'})${partial}`);
    console.log('| figure | value | aim |');
    console.log('|---|---|---|');
    console.log(`| database; gateway processes | ${r.database}; ${r.processes} | |`);
    console.log(`| transport | ${describeTransport(redis.url, topology.database === 'postgres' ? postgresUrl : undefined)} | |`);
    console.log(`| createDeployments returned | ${s(r.createSeconds, 2)} (gateway CPU ${s(r.createCpuSeconds, 2)}) | < 5 s at 100,000 |`);
    console.log(`| all SCHEDULED | ${armedFigure} | |`);
    console.log(`| arming rate (tasks SCHEDULED per second of the arming window) | ${r.arming && r.arming.seconds > 0 ? n(r.armedCount / r.arming.seconds) : 'n/a'} | |`);
    console.log(`| all reported (from AtTime) | ${reportedFigure} | armed and reported ≤ 5 min in all |`);
    console.log(`| armed + reported (idle wait before AtTime left out; overlap counted once) | ${s(work)} | ≤ 300 s |`);
    console.log(`| DM sessions/s, notifications/s | arming: ${rates(r.arming)}; reporting: ${rates(r.reporting)} | |`);
    const when = (at: number | undefined) => (at === undefined ? '' : ` at ${at.toFixed(0)} s`);
    console.log(
      `| peak RSS gateway / fleet | ${mb(r.gatewayPeakRssBytes)}${when(r.gatewayPeakRssAt)}${r.dmPeakRssBytes === undefined ? '' : ` + DM process ${mb(r.dmPeakRssBytes)}`} / ${mb(r.fleetPeakRssBytes)}${when(r.fleetPeakRssAt)} (redis ${mb(r.redisPeakRssBytes)}) | gateway ≤ 1 GiB |`,
    );
    console.log(`| task history rows | ${n(r.historyRows)} (${(r.historyRows / Math.max(1, r.devices)).toFixed(1)} per task) | |`);
    console.log(`| tasks not COMPLETED | ${notCompleted.length ? formatCounts(Object.fromEntries(notCompleted)) : '0'} | 0 |`);
    console.log('');
    console.log(
      `box: ${r.cores} cores, 1-min load average ${r.loadAverage[0].toFixed(1)} at the start, ${r.loadAverage[1].toFixed(1)} at the end (other work on the box slows every figure)`,
    );
    console.log(
      `setup (not in the figures): ${s(r.setupSeconds)}, of which importDeviceInstances ${s(r.importSeconds)} (20,000 rows per call)${r.checkInSeconds === undefined ? '; a cold fleet: each arming session is the device\'s first contact' : `, every device's first contact (check-in) ${s(r.checkInSeconds)}`}; createDeployments request ${(r.createRequestBytes / 1024 / 1024).toFixed(1)} MiB, job ${r.jobId}`,
    );
    console.log(`AtTime ${r.atTime}, ${s(r.leadSeconds, 0)} after the call started: ${r.leadRule}`);
    if (r.armedLate > 0) {
      console.log(
        `  arming ran past AtTime (${n(r.armedLate)} tasks armed after it, their devices fired at once): the two windows below overlap, and the fleet's session queue served the late arming sessions before the reports`,
      );
    }
    console.log(
      `RSS peaks: VmHWM from /proc at the end; "at" is when the sampled RSS (every 250 ms) was highest, in seconds after the call (negative: setup). Gateway V8 heap at most ${mb(r.gatewayHeap.used)} used of ${mb(r.gatewayHeap.total)}, external ${mb(r.gatewayHeap.external)} (its /metrics, polled once a second from setup on)`,
    );
    if (r.wallSeconds !== undefined) console.log(`call to the last report, wall clock (with the wait for AtTime): ${s(r.wallSeconds)}`);
    const cpuLine = (w: FleetWindow, per: number) => {
      const c = (x: number | undefined) => (x === undefined ? 'n/a' : `${x.toFixed(1)} s (${((x * 1000) / Math.max(1, per)).toFixed(2)} ms/session)`);
      const top = w.redisTop
        .slice(0, 6)
        .map(([k, v]) => `${k} ${(v / Math.max(1, per)).toFixed(1)}`)
        .join(', ');
      const each = w.cpu.byProcess.length > 1 ? ` (${w.cpu.byProcess.map(([name, x]) => `${name} ${c(x)}`).join(', ')})` : '';
      const postgres = w.cpu.postgres === undefined ? '' : `, postgres server ${c(w.cpu.postgres)}`;
      return `CPU gateway ${c(w.cpu.gateway)}${each}, fleet ${c(w.cpu.fleet)}, redis ${c(w.cpu.redis)}${postgres}; Redis ${(w.redisCommands / Math.max(1, per)).toFixed(0)} commands/session (${top})`;
    };
    for (const [name, w] of [
      ['arming window (call start to the last task SCHEDULED; until the last poll when not all were)', r.arming],
      ['reporting window (AtTime to the last report; until the last poll when not all came)', r.reporting],
    ] as const) {
      if (!w) continue;
      console.log(
        `${name}: ${s(w.seconds)}, ${n(w.sessions)} DM sessions (${n(w.sessionsFailed)} failed), ${n(w.notifications)} notifications, ${n(w.dmMessages)} DM messages (${(w.dmMessages / Math.max(1, w.sessions)).toFixed(1)} per session)`,
      );
      // Per DM session of the window: one per task armed, or per report (also when the run stopped early).
      console.log(`  ${cpuLine(w, w.sessions)}`);
    }
    }
    if (r.fleetRecord) {
      const c = r.fleetRecord;
      const f = r.fleet;
      console.log(
        `against the fleet's own record: ${n(c.matches)} tasks match, ${n(c.mismatches)} do not (${n(c.devicesThatRan)} devices ran the target)${c.examples.length ? `; e.g. ${c.examples.join('; ')}` : ''}`,
      );
      if (f) {
        console.log(
          `network: ${n(f.peakSessions)} fleet sessions open at once at peak; ${n(f.messagesLost)} messages lost, ${n(f.notificationsDropped)} first notifications dropped, ${n(f.sessionsFailed)} sessions failed`,
        );
      }
    }
    console.log(`task_history by event: ${r.historyByEvent.map(([e, k]) => `${e} ${n(k)}`).join(', ')}`);
    if (r.wakes) {
      const w = r.wakes;
      const states = Object.entries(w.byState)
        .map(([st, x]) => `${st} ${n(x.wakes)} (${((100 * (x.wakes - x.followedByEnd)) / Math.max(1, x.wakes)).toFixed(1)}% not followed by arming or an end before the next)`)
        .join(', ');
      const needed = Object.entries(w.tasksByWakes)
        .map(([k, x]) => `${k}: ${n(x)}`)
        .join(', ');
      console.log(`wakes (notifications delivered before the task was armed or ended), by the task's state then: ${states}; tasks by notifications delivered before armed or ended (open tasks: so far): ${needed}`);
    }
    if (r.fleet) {
      const f = r.fleet;
      console.log(
        `fleet at the end: ${n(f.sessionsOk)} sessions ok, ${n(f.sessionsFailed)} failed${f.sessionFailures && Object.keys(f.sessionFailures).length ? ` (${formatCounts(f.sessionFailures)})` : ''}; ${n(f.notificationsReceived)} notifications (${n(f.notificationsRejected)} rejected, ${n(f.notificationsIgnored)} ignored); ${n(f.schedulesArmed)} armed, ${n(f.schedulesFired)} fired, ${n(f.schedulesMissed)} missed, ${n(f.alertsReported)} alerts`,
      );
    }
    if (!r.complete && r.lastCounters) {
      const j = r.lastCounters;
      console.log(
        `last getJobById (${j.status}): queued ${n(j.queued)}, notifying ${n(j.notifying)}, in session ${n(j.inSession)}, scheduled ${n(j.scheduled)}, completed ${n(j.completed)}, failed ${n(j.failed)}, missed ${n(j.missed)}, cancelled ${n(j.cancelled)}, expired ${n(j.expired)}`,
      );
    }
  return r;
  } finally {
    await redis.stop();
  }
}

/** Arming rate (tasks SCHEDULED per second of the arming window). */
function armingRate(r: FleetBenchResult): number | undefined {
  return r.arming && r.arming.seconds > 0 ? r.armedCount / r.arming.seconds : undefined;
}

/** A fleet run of a topology in a comparison: which round it belonged to. */
interface ComparedRun {
  topology: FleetTopology;
  round: number;
  result: FleetBenchResult;
}

/**
 * Each run's figures side by side; per round, the asked topology's arming
 * rate as a share of the baseline's (the last one named), and with several
 * rounds the median of those shares.
 */
function printComparison(asked: FleetTopology, baseline: FleetTopology, runs: ComparedRun[], rounds: number): void {
  const ms = (x: number | undefined, per: number) => (x === undefined ? 'n/a' : ((x * 1000) / Math.max(1, per)).toFixed(2));
  const s1 = (x: number | undefined) => (x === undefined ? 'n/a' : `${x.toFixed(1)} s`);
  console.log(`\n## Fleet topologies, run in turn (${Number(values.devices).toLocaleString('en-US')} devices, cold fleet${rounds > 1 ? `, ${rounds} rounds, the order reversed every other round` : ''})`);
  console.log('| topology | arming rate (tasks/s) | all SCHEDULED | all reported (from AtTime) | gateway CPU per arming session, ms (by process) | per reporting session, ms | fleet / Redis / PostgreSQL server per arming session, ms | 1-min load start / end |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const { topology: t, round, result: r } of runs) {
    const a = r.arming;
    const rep = r.reporting;
    const rate = armingRate(r);
    const each = a && a.cpu.byProcess.length > 1 ? ` (${a.cpu.byProcess.map(([name, x]) => `${name} ${ms(x, a.sessions)}`).join(', ')})` : '';
    console.log(
      `| ${topologyName(t)}${rounds > 1 ? ` (round ${round + 1})` : ''} | ${rate === undefined ? 'n/a' : rate.toFixed(0)} | ${s1(r.armedSeconds)} | ${s1(r.reportedSeconds)} | ` +
        `${a ? ms(a.cpu.gateway, a.sessions) : 'n/a'}${each} | ${rep ? ms(rep.cpu.gateway, rep.sessions) : 'n/a'} | ` +
        `${a ? `${ms(a.cpu.fleet, a.sessions)} / ${ms(a.cpu.redis, a.sessions)} / ${a.cpu.postgres === undefined ? '–' : ms(a.cpu.postgres, a.sessions)}` : 'n/a'} | ${r.loadAverage[0].toFixed(1)} / ${r.loadAverage[1].toFixed(1)} |`,
    );
  }
  if (asked === baseline) return;
  const shares: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const rateOf = (t: FleetTopology) => {
      const run = runs.find((x) => x.round === round && x.topology === t);
      return run && armingRate(run.result);
    };
    const first = rateOf(asked);
    const base = rateOf(baseline);
    if (first === undefined || base === undefined) continue;
    shares.push(first / base);
    console.log(
      `\n${rounds > 1 ? `round ${round + 1}: ` : ''}arming rate of ${topologyName(asked)}: ${first.toFixed(0)} tasks/s = ${((100 * first) / base).toFixed(0)}% of ${topologyName(baseline)} (${base.toFixed(0)} tasks/s), run in turn on this box (aim: ≥ 80%)`,
    );
  }
  if (rounds > 1 && shares.length > 0) {
    console.log(
      `\nmedian over ${shares.length} rounds: ${(100 * median(shares)).toFixed(0)}% (rounds: ${shares.map((x) => `${(100 * x).toFixed(0)}%`).join(', ')}; aim: ≥ 80%)`,
    );
  }
}

if (sections.has('fleet')) {
  if (values.database !== 'sqlite' && values.database !== 'postgres') throw new Error(`--database: sqlite or postgres, not ${values.database}`);
  const roleCounts = [values.api, values.dm, values.workers];
  if (roleCounts.some((v) => v !== undefined) && roleCounts.some((v) => v === undefined)) throw new Error('--api, --dm and --workers go together');
  const asked: FleetTopology = {
    database: values.database,
    ...(values.api !== undefined && { roles: { api: Number(values.api), dm: Number(values.dm), workers: Number(values.workers) } }),
  };
  // --compare sqlite[,postgres]: the same bench on each named database with one process, in turn after the asked one.
  const baselines: FleetTopology[] = (values.compare ?? '')
    .split(',')
    .filter((x) => x !== '')
    .map((x) => {
      if (x !== 'sqlite' && x !== 'postgres') throw new Error(`--compare: sqlite or postgres, not ${x}`);
      return { database: x };
    });
  const rounds = Number(values['compare-rounds']);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--compare-rounds: a whole number ≥ 1, not ${values['compare-rounds']}`);
  if (rounds > 1 && baselines.length === 0) throw new Error('--compare-rounds needs --compare');
  const runs: ComparedRun[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = [asked, ...baselines];
    // Every other round in reverse: whichever side runs second in one round runs first in the next.
    for (const t of round % 2 === 0 ? order : order.reverse()) {
      if (runs.length > 0) console.log(`\n[fleet] next, in turn${rounds > 1 ? ` (round ${round + 1} of ${rounds})` : ''}: ${topologyName(t)}`);
      runs.push({ topology: t, round, result: await runFleetSection(t) });
    }
  }
  printComparison(asked, baselines[baselines.length - 1] ?? asked, runs, rounds);
}

if (sections.has('soak')) {
  const redis = await ensureRedis(process.env.REDIS_URL, { mode: 'throwaway' });
  try {
    await runSoakBench({
      redisUrl: redis.url,
      minutes: Number(values.minutes),
      devices: Number(values['soak-devices']),
      fleetSessions: Number(values['soak-fleet-sessions']),
      soapRate: Number(values['soak-soap-rate']),
      sessionRate: Number(values['soak-session-rate']),
      rolloutSize: Number(values['soak-rollout-size']),
      rolloutEverySeconds: Number(values['soak-rollout-every']),
      split: values['soak-split'],
    });
  } finally {
    await redis.stop();
  }
}
