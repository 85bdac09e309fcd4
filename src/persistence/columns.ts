/**
 * Portable column helpers: the same schema must work on SQLite and PostgreSQL,
 * so times are epoch milliseconds in bigint columns (PostgreSQL returns bigint
 * as a string; the transformer turns it back into a number).
 */
import type { EntitySchemaColumnOptions, ValueTransformer } from 'typeorm';

const bigintAsNumber: ValueTransformer = {
  to: (v: number | null | undefined) => v,
  from: (v: string | number | null) => (v === null || v === undefined ? v : Number(v)),
};

export const epochMs = (nullable = false): EntitySchemaColumnOptions => ({
  type: 'bigint',
  nullable,
  transformer: bigintAsNumber,
});

export const varchar = (length: number, nullable = false): EntitySchemaColumnOptions => ({
  type: 'varchar',
  length,
  nullable,
});

export const text = (nullable = false): EntitySchemaColumnOptions => ({ type: 'text', nullable });

export const int = (nullable = false, fallback?: number): EntitySchemaColumnOptions => ({
  type: 'integer',
  nullable,
  ...(fallback === undefined ? {} : { default: fallback }),
});

export const bool = (fallback: boolean): EntitySchemaColumnOptions => ({ type: 'boolean', default: fallback });
