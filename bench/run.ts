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
 */
import { parseArgs } from 'node:util';
import { ensureRedis } from '../src/main/redis-launcher.js';
import type { SyncMlEncoding } from '../src/dm/codec/types.js';
import { formatCodecBench, runCodecBench } from './codec.js';
import { runDmBench } from './dm-bench.js';
import { runSoapBench } from './soap-bench.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'soap,codec' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    'import-rows': { type: 'string', default: '100000' },
    'dm-devices': { type: 'string', default: '2000' },
    'dm-concurrency': { type: 'string', default: '64' },
    'dm-encodings': { type: 'string', default: 'xml,wbxml' },
    'dm-cpu-prof': { type: 'string' },
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
    }
    console.log(`gateway peak RSS: ${mb(r.gatewayPeakRssBytes)}`);
  } finally {
    await redis.stop();
  }
}
