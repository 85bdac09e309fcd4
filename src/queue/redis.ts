/** Redis connections (ioredis) and the Redis-backed session store. */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { SessionStore } from '../services/ports.js';

/** While Redis stays unreachable, one warning per connection per this interval (ioredis retries every ~2 s). */
const ERROR_LOG_INTERVAL_MS = 10_000;

export interface RedisConnectOptions {
  autoPipelining?: boolean;
  /**
   * Where connection errors go. Without a listener ioredis prints "Unhandled
   * error event" for every reconnection attempt while Redis is down; with one,
   * an outage is a warning every few seconds and a line when it is over.
   */
  logger?: Logger;
}

export function connectRedis(url: string, name: string, opts: RedisConnectOptions = {}): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    enableAutoPipelining: opts.autoPipelining ?? false,
    // BullMQ requires null here for blocking connections; harmless for the rest.
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    lazyConnect: false,
  });
  reportConnectionErrors(redis, name, opts.logger);
  return redis;
}

function reportConnectionErrors(redis: Redis, name: string, logger: Logger | undefined): void {
  let failingSince: number | undefined;
  let lastLogged = 0;
  let failures = 0;
  redis.on('error', (err: Error) => {
    const now = Date.now();
    failingSince ??= now;
    failures++;
    if (now - lastLogged < ERROR_LOG_INTERVAL_MS) return;
    lastLogged = now;
    logger?.warn({ connection: name, err: err.message, failures }, 'redis connection failing; retrying');
  });
  redis.on('ready', () => {
    if (failingSince === undefined) return;
    logger?.info({ connection: name, downMs: Date.now() - failingSince, failures }, 'redis connection restored');
    failingSince = undefined;
    lastLogged = 0;
    failures = 0;
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
