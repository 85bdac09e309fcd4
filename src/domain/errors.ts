/**
 * The one error-code table of the gateway (the contract's fault codes).
 * Domain code throws DmwsiError with a code; only the SOAP layer turns a code
 * into a Fault, in one place (src/wsi/faults.ts).
 */
export const ERROR_CODES = [
  'AuthenticationFailed',
  'NotAuthorized',
  'InvalidArgument',
  'NotFound',
  'AlreadyExists',
  'InvalidState',
  'NotImplemented',
  'Overloaded',
  'Internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Whether the caller (Client) or the gateway (Server) is at fault. */
export const FAULT_SIDE: Record<ErrorCode, 'Client' | 'Server'> = {
  AuthenticationFailed: 'Client',
  NotAuthorized: 'Client',
  InvalidArgument: 'Client',
  NotFound: 'Client',
  AlreadyExists: 'Client',
  InvalidState: 'Client',
  NotImplemented: 'Server',
  Overloaded: 'Server',
  Internal: 'Server',
};

export class DmwsiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Which input field was wrong, where one was. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DmwsiError';
  }
}

export const invalidArgument = (field: string, message: string): DmwsiError =>
  new DmwsiError('InvalidArgument', `${field}: ${message}`, field);

export const notFound = (what: string, id: string): DmwsiError =>
  new DmwsiError('NotFound', `${what} "${id}" does not exist`);

export const alreadyExists = (what: string, id: string): DmwsiError =>
  new DmwsiError('AlreadyExists', `${what} "${id}" already exists`);
