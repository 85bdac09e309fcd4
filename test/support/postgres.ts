/**
 * PostgreSQL for the tests that run against both databases: TEST_DATABASE_URL,
 * or a server on 127.0.0.1:5432 (trust auth, database `test`) when one
 * answers. Each test gets its own schema, dropped afterwards.
 *
 * Outside CI, no PostgreSQL means the PostgreSQL half is skipped (and says so).
 * Under CI=true it is a failure: CI (.ci/run) starts one, so none answering
 * means every store query would go untested on PostgreSQL unnoticed.
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

/** Why `url` cannot be used (undefined: it answers a query). */
async function whyNot(url: string): Promise<string | undefined> {
  const at = new URL(url);
  if (!(await reachable(at.hostname, Number(at.port || 5432)))) return 'nothing answers there';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The URL without its password, for messages. */
const shown = (url: string): string => url.replace(/\/\/([^:@/]*):[^@]*@/, '//$1@');

let cached: Promise<string | undefined> | undefined;

/**
 * The PostgreSQL URL to test against, or undefined (tests then say they were
 * skipped); under CI=true it rejects instead of answering undefined.
 */
export function postgresUrl(): Promise<string | undefined> {
  cached ??= (async () => {
    const url = process.env.TEST_DATABASE_URL || LOCAL_URL;
    const problem = await whyNot(url);
    if (problem === undefined) return url;
    if (process.env.CI === 'true') {
      throw new Error(
        `CI=true and PostgreSQL is required for the store tests, but ${shown(url)} cannot be used: ${problem} ` +
          '(.ci/run starts one; or set TEST_DATABASE_URL)',
      );
    }
    return undefined;
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
  'PostgreSQL tests SKIPPED: no usable PostgreSQL at TEST_DATABASE_URL or 127.0.0.1:5432 (under CI=true this fails instead)';
