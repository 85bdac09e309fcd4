/**
 * The crash test's Redis, and what it does to it: a single redis-server
 * (killed -9 and started again on the same port and data), or a Redis
 * Cluster of three masters with a replica each, whose master holding the
 * task queue's slot is killed -9 and failed over to its replica (and left
 * down: the gateway processes restarted after it must connect with one of
 * REDIS_URL's nodes gone).
 */
import path from 'node:path';
import { bullPrefix } from '../../../src/queue/redis-keys.js';
import { RedisClusterUnderTest } from '../../support/redis-cluster.js';
import { RedisChild } from './redis-child.js';

export interface ChaosRedis {
  kind: 'single' | 'cluster';
  url: string;
  /** The plan's Redis disruption; resolves once Redis serves again, with a line saying what was done. */
  disrupt(downMs: number): Promise<string>;
  stop(success: boolean): Promise<void>;
}

export async function startSingleRedis(dir: string, log: (line: string) => void): Promise<ChaosRedis> {
  const redis = await RedisChild.start(path.join(dir, 'redis'), log);
  return {
    kind: 'single',
    url: redis.url,
    disrupt: async (downMs) => {
      await redis.kill();
      await new Promise((r) => setTimeout(r, downMs));
      await redis.up();
      return 'Redis is back';
    },
    stop: () => redis.stop(),
  };
}

export async function startClusterRedis(dir: string, queuePrefix: string, log: (line: string) => void): Promise<ChaosRedis> {
  const cluster = await RedisClusterUnderTest.start({ masters: 3, replicas: 1, dir: path.join(dir, 'redis-cluster') });
  log(`Redis Cluster: 3 masters, 1 replica each (${cluster.url})`);
  // The BullMQ queue's slot: the master serving it is the one whose loss hurts most.
  const queueSlot = await cluster.keySlot(`${bullPrefix(queuePrefix)}:tasks:wait`);
  return {
    kind: 'cluster',
    url: cluster.url,
    disrupt: async () => {
      const master = await cluster.slotOwner(queueSlot);
      if (master === undefined) throw new Error(`no master serves slot ${queueSlot}`);
      const killedAt = Date.now();
      await cluster.kill(master);
      for (;;) {
        const owner = await cluster.slotOwner(queueSlot).catch(() => undefined);
        if (owner !== undefined && owner !== master) {
          await cluster.waitUntilOk(30_000);
          return `master 127.0.0.1:${master} (the task queue's slot ${queueSlot}) killed -9; its replica 127.0.0.1:${owner} took over after ${Date.now() - killedAt} ms`;
        }
        if (Date.now() - killedAt > 60_000) throw new Error(`no replica took over slot ${queueSlot} within 60 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop: (success) => cluster.stop(!success),
  };
}
