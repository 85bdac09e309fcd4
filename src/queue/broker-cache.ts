/** Short-lived broker keys in Redis: idempotency of retried calls, one notification per device at a time. */
import type { BrokerCache } from '../services/broker/ports.js';
import type { RedisConnection } from './redis.js';
import { taggedKey } from './redis-keys.js';
import { type RedisTurnBatch, turnBatchOf } from './redis-turn-batch.js';

const TAKE_TOKENS = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local can = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - used)
if can <= 0 then return 0 end
redis.call('INCRBY', KEYS[1], can)
redis.call('EXPIRE', KEYS[1], 60)
return can`;

/** Keys `P:broker:{key}`: each command (the TAKE_TOKENS script too) touches one key. */
export class RedisBrokerCache implements BrokerCache {
  private readonly batch: RedisTurnBatch;

  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {
    this.batch = turnBatchOf(redis);
  }

  private key(key: string, rest = ''): string {
    return taggedKey(this.prefix, 'broker', key, rest);
  }

  async rememberFirst(key: string, value: string, ttlSeconds: number): Promise<string> {
    const k = this.key(key);
    const set = await this.redis.set(k, value, 'EX', ttlSeconds, 'NX');
    if (set === 'OK') return value;
    return (await this.redis.get(k)) ?? value;
  }

  /** A fixed one-second window per key: simple, shared by every process, and exact enough for pacing. */
  async takeTokens(key: string, want: number, perSecond: number, at: number): Promise<number> {
    const k = this.key(key, `:${Math.floor(at / 1000)}`);
    const got = await this.redis.eval(TAKE_TOKENS, 1, k, String(want), String(perSecond));
    return Number(got);
  }

  async lock(key: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.key(key), '1', 'PX', ms, 'NX')) === 'OK';
  }

  /**
   * Called at the end of every DM session (the device's notification gate):
   * it goes out in the DM server's pipeline of the turn, not in a pipeline of
   * its own, which cost ~5% of the gateway's CPU per message in the DM bench
   * (auto-pipelining's per-tick pipeline and socket write for one DEL).
   */
  async release(key: string): Promise<void> {
    await this.batch.send('del', this.key(key));
  }

  async unlock(key: string): Promise<void> {
    await this.redis.del(this.key(key));
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(key))) ?? undefined;
  }

  async set(key: string, value: string): Promise<void> {
    await this.redis.set(this.key(key), value, 'EX', 30 * 24 * 3600);
  }

  async claimOnce(key: string, ttlSeconds: number): Promise<boolean> {
    return (await this.redis.set(this.key(key), '1', 'EX', ttlSeconds, 'NX')) === 'OK';
  }
}
