/** Recognises constraint violations across SQLite and PostgreSQL. */
import { QueryFailedError } from 'typeorm';

interface DriverError {
  code?: string;
  constraint?: string;
  message?: string;
}

function driverError(err: unknown): DriverError | undefined {
  if (err instanceof QueryFailedError) return err.driverError as DriverError;
  return undefined;
}

/** The violated unique constraint or column, or undefined when not a unique violation. */
export function uniqueViolation(err: unknown): string | undefined {
  const d = driverError(err);
  if (!d) return undefined;
  if (d.code === '23505') return d.constraint ?? 'unique';
  if (d.code === 'SQLITE_CONSTRAINT_UNIQUE' || d.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return /failed: (.*)$/.exec(d.message ?? '')?.[1] ?? 'unique';
  }
  return undefined;
}
