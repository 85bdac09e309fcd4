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

/** Socket-level failures and PostgreSQL's "not now" answers: the database may be back soon. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P03', // cannot_connect_now (starting up, recovering)
  '53300', // too_many_connections
  'SQLITE_BUSY', // another process holds the file (e.g. migrating it)
]);

/** True when the error says the database could not be reached, rather than that a statement was wrong. */
export function isDatabaseUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
    if (typeof message === 'string' && /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect/i.test(message)) return true;
    e = (e as { driverError?: unknown; cause?: unknown }).driverError ?? (e as { cause?: unknown }).cause;
  }
  return false;
}
