/**
 * A DeploymentBroker over a given unit of work and a real Redis (its request queue, task jobs, cache
 * and resync offers under its own prefix), with a real HTTP notification sender: for tests that drive
 * the broker's store calls directly, without a gateway around it.
 */
import { Redis } from 'ioredis';
import { DeviceCommandService } from '../../src/dm/server/device-commands.js';
import { DeviceNotifier } from '../../src/dm/server/notifier.js';
import { createLogger } from '../../src/observability/logger.js';
import { RegistryDmDeviceDirectory } from '../../src/persistence/dm-device-directory.js';
import { RedisBrokerCache } from '../../src/queue/broker-cache.js';
import { RedisDeviceRequestQueue } from '../../src/queue/device-request-queue.js';
import { RedisResyncOffers } from '../../src/queue/resync-offers.js';
import { BullTaskJobs } from '../../src/queue/task-jobs.js';
import { DeploymentBroker } from '../../src/services/broker/deployment-broker.js';
import type { Transactor } from '../../src/services/ports.js';
import { HttpNotificationSender } from '../../src/transport/notification/http-sender.js';

export interface StoreBroker {
  broker: DeploymentBroker;
  redis: Redis;
  jobs: BullTaskJobs;
  requests: RedisDeviceRequestQueue;
  close(): Promise<void>;
}

export function startStoreBroker(o: {
  redisUrl: string;
  prefix: string;
  /** The registry the notifier reads devices from. */
  tx: Transactor;
  /** The broker's own unit of work (a counting wrapper of `tx`, say); default `tx`. */
  brokerTx?: Transactor;
  now: () => number;
}): StoreBroker {
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
  const jobs = new BullTaskJobs(redis, o.prefix);
  const requests = new RedisDeviceRequestQueue(redis, o.prefix);
  const sender = new HttpNotificationSender({ attempts: 1 });
  const commands = new DeviceCommandService(requests, new DeviceNotifier(new RegistryDmDeviceDirectory(o.tx, 'dmwsi'), sender, new RedisResyncOffers(redis, o.prefix)));
  const broker = new DeploymentBroker({
    tx: o.brokerTx ?? o.tx,
    devices: commands,
    jobs,
    cache: new RedisBrokerCache(redis, o.prefix),
    clock: { now: o.now },
    logger: createLogger('silent'),
    taskDeadlineMs: 3_600_000,
    reportGraceMs: 60_000,
    taskRetryMs: 60_000,
    longOperationMs: 3_600_000,
    packages: { pkgUrlFor: () => 'http://127.0.0.1/none', bytesOf: async () => Buffer.alloc(0) },
  });
  return {
    broker,
    redis,
    jobs,
    requests,
    close: async () => {
      await sender.close();
      await jobs.queue.obliterate({ force: true });
      await jobs.close();
      await redis.quit();
    },
  };
}
