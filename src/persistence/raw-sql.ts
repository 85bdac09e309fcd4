/**
 * Hand-written SQL for the few statements on the SOAP hot path (capability
 * lookup, device insert and select, audit insert). TypeORM's query builder
 * spent ~24% of the gateway's CPU on createDeviceInstance building the same
 * four statements over and over (InsertQueryBuilder, property-name
 * replacement, parameter escaping); these run through the same query runner
 * (so the same transaction, the same prepared-statement cache on SQLite and
 * the same QueryFailedError for constraint violations) with text written once.
 *
 * Statements are written with `?` placeholders and rewritten once to `$1..$n`
 * for PostgreSQL. Identifiers are double-quoted (both dialects); tables are
 * unqualified (PostgreSQL sets search_path to the schema, see data-source.ts).
 */
import type { EntityManager } from 'typeorm';

export interface Statement {
  readonly sqlite: string;
  readonly postgres: string;
}

/** A statement in both dialects; `?` marks each parameter (no `?` may appear in literals). */
export function sql(text: string): Statement {
  let n = 0;
  return { sqlite: text, postgres: text.replace(/\?/g, () => `$${++n}`) };
}

const isPostgres = (em: EntityManager) => em.dataSource.options.type === 'postgres';

/** Rows of a SELECT. */
export function queryRows<T>(em: EntityManager, s: Statement, params: unknown[]): Promise<T[]> {
  return em.query(isPostgres(em) ? s.postgres : s.sqlite, params) as Promise<T[]>;
}

/** Runs a statement whose result is not needed (INSERT without RETURNING). */
export async function execute(em: EntityManager, s: Statement, params: unknown[]): Promise<void> {
  await em.query(isPostgres(em) ? s.postgres : s.sqlite, params);
}

/** PostgreSQL returns bigint columns as strings. */
export function epoch(v: string | number): number;
export function epoch(v: string | number | null): number | null;
export function epoch(v: string | number | null): number | null {
  return v === null ? null : Number(v);
}
