/** The PostgreSQL half of the store tests may be skipped on a developer's machine, never in CI. */
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';

const saved = { CI: process.env.CI, TEST_DATABASE_URL: process.env.TEST_DATABASE_URL };

afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

/** A port that was free a moment ago: nothing answers there. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** A fresh copy of the helper (it remembers its answer per test process). */
async function freshPostgresUrl(): Promise<string | undefined> {
  vi.resetModules();
  const { postgresUrl } = await import('../support/postgres.js');
  return postgresUrl();
}

describe('PostgreSQL for the store tests', () => {
  it('fails under CI=true when no PostgreSQL answers, naming where it looked', async () => {
    const port = await closedPort();
    process.env.CI = 'true';
    process.env.TEST_DATABASE_URL = `postgres://postgres:hidden@127.0.0.1:${port}/test`;
    const found = freshPostgresUrl();
    await expect(found).rejects.toThrow(`CI=true and PostgreSQL is required for the store tests, but postgres://postgres@127.0.0.1:${port}/test`);
    await expect(found).rejects.not.toThrow(/hidden/);
  });

  it('skips outside CI when no PostgreSQL answers', async () => {
    const port = await closedPort();
    delete process.env.CI;
    process.env.TEST_DATABASE_URL = `postgres://postgres@127.0.0.1:${port}/test`;
    expect(await freshPostgresUrl()).toBeUndefined();
  });
});
