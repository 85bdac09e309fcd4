/**
 * The gateway on a Redis Cluster (REDIS_URL=redis+cluster://...): a
 * three-master cluster of the test's own on loopback ports, the DM stores'
 * scripts and per-turn pipeline across slots, and a real rollout
 * (createDeployments over SOAP to 300 simulated devices) to its end, with the
 * job's counters equal to its tasks'. Skipped, saying why, only where no
 * redis-server with cluster support (or no redis-cli) is installed.
 */
import crypto from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '../../src/queue/redis.js';
import { RedisDeviceRequestQueue } from '../../src/queue/device-request-queue.js';
import { RedisDmSessionStore } from '../../src/queue/dm-session-store.js';
import { bullPrefix } from '../../src/queue/redis-keys.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { countersAsStatuses, jobReaches, taskCounts } from '../support/jobs.js';
import { RedisClusterUnderTest, redisClusterSupport } from '../support/redis-cluster.js';
import { call, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';

const DEVICES = 300;
const support = await redisClusterSupport();
const skipWhy = 'missing' in support ? `Redis Cluster test SKIPPED: ${support.missing}` : undefined;
if (skipWhy) console.warn(skipWhy);

let cluster: RedisClusterUnderTest;

describe.skipIf(skipWhy !== undefined)(skipWhy ?? 'the gateway on a three-master Redis Cluster', () => {
  beforeAll(async () => {
    cluster = await RedisClusterUnderTest.start({ masters: 3 });
  }, 60_000);
  afterAll(() => cluster?.stop());

  it('runs the DM stores’ scripts and one turn’s commands for devices on every master', async () => {
    const redis = connectRedis(cluster.url, 'test-cluster-stores', { autoPipelining: true });
    try {
      expect(redis).toBeInstanceOf(Cluster);
      const prefix = `t-${crypto.randomBytes(3).toString('hex')}`;
      const queue = new RedisDeviceRequestQueue(redis, prefix);
      const sessions = new RedisDmSessionStore(redis, prefix);
      const devices = Array.from({ length: 30 }, (_, i) => `IMEI:3500000000${String(i).padStart(5, '0')}`);
      // All in one event-loop turn: enqueue (script on two keys), pending (script on three), lock, save.
      await Promise.all(
        devices.map(async (d, i) => {
          expect(await queue.enqueue(d, { requestId: `r${i}`, commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] })).toBe(true);
          expect(await queue.enqueue(d, { requestId: `r${i}`, commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] })).toBe(false);
        }),
      );
      // The devices' keys are on every master: one turn's commands cannot go in one node's pipeline.
      expect(new Set(devices.map((d) => (redis as Cluster).slots[keySlot(d)]?.[0])).size).toBe(3);
      const read = await Promise.all(
        devices.map(async (d, i) => {
          const [claimed, pending] = await Promise.all([sessions.claim(d, `owner-${i}`, 5_000), queue.pendingWithSent(d)]);
          await sessions.saveAndBind(`tok-${i}`, `{"i":${i}}`, 60, { deviceId: d, sessionId: String(i) });
          await queue.markSent(d, [`r${i}`], `tok-${i}`);
          return { claimed, ids: pending.requests.map((r) => r.requestId), token: await sessions.lookup(d, String(i)) };
        }),
      );
      expect(read).toEqual(devices.map((_, i) => ({ claimed: true, ids: [`r${i}`], token: `tok-${i}` })));
      await Promise.all(devices.map((d, i) => queue.removeUnsent(d, [`r${i}`])));
      expect((await queue.pendingWithSent(devices[0]!)).sentIn.get('r0')).toBe('tok-0');
      await Promise.all(devices.map((d, i) => queue.remove(d, [`r${i}`])));
      expect((await Promise.all(devices.map((d) => queue.pending(d)))).flat()).toEqual([]);
      expect(await sessions.admit('tok-0', 10, 60)).toBe(true);
      await Promise.all(devices.map((d, i) => sessions.release(d, `owner-${i}`)));
    } finally {
      await redis.quit();
    }
  });

  describe('a rollout', () => {
    let rig: DmRig;
    let bulk: SoapClient;

    beforeAll(async () => {
      rig = await startDmRig({
        devices: DEVICES,
        overrides: { redisUrl: cluster.url, taskRetrySeconds: 600 },
        fleet: { maxConcurrentSessions: 64 },
      });
      bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
    }, 120_000);
    afterAll(() => rig?.stop());

    it(`runs createDeployments to ${DEVICES} devices to its end, counters equal to its tasks, its queue on one slot`, async () => {
      const jobId = (
        await call<{ jobId: string }>(bulk, 'createDeployments', {
          userSession: '',
          operation: { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Mod' }] } },
          targets: rig.fleet.devices.map((d) => d.devId),
        })
      ).jobId;
      const job = await jobReaches(bulk, jobId, ['COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED'], 120_000);
      expect(job.status).toBe('COMPLETED');
      expect(job.completed).toBe(DEVICES);
      expect(await taskCounts(bulk, jobId)).toEqual(countersAsStatuses(job));
      expect(countersAsStatuses(job)).toEqual({ COMPLETED: DEVICES });

      // Where the keys went: BullMQ's under its braced prefix; the DM session state spread over masters.
      const redis = rig.gw.redis as Cluster;
      const masters = redis.nodes('master');
      expect(masters).toHaveLength(3);
      const prefix = rig.gw.config.queuePrefix;
      const keysPerMaster = await Promise.all(masters.map((m) => m.keys(`*${prefix}*`)));
      const all = keysPerMaster.flat();
      expect(all.filter((k) => k.startsWith(`${bullPrefix(prefix)}:tasks:`)).length).toBeGreaterThan(0);
      expect(all.every((k) => /\{[^}]+\}/.test(k))).toBe(true);
      expect(keysPerMaster.filter((keys) => keys.length > 0).length).toBe(3);
    }, 180_000);
  });
});

/** The CRC16 slot of a hash tag, as Redis computes it (to show the devices span slots). */
function keySlot(tag: string): number {
  let crc = 0;
  for (const byte of Buffer.from(tag)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
