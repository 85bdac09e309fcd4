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
 *   --broker-tasks 10000  SCHEDULED_EXEC tasks, simulated devices, raw BullMQ jobs (broker section)
 *   --broker-concurrency 32  the gateway's WORKER_CONCURRENCY and the raw worker's (broker section)
 *   --broker-fleet-sessions 64  simultaneous DM sessions of the simulated fleet (broker section)
 *   --broker-phases arm,raw,soap,api  which broker figures to run (api: doOperation on a --role api gateway)
 *   --broker-arm-timeout 300  seconds to wait for every task to be armed (broker section)
 *   --broker-cpu-prof DIR  write CPU profiles of the gateway processes (broker section)
 */
import { parseArgs } from 'node:util';
import { ensureRedis } from '../src/main/redis-launcher.js';
import type { SyncMlEncoding } from '../src/dm/codec/types.js';
import { formatCodecBench, runCodecBench } from './codec.js';
import { runDmBench } from './dm-bench.js';
import { runSoapBench } from './soap-bench.js';
import {
  BROKER_PHASES,
  type BrokerPhase,
  type CpuSeconds as BrokerCpuSeconds,
  type SoapResult as BrokerSoapResult,
  runBrokerBench,
} from './broker-bench.js';
import { formatCounts, sumCounts } from './support/broker-load.js';

const { values } = parseArgs({
  options: {
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
  },
});
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
    if (r.ratio !== undefined) console.log(`| ratio | ${r.ratio.toFixed(2)} | ≥ 0.4 |`);
    console.log('');
    if (r.soap) {
      const q = r.soap;
      console.log(
        `doOperation: QUERY (Get) on the live fleet's devices, userSession auth, ${n(q.requests)} calls, p50 ${q.p50Ms} ms; meanwhile the fleet ran ${n(q.fleetSessions)} DM sessions for them; QUERY tasks after the run: ${formatCounts(q.queryCounts)}`,
      );
      console.log(`  CPU: ${cpu(q.cpu)}; Redis: ${(q.redis.total / Math.max(1, q.requests)).toFixed(0)} commands per call (${perUnit(q.redis.top, q.requests)})`);
    }
    if (r.api) {
      const q = r.api;
      console.log(`doOperation against a --role api gateway (same database and Redis; no workers, no DM sessions): ${loadFigure(q)}, p50 ${q.p50Ms} ms`);
      console.log(`  CPU: ${cpu(q.cpu)}; Redis: ${(q.redis.total / Math.max(1, q.requests)).toFixed(0)} commands per call (${perUnit(q.redis.top, q.requests)})`);
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
    }
    if (r.raw) console.log(`raw BullMQ: addBulk ${r.raw.addBulkSeconds.toFixed(2)} s, the last job done after ${r.raw.seconds.toFixed(2)} s`);
    console.log(`gateway peak RSS: ${mb(r.gatewayPeakRssBytes)}; fleet peak RSS: ${mb(r.fleetPeakRssBytes)} (${n(Number(values['broker-tasks']))} devices)`);
  } finally {
    await redis.stop();
  }
}
