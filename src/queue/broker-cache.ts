/** Short-lived broker keys in Redis: idempotency of retried calls, one notification per device at a time. */
import type { Redis } from 'ioredis';
import type { BrokerCache } from '../services/broker/ports.js';

export class RedisBrokerCache implements BrokerCache {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async rememberFirst(key: string, value: string, ttlSeconds: number): Promise<string> {
    const k = `${this.prefix}:${key}`;
    const set = await this.redis.set(k, value, 'EX', ttlSeconds, 'NX');
    if (set === 'OK') return value;
    return (await this.redis.get(k)) ?? value;
  }

  async claimOnce(key: string, ttlSeconds: number): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}:${key}`, '1', 'EX', ttlSeconds, 'NX')) === 'OK';
  }
}
