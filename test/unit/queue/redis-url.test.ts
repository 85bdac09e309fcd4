/** REDIS_URL: a single Redis as given, or a Redis Cluster's nodes (redis+cluster://host:port,host:port). */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { bullPrefix, taggedKey } from '../../../src/queue/redis-keys.js';
import { parseRedisUrl } from '../../../src/queue/redis-url.js';

describe('REDIS_URL', () => {
  it('hands a single Redis URL over as it is', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379/2')).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379/2' });
    expect(parseRedisUrl('rediss://u:p@r.example:6380')).toEqual({ kind: 'single', url: 'rediss://u:p@r.example:6380' });
  });

  it('reads the nodes, credentials and TLS of a cluster URL', () => {
    expect(parseRedisUrl('redis+cluster://10.0.0.1:7000,10.0.0.2:7001,[::1]:7002')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      username: undefined,
      password: undefined,
      tls: false,
    });
    expect(parseRedisUrl('rediss+cluster://app:s%40cret@r1:7000,r2:7000')).toMatchObject({
      kind: 'cluster',
      nodes: [
        { host: 'r1', port: 7000 },
        { host: 'r2', port: 7000 },
      ],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
  });

  it('names what is wrong, without the password', () => {
    expect(parseRedisUrl('redis+cluster://r1:7000,r2')).toEqual({ problem: expect.stringContaining('"r2" is not host:port') });
    expect(parseRedisUrl('redis+cluster://')).toHaveProperty('problem');
    expect(parseRedisUrl('redis+cluster://r1:70000')).toHaveProperty('problem');
    expect(parseRedisUrl('http://r1:6379')).toEqual({ problem: expect.stringContaining('must use redis://') });
    expect(() => loadConfig({ REDIS_URL: 'redis+cluster://user:hunter2@r1' })).toThrow(/REDIS_URL redis\+cluster:\/\/ lists nodes/);
    expect(() => loadConfig({ REDIS_URL: 'redis+cluster://user:hunter2@r1' })).not.toThrow(/hunter2/);
    expect(loadConfig({ REDIS_URL: 'redis+cluster://r1:7000,r2:7000' }).redisUrl).toBe('redis+cluster://r1:7000,r2:7000');
  });

  it('refuses a QUEUE_PREFIX with braces: the gateway places the hash tags itself', () => {
    expect(() => loadConfig({ QUEUE_PREFIX: '{mine}' })).toThrow(/QUEUE_PREFIX must not contain \{ or \}/);
  });
});

describe('Redis keys', () => {
  it('carry a hash tag: the id in braces, the BullMQ prefix wrapped whole', () => {
    expect(taggedKey('dmwsi', 'dm:queue', 'IMEI:1', ':ids')).toBe('dmwsi:dm:queue:{IMEI:1}:ids');
    expect(bullPrefix('dmwsi')).toBe('{dmwsi}');
  });
});
