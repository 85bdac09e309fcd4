import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.js';

describe('configuration', () => {
  it('has safe defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.redisUrl).toBeUndefined();
    expect(c.databaseUrl).toBe(`sqlite:${path.resolve('data', 'dmwsi.sqlite')}`);
    expect(c.adminUser).toBe('admin');
    expect(c.role).toBe('all');
    expect(c.production).toBe(false);
  });

  it('reads the contract variables', () => {
    const c = loadConfig({
      PORT: '9090',
      REDIS_URL: 'redis://r:6379',
      DATABASE_URL: 'postgres://u@h/db',
      DMWSI_ADMIN_USER: 'root',
      DMWSI_ADMIN_PASSWORD: 'long-enough',
      DM_SERVER_ID: 'srv',
      PUBLIC_DM_URL: 'https://dm.example.com/dm',
    });
    expect(c).toMatchObject({
      port: 9090,
      redisUrl: 'redis://r:6379',
      databaseUrl: 'postgres://u@h/db',
      adminUser: 'root',
      dmServerId: 'srv',
      publicDmUrl: 'https://dm.example.com/dm',
    });
  });

  it('lists every bad value in one clear error', () => {
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'http://x', DATABASE_URL: 'mysql://x', DMWSI_ADMIN_PASSWORD: 'short' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toMatch(/PORT must be a whole number/);
      expect(problems).toMatch(/REDIS_URL must use redis:/);
      expect(problems).toMatch(/DATABASE_URL must start with/);
      expect(problems).toMatch(/DMWSI_ADMIN_PASSWORD/);
    }
  });

  it('gives SQLite a 128 MiB page cache unless SQLITE_CACHE_MIB says otherwise', () => {
    expect(loadConfig({}).sqliteCacheMib).toBe(128);
    expect(loadConfig({ SQLITE_CACHE_MIB: '16' }).sqliteCacheMib).toBe(16);
    expect(() => loadConfig({ SQLITE_CACHE_MIB: '1' })).toThrow(/SQLITE_CACHE_MIB/);
  });

  it('caps open DM sessions at 10,000 unless DM_MAX_SESSIONS says otherwise (0: no cap)', () => {
    expect(loadConfig({}).dmMaxSessions).toBe(10_000);
    expect(loadConfig({ DM_MAX_SESSIONS: '0' }).dmMaxSessions).toBe(0);
    expect(loadConfig({ DM_MAX_SESSIONS: '250' }).dmMaxSessions).toBe(250);
    expect(() => loadConfig({ DM_MAX_SESSIONS: 'many' })).toThrow(/DM_MAX_SESSIONS must be a whole number/);
  });

  it('keeps packages under DATA_DIR/content unless CONTENT_DIR says otherwise, up to 2 GiB each unless CONTENT_MAX_BYTES says otherwise', () => {
    expect(loadConfig({}).contentDir).toBe(path.resolve('data', 'content'));
    expect(loadConfig({ DATA_DIR: '/srv/dmwsi' }).contentDir).toBe(path.join('/srv/dmwsi', 'content'));
    expect(loadConfig({}, { dataDir: '/tmp/gw' }).contentDir).toBe(path.join('/tmp/gw', 'content'));
    expect(loadConfig({ CONTENT_DIR: '/mnt/packages' }).contentDir).toBe('/mnt/packages');
    expect(loadConfig({}).contentMaxBytes).toBe(2 * 1024 ** 3);
    expect(loadConfig({ CONTENT_MAX_BYTES: '10737418240' }).contentMaxBytes).toBe(10 * 1024 ** 3);
    expect(() => loadConfig({ CONTENT_MAX_BYTES: '0' })).toThrow(/CONTENT_MAX_BYTES must be from 1/);
    expect(() => loadConfig({ CONTENT_MAX_BYTES: '2G' })).toThrow(/CONTENT_MAX_BYTES must be a whole number/);
  });

  it('wakes devices of stalled tasks again after 300 s unless TASK_RETRY_SECONDS says otherwise (5 s at least)', () => {
    expect(loadConfig({}).taskRetrySeconds).toBe(300);
    expect(loadConfig({ TASK_RETRY_SECONDS: '30' }).taskRetrySeconds).toBe(30);
    // The longest wait between wakes: unset by default (12 × TASK_RETRY_SECONDS), read when given.
    expect(loadConfig({}).taskRetryMaxSeconds).toBeUndefined();
    expect(loadConfig({ TASK_RETRY_MAX_SECONDS: '600' }).taskRetryMaxSeconds).toBe(600);
    expect(() => loadConfig({ TASK_RETRY_SECONDS: '1' })).toThrow(/TASK_RETRY_SECONDS must be from 5/);
  });

  it('requires the secret key in production and TLS cert and key together', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/DMWSI_SECRET_KEY is required/);
    expect(() => loadConfig({ TLS_CERT: '/c.pem' })).toThrow(/TLS_CERT and TLS_KEY/);
    expect(() => loadConfig({ DMWSI_SECRET_KEY: 'abc' })).toThrow(/64 hex digits/);
  });

  it('requires REDIS_URL and PUBLIC_DM_URL to serve in production, in one line, but not for the other commands', () => {
    const key = 'a'.repeat(64);
    expect(() => loadConfig({ NODE_ENV: 'production', DMWSI_SECRET_KEY: key }, {}, 'serve')).toThrow(
      /^invalid configuration: NODE_ENV=production: serve requires REDIS_URL and PUBLIC_DM_URL \([^\n]*$/,
    );
    expect(loadConfig({ NODE_ENV: 'production', DMWSI_SECRET_KEY: key }).production).toBe(true);
    const both = { NODE_ENV: 'production', DMWSI_SECRET_KEY: key, REDIS_URL: 'redis://r:6379', PUBLIC_DM_URL: 'https://dm.example.com/dm' };
    expect(loadConfig(both, {}, 'serve').publicDmUrl).toBe('https://dm.example.com/dm');
  });
});
