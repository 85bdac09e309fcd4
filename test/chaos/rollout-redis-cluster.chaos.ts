/**
 * The crash test (support/rollout-run.ts) on a Redis Cluster (three masters,
 * one replica each, REDIS_URL=redis+cluster://...): its Redis disruption
 * kills -9 the master serving the task queue's slot, which its replica
 * replaces, and the rollout must still end with no task lost; kill -9 of
 * every role and the database outage as in the other variants. Skipped,
 * saying why, only where redis-server lacks cluster support.
 */
import { it } from 'vitest';
import { redisClusterSupport } from '../support/redis-cluster.js';
import { defineChaosRollout } from './support/rollout-run.js';

const support = await redisClusterSupport();
if ('missing' in support) {
  const why = `Redis Cluster crash test SKIPPED: ${support.missing}`;
  console.warn(why);
  it.skip(why, () => undefined);
} else {
  defineChaosRollout({ devices: 1000, atSeconds: 45, processesPerRole: 1, redis: 'cluster' });
}
