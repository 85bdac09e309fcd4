/** DM session state in Redis, with a TTL, so any gateway process can serve a session's next message. */
import crypto from 'node:crypto';
import type { DmSessionStore } from '../dm/server/ports.js';
import type { RedisConnection } from './redis.js';
import { taggedKey } from './redis-keys.js';
import { type RedisTurnBatch, turnBatchOf } from './redis-turn-batch.js';

type Arg = string | number;

/** DEL only the holder's lock: one that lapsed and was taken by another message is left alone. */
const RELEASE_IF_OWNER = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

/*
 * Open sessions: one sorted set per prefix, members are session tokens,
 * scores the time (ms, Redis's clock: every gateway process reads the same
 * one) at which an idle session lapses. When the set looks full, lapsed
 * members are pruned and it is counted again, so a session whose device
 * went away frees its place after DM_SESSION_TTL_SECONDS without anyone
 * ending it; below the cap they are left (counted, they change nothing).
 * ARGV: token, cap, ttl in ms. 1: admitted, 0: full.
 */
const ADMIT = `
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[2])
if redis.call('zcard', KEYS[1]) >= cap then
  redis.call('zremrangebyscore', KEYS[1], '-inf', now)
  if redis.call('zcard', KEYS[1]) >= cap then return 0 end
end
redis.call('zadd', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
return 1`;

/** Moves an open session's lapse time on. ARGV: token, ttl in ms. */
const TOUCH = `
local t = redis.call('time')
redis.call('zadd', KEYS[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2]), ARGV[1])
return 1`;

const sha1 = (script: string) => crypto.createHash('sha1').update(script).digest('hex');
const RELEASE_SHA = sha1(RELEASE_IF_OWNER);
const ADMIT_SHA = sha1(ADMIT);
const TOUCH_SHA = sha1(TOUCH);

/** A DM session's state: `P:dm:session:{token}` (its own slot: state is single-key). */
export const dmSessionStateKey = (prefix: string, token: string): string => taggedKey(prefix, 'dm:session', token);
/** The per-device lock one DM message at a time holds: `P:dm:lock:{deviceId}`. */
export const dmLockKey = (prefix: string, deviceId: string): string => taggedKey(prefix, 'dm:lock', deviceId);
/** The sorted set of open DM sessions: `P:dm:{open}` (ADMIT and TOUCH touch only it). */
export const openDmSessionsKey = (prefix: string): string => `${prefix}:dm:{open}`;

export class RedisDmSessionStore implements DmSessionStore {
  private readonly batch: RedisTurnBatch;

  constructor(
    redis: RedisConnection,
    private readonly prefix: string,
  ) {
    this.batch = turnBatchOf(redis);
  }

  private stateKey(token: string): string {
    return dmSessionStateKey(this.prefix, token);
  }

  private sidKey(deviceId: string, sessionId: string): string {
    return taggedKey(this.prefix, 'dm:sid', deviceId, `:${sessionId}`);
  }

  private lockKey(deviceId: string): string {
    return dmLockKey(this.prefix, deviceId);
  }

  private openKey(): string {
    return openDmSessionsKey(this.prefix);
  }

  async load(token: string): Promise<string | undefined> {
    return ((await this.batch.send('get', this.stateKey(token))) as string | null) ?? undefined;
  }

  /**
   * Both SETs issued together: the same pipeline, one round trip instead of
   * two awaited ones. Not MULTI: the two keys are in different cluster
   * slots, and the outcome is the same as two SETs in turn.
   */
  async saveAndBind(
    token: string,
    state: string,
    ttlSeconds: number,
    binding?: { deviceId: string; sessionId: string },
  ): Promise<void> {
    const saved = this.batch.send('set', this.stateKey(token), state, 'EX', ttlSeconds);
    if (binding === undefined) {
      await saved;
      return;
    }
    await Promise.all([saved, this.batch.send('set', this.sidKey(binding.deviceId, binding.sessionId), token, 'EX', ttlSeconds)]);
  }

  async claim(deviceId: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.batch.send('set', this.lockKey(deviceId), owner, 'NX', 'PX', ttlMs)) === 'OK';
  }

  async release(deviceId: string, owner: string): Promise<void> {
    await this.script(RELEASE_IF_OWNER, RELEASE_SHA, this.lockKey(deviceId), owner);
  }

  async lookup(deviceId: string, sessionId: string): Promise<string | undefined> {
    return ((await this.batch.send('get', this.sidKey(deviceId, sessionId))) as string | null) ?? undefined;
  }

  async admit(token: string, max: number, ttlSeconds: number): Promise<boolean> {
    return (await this.script(ADMIT, ADMIT_SHA, this.openKey(), token, max, ttlSeconds * 1000)) === 1;
  }

  async touch(token: string, ttlSeconds: number): Promise<void> {
    await this.script(TOUCH, TOUCH_SHA, this.openKey(), token, ttlSeconds * 1000);
  }

  /**
   * EVALSHA on one key (the script's text is not sent, nor hashed by Redis,
   * with every message), EVAL when Redis lacks it (first call, restart,
   * SCRIPT FLUSH).
   */
  private async script(text: string, sha: string, key: string, ...args: Arg[]): Promise<unknown> {
    try {
      return await this.batch.send('evalsha', sha, 1, key, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return this.batch.send('eval', text, 1, key, ...args);
    }
  }

  async leave(token: string): Promise<void> {
    await this.batch.send('zrem', this.openKey(), token);
  }
}
