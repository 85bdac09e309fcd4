/**
 * The DM stores against a real Redis: commands issued in one event-loop turn
 * share a pipeline yet each caller gets its own reply or error, the queue
 * read keeps queue order, and save + bind write both keys.
 */
import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisDeviceRequestQueue } from '../../../src/queue/device-request-queue.js';
import { openDmSessionsKey, RedisDmSessionStore } from '../../../src/queue/dm-session-store.js';
import { turnBatchOf } from '../../../src/queue/redis-turn-batch.js';

let redis: Redis;
const prefix = `test-stores-${crypto.randomBytes(4).toString('hex')}`;

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

describe('DM stores in Redis', () => {
  it('gives each command of a shared pipeline its own reply or error', async () => {
    const batch = turnBatchOf(redis);
    expect(turnBatchOf(redis)).toBe(batch);
    await redis.set(`${prefix}:text`, 'not a number');
    const [set, bad, got] = await Promise.allSettled([
      batch.send('set', `${prefix}:a`, '1'),
      batch.send('incr', `${prefix}:text`),
      batch.send('get', `${prefix}:a`),
    ]);
    expect(set).toEqual({ status: 'fulfilled', value: 'OK' });
    expect(bad.status).toBe('rejected');
    expect(got).toEqual({ status: 'fulfilled', value: '1' });
    // One command alone goes out as itself.
    expect(await batch.send('get', `${prefix}:a`)).toBe('1');
  });

  // (Its EVAL fallback for a Redis without the script runs on a fresh Redis's first read; not
  // forced here with SCRIPT FLUSH, which would hit the other test files sharing this Redis.)
  it('reads the pending requests in order', async () => {
    const queue = new RedisDeviceRequestQueue(redis, prefix);
    const dev = 'IMEI:350000000000017';
    expect(await queue.pending(dev)).toEqual([]);
    await queue.enqueue(dev, { requestId: 'r1', commands: [{ verb: 'Get', uri: './DevInfo/Man' }] });
    await queue.enqueue(dev, { requestId: 'r2', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] });
    expect((await queue.pending(dev)).map((r) => r.requestId)).toEqual(['r1', 'r2']);
    await queue.remove(dev, ['r1']);
    expect((await queue.pending(dev)).map((r) => r.requestId)).toEqual(['r2']);
  });

  it('keeps each request’s sent mark with it: read with the queue, kept by removeUnsent, gone with remove', async () => {
    const queue = new RedisDeviceRequestQueue(redis, prefix);
    const dev = 'IMEI:350000000000025';
    for (const id of ['m1', 'm2', 'm3']) await queue.enqueue(dev, { requestId: id, commands: [{ verb: 'Get', uri: './DevInfo/Man' }] });
    await queue.markSent(dev, ['m1', 'm2'], 'tok-a');
    const read = await queue.pendingWithSent(dev);
    expect(read.requests.map((r) => r.requestId)).toEqual(['m1', 'm2', 'm3']);
    expect([...read.sentIn]).toEqual([['m1', 'tok-a'], ['m2', 'tok-a']]);
    await queue.removeUnsent(dev, ['m1', 'm3']);
    expect((await queue.pending(dev)).map((r) => r.requestId)).toEqual(['m1', 'm2']);
    await queue.remove(dev, ['m1']);
    // Enqueued again under the same id, it is a new request: no mark left from the removed one.
    await queue.enqueue(dev, { requestId: 'm1', commands: [{ verb: 'Get', uri: './DevInfo/Man' }] });
    const again = await queue.pendingWithSent(dev);
    expect(again.requests.map((r) => r.requestId)).toEqual(['m2', 'm1']);
    expect([...again.sentIn]).toEqual([['m2', 'tok-a']]);
    await expect(queue.enqueue(dev, { requestId: '\u0000sent:m2', commands: [{ verb: 'Get', uri: './DevInfo/Man' }] })).rejects.toThrow(/NUL/);
  });

  it('tells a watcher whether a request was enqueued for its device, and a read whether it saw the whole queue', async () => {
    const queue = new RedisDeviceRequestQueue(redis, prefix);
    const dev = 'IMEI:350000000000033';
    const watch = queue.watchEnqueues(dev);
    await queue.enqueue('IMEI:350000000000041', { requestId: 'other', commands: [{ verb: 'Get', uri: './DevInfo/Man' }] });
    expect(watch.enqueued()).toBe(false);
    await queue.enqueue(dev, { requestId: 'w0', commands: [{ verb: 'Get', uri: './DevInfo/Man' }] });
    expect(watch.enqueued()).toBe(true);
    watch.stop();
    const later = queue.watchEnqueues(dev);
    later.stop();
    await queue.enqueue(dev, { requestId: 'w1', commands: [{ verb: 'Get', uri: './DevInfo/Man' }] });
    expect(later.enqueued()).toBe(false);
    expect((await queue.pendingWithSent(dev)).more).toBe(false);
    for (let i = 2; i < 70; i++) await queue.enqueue(dev, { requestId: `w${i}`, commands: [{ verb: 'Get', uri: './DevInfo/Man' }] });
    const window = await queue.pendingWithSent(dev);
    expect(window.requests).toHaveLength(64);
    expect(window.more).toBe(true);
  });

  it('saves the state and binds device and SessionID to its token in one go', async () => {
    const store = new RedisDmSessionStore(redis, prefix);
    await store.saveAndBind('tok-aaaaaaaaaaaaaaaa', '{"v":1}', 60, { deviceId: 'IMEI:1', sessionId: '1A' });
    expect(await store.load('tok-aaaaaaaaaaaaaaaa')).toBe('{"v":1}');
    expect(await store.lookup('IMEI:1', '1A')).toBe('tok-aaaaaaaaaaaaaaaa');
    expect(await redis.ttl(`${prefix}:dm:sid:{IMEI:1}:1A`)).toBeGreaterThan(0);
    // Without a binding only the state is written.
    await store.saveAndBind('tok-bbbbbbbbbbbbbbbb', '{"v":2}', 60);
    expect(await store.load('tok-bbbbbbbbbbbbbbbb')).toBe('{"v":2}');
    expect(await store.lookup('IMEI:1', '1B')).toBeUndefined();
  });

  it('counts open sessions up to a cap: a place frees when a session leaves, or lapses unless touched', async () => {
    const store = new RedisDmSessionStore(redis, `${prefix}:cap`);
    expect(await store.admit('s1', 2, 60)).toBe(true);
    expect(await store.admit('s2', 2, 60)).toBe(true);
    expect(await store.admit('s3', 2, 60)).toBe(false);
    await store.leave('s1');
    expect(await store.admit('s3', 2, 60)).toBe(true);
    expect(await store.admit('s4', 2, 60)).toBe(false);

    // A session whose device went away: its place lapses after its time; a touched one stays.
    const lapsing = new RedisDmSessionStore(redis, `${prefix}:lapse`);
    expect(await lapsing.admit('gone', 2, 1)).toBe(true);
    expect(await lapsing.admit('alive', 2, 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 600));
    await lapsing.touch('alive', 5);
    await new Promise((r) => setTimeout(r, 600));
    expect(await lapsing.admit('new', 2, 60)).toBe(true);
    expect(await lapsing.admit('newer', 2, 60)).toBe(false);
    expect(await redis.zrange(openDmSessionsKey(`${prefix}:lapse`), 0, -1)).toEqual(['alive', 'new']);
  });

  it('lets one holder at a time take a device’s message lock, and only the holder release it', async () => {
    const store = new RedisDmSessionStore(redis, prefix);
    const dev = 'IMEI:350000000000025';
    expect(await store.claim(dev, 'first', 5_000)).toBe(true);
    expect(await store.claim(dev, 'second', 5_000)).toBe(false);
    await store.release(dev, 'second'); // not the holder: nothing happens
    expect(await store.claim(dev, 'second', 5_000)).toBe(false);
    await store.release(dev, 'first');
    expect(await store.claim(dev, 'second', 5_000)).toBe(true);
    // A holder that died: the lock lapses after its time.
    const other = 'IMEI:350000000000033';
    expect(await store.claim(other, 'dead', 50)).toBe(true);
    await new Promise((r) => setTimeout(r, 120));
    expect(await store.claim(other, 'alive', 5_000)).toBe(true);
  });
});
