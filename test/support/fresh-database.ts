/**
 * A fresh, migrated database for one test file: a SQLite file in a directory
 * of its own, or a PostgreSQL schema of its own on the shared server, so that
 * test files run in parallel without seeing each other's rows.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { openDatabase } from '../../src/persistence/data-source.js';
import { dropSchema, newSchemaName } from './postgres.js';

export interface FreshDatabase {
  ds: DataSource;
  /** Closes it and removes the file or the schema. */
  cleanup: () => Promise<void>;
}

/** `pgUrl`: the PostgreSQL server (postgresUrl()), needed for 'postgres'. */
export async function freshDatabase(kind: 'sqlite' | 'postgres', pgUrl?: string): Promise<FreshDatabase> {
  if (kind === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmwsi-db-'));
    const ds = await openDatabase({ url: `sqlite:${path.join(dir, 'db.sqlite')}` });
    return {
      ds,
      cleanup: async () => {
        await ds.destroy();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  if (!pgUrl) throw new Error('freshDatabase: no PostgreSQL URL');
  const schema = newSchemaName();
  const ds = await openDatabase({ url: pgUrl, schema });
  return {
    ds,
    cleanup: async () => {
      await ds.destroy();
      await dropSchema(pgUrl, schema);
    },
  };
}
