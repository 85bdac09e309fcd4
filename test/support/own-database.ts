/**
 * A PostgreSQL database of a test's own on the shared server (created once,
 * kept: each test still uses its own schema in it). The webhook event pump
 * waits for every transaction still running in its database, so tests that
 * share the database `test` with long transactions of other suites would wait
 * for them; in a database of their own they wait only for their own.
 */
import pg from 'pg';

export async function ownDatabase(url: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE "${name}"`).catch((err: { code?: string }) => {
        // Another test file created it meanwhile.
        if (err.code !== '42P04' && err.code !== '23505') throw err;
      });
    }
  } finally {
    await client.end();
  }
  const own = new URL(url);
  own.pathname = `/${name}`;
  return own.toString();
}
