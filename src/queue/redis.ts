/** Redis connections (ioredis, a single Redis or a Redis Cluster) and the Redis-backed session store. */
import { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { SessionStore } from '../services/ports.js';
import { taggedKey } from './redis-keys.js';
import { parseRedisUrl } from './redis-url.js';

/** What every Redis user of the gateway is handed: one Redis, or a Redis Cluster client. */
export type RedisConnection = Redis | Cluster;

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

/** Connects to what REDIS_URL names (see redis-url.ts): the one place connections are made. */
export function connectRedis(url: string, name: string, opts: RedisConnectOptions = {}): RedisConnection {
  const target = parseRedisUrl(url);
  if ('problem' in target) throw new Error(`REDIS_URL ${target.problem}`);
  const redis =
    target.kind === 'single'
      ? new Redis(url, {
          connectionName: name,
          enableAutoPipelining: opts.autoPipelining ?? false,
          // BullMQ requires null here for blocking connections; harmless for the rest.
          maxRetriesPerRequest: null,
          enableReadyCheck: true,
          lazyConnect: false,
        })
      : new Cluster(target.nodes, {
          // On a cluster ioredis pipelines per node; RedisTurnBatch relies on that (redis-turn-batch.ts).
          enableAutoPipelining: opts.autoPipelining ?? false,
          enableReadyCheck: true,
          lazyConnect: false,
          redisOptions: {
            connectionName: name,
            // As above: BullMQ reads it from redisOptions on a cluster.
            maxRetriesPerRequest: null,
            username: target.username,
            password: target.password,
            tls: target.tls ? {} : undefined,
          },
        });
  reportConnectionErrors(redis, name, opts.logger);
  return redis;
}

/** True for a Redis Cluster client. */
export function isCluster(redis: RedisConnection): redis is Cluster {
  return redis instanceof Cluster;
}

function reportConnectionErrors(redis: RedisConnection, name: string, logger: Logger | undefined): void {
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

/** API user sessions and one-time claims (WS-Security nonces): `P:user:{token}`, single-key commands. */
export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {}

  private key(token: string): string {
    return taggedKey(this.prefix, 'user', token);
  }

  async put(token: string, value: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(this.key(token), value, 'EX', ttlSeconds);
  }

  async get(token: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(token))) ?? undefined;
  }

  async delete(token: string): Promise<void> {
    await this.redis.del(this.key(token));
  }

  async claimOnce(key: string, ttlSeconds: number): Promise<boolean> {
    return (await this.redis.set(this.key(key), '1', 'EX', ttlSeconds, 'NX')) === 'OK';
  }
}
