/**
 * A process that starts while its database is unreachable waits for it
 * (openDatabaseWhenReachable) instead of exiting; one that is refused for
 * another reason fails at once. PostgreSQL is reached through a TCP proxy in
 * this test that refuses connections until it is told to open.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isDatabaseUnreachable } from '../../src/persistence/db-errors.js';
import { openDatabaseWhenReachable } from '../../src/persistence/data-source.js';
import { dropSchema, newSchemaName, postgresUrl } from '../support/postgres.js';

const pgUrl = await postgresUrl();

/** A port nothing listens on yet; `open()` starts forwarding it to the real server. */
async function lateProxy(target: URL): Promise<{ port: number; open(): Promise<void>; close(): Promise<void> }> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  return {
    port,
    open: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
    },
  };
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('recognising an unreachable database', () => {
  it('tells a refused connection from a wrong statement', () => {
    expect(isDatabaseUnreachable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isDatabaseUnreachable({ driverError: { code: '57P03' } })).toBe(true);
    expect(isDatabaseUnreachable(Object.assign(new Error('relation "x" does not exist'), { code: '42P01' }))).toBe(false);
    expect(isDatabaseUnreachable(new Error('database "nope" does not exist'))).toBe(false);
  });
});

describe.skipIf(!pgUrl)('starting while PostgreSQL is unreachable', () => {
  it('waits for the database and then opens and migrates it', async () => {
    const target = new URL(pgUrl as string);
    const proxy = await lateProxy(target);
    cleanups.push(() => proxy.close());
    const schema = newSchemaName();
    cleanups.push(() => dropSchema(pgUrl as string, schema));
    const viaProxy = new URL(target.href);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const warnings: string[] = [];
    const logger = {
      warn: (_o: unknown, msg: string) => warnings.push(msg),
      info: () => undefined,
    } as unknown as import('pino').Logger;

    const started = Date.now();
    const opening = openDatabaseWhenReachable({ url: viaProxy.href, schema }, { waitMs: 20_000, logger, firstPauseMs: 100 });
    setTimeout(() => void proxy.open(), 1_200);
    const ds = await opening;
    cleanups.push(() => ds.destroy());

    expect(Date.now() - started).toBeGreaterThanOrEqual(1_100);
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    expect(warnings[0]).toBe('database unreachable; waiting for it');
    const [{ n }] = await ds.query('SELECT count(*)::int AS n FROM migrations');
    expect(n).toBeGreaterThan(0);
  });

  it('gives up when the database stays away past the wait', async () => {
    const proxy = await lateProxy(new URL(pgUrl as string));
    const url = `postgres://postgres@127.0.0.1:${proxy.port}/test`;
    const started = Date.now();
    await expect(openDatabaseWhenReachable({ url }, { waitMs: 800, firstPauseMs: 100 })).rejects.toThrow(/ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('fails at once when the database answers with a refusal that waiting cannot cure', async () => {
    const url = new URL(pgUrl as string);
    url.pathname = '/no_such_database_dmwsi';
    const started = Date.now();
    await expect(openDatabaseWhenReachable({ url: url.href }, { waitMs: 30_000, firstPauseMs: 100 })).rejects.toThrow(/does not exist/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
