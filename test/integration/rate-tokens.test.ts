/**
 * The per-second notification budget of a rollout (notificationsPerSecond),
 * on a real Redis: the budget belongs to the second the release is stamped
 * with, not to the second the call reaches Redis in (a tick that starts at
 * x.99 s and takes its tokens at x+1.01 s stamps its tasks x).
 */
import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { RedisBrokerCache } from '../../src/queue/broker-cache.js';

const redis = new Redis(inject('redisUrl'));
afterAll(() => redis.quit());

describe('rate tokens', () => {
  it('hands out at most perSecond tokens for the second holding `at`, whenever asked', async () => {
    const cache = new RedisBrokerCache(redis, `rate-test-${crypto.randomBytes(4).toString('hex')}`);
    const second = Math.floor(Date.now() / 1000) * 1000 - 5_000;
    expect(await cache.takeTokens('rate:j', 3, 4, second + 10)).toBe(3);
    expect(await cache.takeTokens('rate:j', 3, 4, second + 990)).toBe(1);
    expect(await cache.takeTokens('rate:j', 3, 4, second + 999)).toBe(0);
    // The next second has its own budget; another job too.
    expect(await cache.takeTokens('rate:j', 5, 4, second + 1000)).toBe(4);
    expect(await cache.takeTokens('rate:k', 2, 4, second + 500)).toBe(2);
  });
});
