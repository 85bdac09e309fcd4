/**
 * The gateway's Redis connections during an outage: they keep retrying, say
 * so at most every few seconds (not one "Unhandled error event" per attempt),
 * and say when Redis is back. A real redis-server starts late on the port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, pingRedis, redisBinary } from '../../src/main/redis-launcher.js';
import { connectRedis } from '../../src/queue/redis.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function recordingLogger(): { logger: Logger; lines: { level: string; msg: string; obj: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; obj: Record<string, unknown> }[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => lines.push({ level, msg, obj });
  return { logger: { warn: at('warn'), info: at('info'), debug: at('debug'), error: at('error') } as unknown as Logger, lines };
}

async function until(what: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a Redis connection while Redis is away', () => {
  it('warns once per interval, keeps retrying, and reports when Redis answers again', async () => {
    const port = await freePort();
    const { logger, lines } = recordingLogger();
    const processWarnings: unknown[] = [];
    const onWarning = (w: unknown) => processWarnings.push(w);
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));

    const redis = connectRedis(`redis://127.0.0.1:${port}`, 'test-conn', { logger });
    cleanups.push(() => redis.disconnect());
    // ioredis retries every 50 ms, then more slowly: several failures within a second.
    await until(() => lines.some((l) => l.msg === 'redis connection failing; retrying'), 5_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);

    const server: ChildProcess = spawn(
      redisBinary(() => undefined),
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    cleanups.push(() => server.kill('SIGKILL'));
    await until(() => pingRedis('127.0.0.1', port), 5_000);

    await until(() => lines.some((l) => l.msg === 'redis connection restored'), 10_000);
    const restored = lines.find((l) => l.msg === 'redis connection restored');
    expect(restored?.obj).toMatchObject({ connection: 'test-conn' });
    expect(Number(restored?.obj.failures)).toBeGreaterThan(1);
    expect(await redis.ping()).toBe('PONG');
    expect(processWarnings).toEqual([]);
  });
});
