/** How the SOAP endpoint calls an operation: typed context in, result fields out. */
import type { Caller } from '../../domain/roles.js';
import type { CallContext } from '../../services/ports.js';

export interface OperationContext {
  /** undefined only for login. */
  caller: Caller | undefined;
  operation: string;
  /** The userSession the call carried ('' when WS-Security authenticated it). */
  userSession: string;
  /** The WS-Addressing MessageID the call carried: the same one again marks a retry. */
  messageId: string | undefined;
  /** The call's correlation id (X-Correlation-Id, or made for it): stored with the work it creates. */
  correlationId?: string;
}

/** Receives the decoded, validated input fields; returns the output fields by name. */
export type OperationHandler = (
  ctx: OperationContext,
  args: Record<string, unknown>,
) => Promise<Record<string, unknown>>;

export type OperationHandlers = Record<string, OperationHandler>;

export function callerName(ctx: OperationContext): string {
  return ctx.caller?.username ?? 'anonymous';
}

/** Who calls which operation, and the MessageID that marks a retry, as the services take it. */
export function callContext(ctx: OperationContext): CallContext {
  return {
    caller: callerName(ctx),
    operation: ctx.operation,
    ...(ctx.messageId ? { messageId: ctx.messageId } : {}),
    ...(ctx.correlationId ? { correlationId: ctx.correlationId } : {}),
  };
}
