/**
 * The reference for the queue-to-armed figure: BullMQ alone on the same
 * Redis. One Queue.addBulk of `jobs` empty jobs (the job options the
 * gateway's notify jobs use), one Worker with the gateway's concurrency and a
 * no-op processor; timed from the addBulk call until the last job completed.
 * The worker is up (connected, waiting) before the clock starts, as the
 * gateway's is.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

export interface RawBullMqResult {
  jobs: number;
  concurrency: number;
  seconds: number;
  addBulkSeconds: number;
  jobsPerSecond: number;
}

export async function runRawBullMq(redisUrl: string, prefix: string, jobs: number, concurrency: number): Promise<RawBullMqResult> {
  const options = { maxRetriesPerRequest: null, enableReadyCheck: true } as const;
  const queueRedis = new Redis(redisUrl, { ...options, connectionName: 'bench-raw-queue' });
  const workerRedis = new Redis(redisUrl, { ...options, connectionName: 'bench-raw-worker' });
  const queue = new Queue('raw', { connection: queueRedis, prefix });
  let completed = 0;
  let failed = 0;
  let done: (() => void) | undefined;
  const allDone = new Promise<void>((resolve) => {
    done = resolve;
  });
  const worker = new Worker('raw', async () => {}, { connection: workerRedis, prefix, concurrency });
  worker.on('completed', () => {
    if (++completed + failed === jobs) done?.();
  });
  worker.on('failed', () => {
    if (completed + ++failed === jobs) done?.();
  });
  try {
    await queue.waitUntilReady();
    await worker.waitUntilReady();
    const entries = Array.from({ length: jobs }, (_, i) => ({
      name: 'noop',
      data: {},
      opts: { jobId: `noop-${i}`, attempts: 6, removeOnComplete: { age: 3600, count: 10_000 }, removeOnFail: { age: 24 * 3600 } },
    }));
    const t0 = performance.now();
    await queue.addBulk(entries);
    const addBulkSeconds = (performance.now() - t0) / 1000;
    await allDone;
    const seconds = (performance.now() - t0) / 1000;
    if (failed > 0) throw new Error(`${failed} no-op jobs failed`);
    return { jobs, concurrency, seconds, addBulkSeconds, jobsPerSecond: jobs / seconds };
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await queueRedis.quit().catch(() => {});
    await workerRedis.quit().catch(() => {});
  }
}
