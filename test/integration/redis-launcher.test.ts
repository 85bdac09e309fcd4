/** The launcher behind `npm start` and `npm test`: it starts, answers and stops a real redis-server. */
import fs from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ensureRedis, freePort, pingRedis } from '../../src/main/redis-launcher.js';
import { connectRedis } from '../../src/queue/redis.js';

describe('redis launcher', () => {
  it('uses a given REDIS_URL as is and never stops it', async () => {
    const h = await ensureRedis('redis://example.invalid:6379', { mode: 'default' });
    expect(h).toMatchObject({ url: 'redis://example.invalid:6379', owned: false });
    await h.stop();
  });

  it('starts a throwaway redis-server on a free port and stops it', async () => {
    const h = await ensureRedis(undefined, { mode: 'throwaway' });
    const port = Number(new URL(h.url).port);
    expect(h.owned).toBe(true);
    expect(port).not.toBe(6379);
    expect(await pingRedis('127.0.0.1', port)).toBe(true);
    await h.stop();
    expect(await pingRedis('127.0.0.1', port)).toBe(false);
  });

  it('serves a throwaway redis-server over a Unix socket when asked, and the gateway connects through it', async () => {
    const h = await ensureRedis(undefined, { mode: 'throwaway', unixSocket: true });
    const socket = new URL(h.url).searchParams.get('path');
    expect(socket).toMatch(/redis\.sock$/);
    const redis = connectRedis(h.url, 'launcher-test');
    try {
      // The server names a Unix-socket client by its socket path (TCP: host:port).
      expect(String(await redis.call('CLIENT', 'INFO'))).toContain(`laddr=${socket}:0`);
    } finally {
      redis.disconnect();
      await h.stop();
    }
    expect(fs.existsSync(socket!)).toBe(false);
  });

  it('hands out free ports, never one twice, below the ephemeral range where Linux names one', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 50; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(50);
    const range = fs.existsSync('/proc/sys/net/ipv4/ip_local_port_range')
      ? fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
      : undefined;
    // An outgoing connection takes its local port from that range: a port below it cannot be taken so.
    if (range) for (const p of ports) expect(p).toBeLessThan(range[0]!);
    // Each is free to listen on.
    for (const p of ports) {
      const srv = net.createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(p, '127.0.0.1', resolve);
      });
      await new Promise((resolve) => srv.close(resolve));
    }
  });

  it('says no when nothing listens', async () => {
    expect(await pingRedis('127.0.0.1', 1)).toBe(false);
  });

  it('finds redis-server on this machine (the tests need it)', () => {
    const found = ['/usr/bin/redis-server', '/usr/sbin/redis-server', '/usr/local/bin/redis-server'].some((p) =>
      fs.existsSync(p),
    );
    expect(found || Boolean(process.env.REDIS_URL)).toBe(true);
  });
});
