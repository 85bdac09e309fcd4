/**
 * Hand-written SQL for the few statements on the SOAP hot path (capability
 * lookup, device insert and select, audit insert). TypeORM's query builder
 * spent ~24% of the gateway's CPU on createDeviceInstance building the same
 * four statements over and over (InsertQueryBuilder, property-name
 * replacement, parameter escaping).
 *
 * On PostgreSQL a statement goes through the entity manager's query runner
 * (so the unit of work's transaction). On SQLite it runs as a prepared
 * better-sqlite3 statement on the driver's one connection: that connection
 * is the one TypeORM's transaction was begun on, and the turn queue
 * (transactor.ts) guarantees no other unit of work is open, so the statement
 * joins the right transaction, or none. This skips the query runner's
 * per-statement logging, subscriber broadcasts and promise chain: ~3 µs
 * instead of ~5.5 µs a statement, and a createDeviceInstance runs five (three
 * plus its group-commit savepoint and release).
 * Either way a failure is a QueryFailedError carrying the driver's error, as
 * from TypeORM (db-errors.ts reads it).
 *
 * Statements are written with `?` placeholders and rewritten once to `$1..$n`
 * for PostgreSQL. Identifiers are double-quoted (both dialects); tables are
 * unqualified (PostgreSQL sets search_path to the schema, see data-source.ts).
 * Parameters must be strings, numbers or null.
 */
import { type EntityManager, QueryFailedError } from 'typeorm';

interface SqliteStatement {
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): unknown;
}

interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
}

export class Statement {
  readonly postgres: string;
  /** Prepared once per SQLite connection (tests open several databases in one process). */
  private readonly prepared = new WeakMap<SqliteConnection, SqliteStatement>();

  constructor(readonly sqlite: string) {
    let n = 0;
    this.postgres = sqlite.replace(/\?/g, () => `$${++n}`);
  }

  preparedOn(db: SqliteConnection): SqliteStatement {
    let stmt = this.prepared.get(db);
    if (!stmt) {
      stmt = db.prepare(this.sqlite);
      this.prepared.set(db, stmt);
    }
    return stmt;
  }
}

/** A statement in both dialects; `?` marks each parameter (no `?` may appear in literals). */
export function sql(text: string): Statement {
  return new Statement(text);
}

function sqliteConnection(em: EntityManager): SqliteConnection | undefined {
  if (em.dataSource.options.type !== 'better-sqlite3') return undefined;
  return (em.dataSource.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection;
}

function onSqlite<T>(db: SqliteConnection, s: Statement, params: unknown[], read: boolean): T {
  try {
    const stmt = s.preparedOn(db);
    return (read ? stmt.all(...params) : stmt.run(...params)) as T;
  } catch (err) {
    throw new QueryFailedError(s.sqlite, params, err as Error);
  }
}

/** Rows of a SELECT. */
export async function queryRows<T>(em: EntityManager, s: Statement, params: unknown[]): Promise<T[]> {
  const db = sqliteConnection(em);
  if (db) return onSqlite<T[]>(db, s, params, true);
  return (await em.query(s.postgres, params)) as T[];
}

/** Runs a statement whose result is not needed (INSERT without RETURNING). */
export async function execute(em: EntityManager, s: Statement, params: unknown[]): Promise<void> {
  const db = sqliteConnection(em);
  if (db) onSqlite<unknown>(db, s, params, false);
  else await em.query(s.postgres, params);
}

/** PostgreSQL returns bigint columns as strings. */
export function epoch(v: string | number): number;
export function epoch(v: string | number | null): number | null;
export function epoch(v: string | number | null): number | null {
  return v === null ? null : Number(v);
}
