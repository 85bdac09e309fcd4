/**
 * The exit codes of `dmwsi`, in one place, so scripts can rely on them (the
 * README's "Command line" section lists the same table). A DmwsiFault code
 * from the gateway maps to exactly one exit code.
 */
import type { ErrorCode } from '../domain/errors.js';

export const EXIT = {
  /** The command did what it was asked. */
  ok: 0,
  /** Bad command line or configuration (unknown option, missing argument, no password given). */
  usage: 1,
  /** Sign-in refused, or the user's role may not do this. */
  auth: 2,
  /** The device, job, task or user does not exist. */
  notFound: 3,
  /** The gateway refused the input or the object's state (InvalidArgument, AlreadyExists, InvalidState). */
  invalid: 4,
  /** The gateway could not be reached or failed (Internal, Overloaded, NotImplemented, network). */
  server: 5,
  /** The work ran to its end but not all of it succeeded (a job with errors or cancelled, rejected import rows). */
  partial: 6,
} as const;

/** For `dmwsi --help`. */
export const EXIT_CODES_HELP = `Exit codes:
  0  done (job watch: the job ended COMPLETED)
  1  usage or configuration error, no password given
  2  sign-in refused, or the role may not do it
  3  no such device, job, task or user
  4  input or state refused (InvalidArgument, AlreadyExists, InvalidState)
  5  gateway unreachable or failing
  6  ran to its end, not all succeeded (job with errors or cancelled, rejected import rows)
  130 interrupted`;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const BY_FAULT: Record<ErrorCode, ExitCode> = {
  AuthenticationFailed: EXIT.auth,
  NotAuthorized: EXIT.auth,
  NotFound: EXIT.notFound,
  InvalidArgument: EXIT.invalid,
  AlreadyExists: EXIT.invalid,
  InvalidState: EXIT.invalid,
  NotImplemented: EXIT.server,
  Overloaded: EXIT.server,
  Internal: EXIT.server,
};

export function exitCodeOfFault(code: ErrorCode): ExitCode {
  return BY_FAULT[code];
}

/** An error the CLI reports as one line and an exit code, never a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
