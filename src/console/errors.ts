/**
 * How a refusal or failure reaches a console user: an HTTP status and a plain
 * sentence, never a stack. The gateway's error codes map here once, as they
 * map to SOAP faults in src/wsi/faults.ts.
 */
import { DmwsiError, type ErrorCode } from '../domain/errors.js';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  AuthenticationFailed: 401,
  NotAuthorized: 403,
  InvalidArgument: 400,
  NotFound: 404,
  AlreadyExists: 409,
  InvalidState: 409,
  NotImplemented: 501,
  Overloaded: 503,
  Internal: 500,
};

const TITLES: Record<ErrorCode, string> = {
  AuthenticationFailed: 'Sign-in refused',
  NotAuthorized: 'Not allowed',
  InvalidArgument: 'Not accepted',
  NotFound: 'Not found',
  AlreadyExists: 'Already exists',
  InvalidState: 'Not possible now',
  NotImplemented: 'Not available',
  Overloaded: 'Busy',
  Internal: 'Something went wrong',
};

export interface ConsoleProblem {
  code: ErrorCode;
  status: number;
  title: string;
  message: string;
}

/** A DmwsiError keeps its message; anything else is Internal with a generic one (the details go to the log). */
export function problemOf(err: unknown): ConsoleProblem {
  if (err instanceof DmwsiError) {
    return { code: err.code, status: HTTP_STATUS[err.code], title: TITLES[err.code], message: err.message };
  }
  return { code: 'Internal', status: 500, title: TITLES.Internal, message: 'internal error; the gateway logged the details' };
}

export function problem(code: ErrorCode, message: string): ConsoleProblem {
  return { code, status: HTTP_STATUS[code], title: TITLES[code], message };
}
