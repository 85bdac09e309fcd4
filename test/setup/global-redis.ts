/**
 * One Redis for the whole test run: REDIS_URL when set, otherwise a throwaway
 * redis-server on a free port (installed first if missing and possible).
 * Tests isolate themselves with their own key/queue prefix.
 */
import type { TestProject } from 'vitest/node';
import { ensureRedis, type RedisHandle } from '../../src/main/redis-launcher.js';

let handle: RedisHandle | undefined;

export async function setup(project: TestProject): Promise<void> {
  handle = await ensureRedis(process.env.REDIS_URL, {
    mode: 'throwaway',
    log: (m) => console.log(`[test setup] ${m}`),
  });
  project.provide('redisUrl', handle.url);
}

export async function teardown(): Promise<void> {
  await handle?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
