/** Redis connections (ioredis) and the Redis-backed session store. */
import { Redis } from 'ioredis';
import type { SessionStore } from '../services/ports.js';

export function connectRedis(url: string, name: string, opts: { autoPipelining?: boolean } = {}): Redis {
  return new Redis(url, {
    connectionName: name,
    enableAutoPipelining: opts.autoPipelining ?? false,
    // BullMQ requires null here for blocking connections; harmless for the rest.
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    lazyConnect: false,
  });
}

export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async put(token: string, value: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(this.prefix + token, value, 'EX', ttlSeconds);
  }

  async get(token: string): Promise<string | undefined> {
    return (await this.redis.get(this.prefix + token)) ?? undefined;
  }

  async delete(token: string): Promise<void> {
    await this.redis.del(this.prefix + token);
  }

  async claimOnce(key: string, ttlSeconds: number): Promise<boolean> {
    return (await this.redis.set(this.prefix + key, '1', 'EX', ttlSeconds, 'NX')) === 'OK';
  }
}
