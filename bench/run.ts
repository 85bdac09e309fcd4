/**
 * `npm run bench`: prints the gateway's speed figures. Options:
 *   --only soap,codec     run some sections only
 *   --duration 10         seconds per load run
 *   --connections 32      concurrent HTTP connections
 *   --import-rows 100000  rows for the CSV import figure
 */
import { parseArgs } from 'node:util';
import { ensureRedis } from '../src/main/redis-launcher.js';
import { formatCodecBench, runCodecBench } from './codec.js';
import { runSoapBench } from './soap-bench.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'soap,codec' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    'import-rows': { type: 'string', default: '100000' },
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
