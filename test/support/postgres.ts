/**
 * PostgreSQL for the tests that run against both databases: TEST_DATABASE_URL,
 * or a server on 127.0.0.1:5432 (trust auth, database `test`) when one
 * answers. Each test gets its own schema, dropped afterwards.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import pg from 'pg';

const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/test';

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(500, () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(false));
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
  });
}

let cached: Promise<string | undefined> | undefined;

/** The PostgreSQL URL to test against, or undefined (tests then say they were skipped). */
export function postgresUrl(): Promise<string | undefined> {
  cached ??= (async () => {
    if (process.env.TEST_DATABASE_URL) return process.env.TEST_DATABASE_URL;
    if (!(await reachable('127.0.0.1', 5432))) return undefined;
    const client = new pg.Client({ connectionString: LOCAL_URL });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return LOCAL_URL;
    } catch {
      return undefined;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return cached;
}

export function newSchemaName(): string {
  return `t_${crypto.randomBytes(6).toString('hex')}`;
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

export const POSTGRES_SKIP_MESSAGE =
  'PostgreSQL tests SKIPPED: no TEST_DATABASE_URL and nothing answers on 127.0.0.1:5432';
