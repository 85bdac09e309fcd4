/**
 * Opens the database named by DATABASE_URL: `sqlite:<file>` (better-sqlite3,
 * WAL mode; the embedded default) or `postgres://...` (PostgreSQL, for scale).
 * Migrations always run at start; the schema is never synchronised.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { MIGRATIONS } from '../../migrations/index.js';
import { isDatabaseUnreachable } from './db-errors.js';
import { ALL_ENTITIES } from './entities.js';

export type DatabaseKind = 'sqlite' | 'postgres';

export interface DatabaseOptions {
  url: string;
  /** PostgreSQL schema to use (tests give each run its own). */
  schema?: string;
  poolSize?: number;
  /** SQLite's page cache, MiB (SQLITE_CACHE_MIB); better-sqlite3's build default (16 MB) when omitted. */
  sqliteCacheMib?: number;
}

export function databaseKind(url: string): DatabaseKind {
  return url.startsWith('sqlite:') ? 'sqlite' : 'postgres';
}

function sqliteFile(url: string): string {
  const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  return file === ':memory:' ? file : path.resolve(file);
}

export function createDataSource(opts: DatabaseOptions): DataSource {
  if (databaseKind(opts.url) === 'sqlite') {
    const file = sqliteFile(opts.url);
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    return new DataSource({
      type: 'better-sqlite3',
      database: file,
      entities: ALL_ENTITIES,
      migrations: MIGRATIONS,
      migrationsTransactionMode: 'each',
      enableWAL: true,
      // Several processes (api, dm, worker) may share the file: wait for locks
      // rather than failing at once.
      timeout: 10_000,
      statementCacheSize: 500,
      prepareDatabase: (db: { pragma(s: string): unknown }) => {
        db.pragma('synchronous = NORMAL');
        db.pragma('foreign_keys = ON');
        // Negative: a size in KiB, not pages. A rollout reads and rewrites rows all over a file of
        // hundreds of MB (100,000 devices: 246 MB); with better-sqlite3's 16 MB default most were a
        // read(2) and a copy from the OS page cache, on the one thread that serves everything.
        if (opts.sqliteCacheMib !== undefined) db.pragma(`cache_size = -${opts.sqliteCacheMib * 1024}`);
      },
    });
  }
  return new DataSource({
    type: 'postgres',
    url: opts.url,
    // search_path too, so that raw SQL sees the same schema as the entities.
    ...(opts.schema ? { schema: opts.schema, extra: { options: `-c search_path="${opts.schema}"` } } : {}),
    entities: ALL_ENTITIES,
    migrations: MIGRATIONS,
    migrationsTransactionMode: 'each',
    poolSize: opts.poolSize ?? 10,
    applicationName: 'dmwsi-gateway',
  });
}

export interface WaitOptions {
  /** Give up after this long (0: one attempt). */
  waitMs: number;
  logger?: Logger;
  /** Tests shorten the pauses. */
  firstPauseMs?: number;
}

/**
 * openDatabase, retried while the database cannot be reached: a process
 * restarted during a database outage (or started before the database, as
 * containers often are) waits for it instead of exiting and being restarted
 * in a loop. Any other failure (bad credentials, a failing migration) ends
 * the wait at once.
 */
export async function openDatabaseWhenReachable(opts: DatabaseOptions, wait: WaitOptions): Promise<DataSource> {
  const giveUpAt = Date.now() + wait.waitMs;
  let pauseMs = wait.firstPauseMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      const ds = await openDatabase(opts);
      if (attempt > 1) wait.logger?.info({ attempts: attempt }, 'database reachable; started');
      return ds;
    } catch (err) {
      if (!isDatabaseUnreachable(err) || Date.now() + pauseMs > giveUpAt) throw err;
      wait.logger?.warn(
        { err: (err as Error).message, attempt, retryInMs: pauseMs, giveUpInMs: giveUpAt - Date.now() },
        'database unreachable; waiting for it',
      );
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      pauseMs = Math.min(pauseMs * 2, 5_000);
    }
  }
}

/** Connects and brings the schema up to date. */
export async function openDatabase(opts: DatabaseOptions): Promise<DataSource> {
  if (opts.schema && databaseKind(opts.url) === 'postgres') {
    // The schema must exist before TypeORM's migration table is created in it.
    const bootstrap = new DataSource({ type: 'postgres', url: opts.url });
    await bootstrap.initialize();
    try {
      await bootstrap.query(`CREATE SCHEMA IF NOT EXISTS "${opts.schema.replace(/"/g, '')}"`);
    } finally {
      await bootstrap.destroy();
    }
  }
  const ds = createDataSource(opts);
  await ds.initialize();
  try {
    await ds.runMigrations({ transaction: 'each' });
  } catch (err) {
    // Not left half-open: a caller that retries opens a fresh one.
    await ds.destroy().catch(() => undefined);
    throw err;
  }
  return ds;
}
