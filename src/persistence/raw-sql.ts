/**
 * Hand-written SQL for the few statements on the SOAP hot path (capability
 * lookup, device insert and select, audit insert). TypeORM's query builder
 * spent ~24% of the gateway's CPU on createDeviceInstance building the same
 * four statements over and over (InsertQueryBuilder, property-name
 * replacement, parameter escaping).
 *
 * On PostgreSQL a statement runs on the unit of work's connection when the
 * entity manager is bound to a query runner (its transaction), otherwise on
 * the pool, as a named prepared statement (see `onPostgres`). On SQLite it runs as a prepared
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
import { type EntityManager, QueryFailedError, QueryRunnerAlreadyReleasedError } from 'typeorm';

interface SqliteStatement {
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): unknown;
}

interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
}

let statementsNamed = 0;

export class Statement {
  readonly postgres: string;
  /** Its name as a PostgreSQL prepared statement: unique in the process, the same on every connection. */
  readonly pgName = `dmwsi_${(++statementsNamed).toString(36)}`;
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

/** PostgreSQL: `unnest(CAST(? AS t[]), …)`, one array parameter per element type, in their order. */
export function unnestArrays(types: readonly string[]): string {
  return `unnest(${types.map((t) => `CAST(? AS ${t}[])`).join(', ')})`;
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

interface PgResult {
  rows: unknown[];
}

/** What pg's Pool and pooled Client have in common. */
interface PgQueryable {
  query(config: { name?: string; text: string; values: unknown[] }): Promise<PgResult>;
}

interface PgQueryRunner {
  isReleased: boolean;
  connect(): Promise<PgQueryable>;
}

/**
 * Whether hot statements go to PostgreSQL as named prepared statements
 * (DATABASE_PREPARED_STATEMENTS, default on; read once). Parsed and planned
 * once per connection instead of per call: on a split rollout each dm
 * process sends ~12 statements per DM message, and the server's parse and
 * plan of each was a share of PostgreSQL's CPU. Off for a pooler that does
 * not keep a session's prepared statements (PgBouncer in transaction mode
 * before 1.21 or without max_prepared_statements).
 */
const PREPARED = process.env.DATABASE_PREPARED_STATEMENTS !== 'false';

/**
 * Runs a statement on PostgreSQL with pg directly, skipping TypeORM's query
 * runner (per-statement logging, subscriber broadcasts, a pool connection
 * taken and given back through its own promise chain): on a split rollout
 * that wrapper was ~15% of a dm process's CPU. A manager bound to a query
 * runner (a unit of work's transaction) runs it on that runner's connection;
 * any other on the pool, as TypeORM would. Always the rows, whatever the
 * command: TypeORM answered an UPDATE or DELETE with [rows, rowCount], which
 * made `UPDATE … RETURNING` read as two rows.
 */
async function onPostgres(em: EntityManager, s: Statement, params: unknown[]): Promise<unknown[]> {
  const runner = em.queryRunner as unknown as PgQueryRunner | undefined;
  // As TypeORM's own query(): a released runner's connection is back in the pool, maybe in another unit's hands.
  if (runner?.isReleased) throw new QueryRunnerAlreadyReleasedError();
  const target: PgQueryable = runner
    ? await runner.connect()
    : (em.dataSource.driver as unknown as { master: PgQueryable }).master;
  try {
    const r = await target.query(PREPARED ? { name: s.pgName, text: s.postgres, values: params } : { text: s.postgres, values: params });
    return r.rows;
  } catch (err) {
    throw new QueryFailedError(s.postgres, params, err as Error);
  }
}

/** Rows of a SELECT (or of a statement's RETURNING). */
export async function queryRows<T>(em: EntityManager, s: Statement, params: unknown[]): Promise<T[]> {
  const db = sqliteConnection(em);
  if (db) return onSqlite<T[]>(db, s, params, true);
  return (await onPostgres(em, s, params)) as T[];
}

/** Runs a statement whose result is not needed (INSERT without RETURNING). */
export async function execute(em: EntityManager, s: Statement, params: unknown[]): Promise<void> {
  const db = sqliteConnection(em);
  if (db) onSqlite<unknown>(db, s, params, false);
  else await onPostgres(em, s, params);
}

/** PostgreSQL returns bigint columns as strings. */
export function epoch(v: string | number): number;
export function epoch(v: string | number | null): number | null;
export function epoch(v: string | number | null): number | null {
  return v === null ? null : Number(v);
}
