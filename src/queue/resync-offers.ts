/**
 * The resync-signed triggers whose sessions may authenticate on the resync
 * nonce (ResyncOffers), in Redis so that the worker that sends a trigger and
 * the dm process that serves the session need not be one process.
 */
import type { ResyncOffers } from '../dm/server/ports.js';
import type { RedisConnection } from './redis.js';
import { taggedKey } from './redis-keys.js';
import { type RedisTurnBatch, turnBatchOf } from './redis-turn-batch.js';

/** `P:dm:resync:{deviceId}`: the session ids of the device's unanswered resync triggers (its lock's slot). */
export const resyncOffersKey = (prefix: string, deviceId: string): string => taggedKey(prefix, 'dm:resync', deviceId);

export class RedisResyncOffers implements ResyncOffers {
  private readonly batch: RedisTurnBatch;

  constructor(
    redis: RedisConnection,
    private readonly prefix: string,
  ) {
    this.batch = turnBatchOf(redis);
  }

  /** One set per device: a retried notification (another session id) adds to it and keeps it for the TTL again. */
  async offer(deviceId: string, sessionId: number, ttlSeconds: number): Promise<void> {
    const key = resyncOffersKey(this.prefix, deviceId);
    await Promise.all([this.batch.send('sadd', key, sessionId), this.batch.send('expire', key, ttlSeconds)]);
  }

  async offered(deviceId: string, sessionId: number): Promise<boolean> {
    return (await this.batch.send('sismember', resyncOffersKey(this.prefix, deviceId), sessionId)) === 1;
  }

  async answered(deviceId: string): Promise<void> {
    await this.batch.send('del', resyncOffersKey(this.prefix, deviceId));
  }
}
