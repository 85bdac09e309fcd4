/**
 * The single operations the console offers and how a submitted form becomes
 * an OperationDefinition. The broker validates the result exactly as it
 * validates doOperation's (URIs, verbs, values).
 */
import { invalidArgument } from '../domain/errors.js';
import type { OperationDefinition } from '../domain/tasks.js';

export const SINGLE_OPERATIONS = [
  { name: 'QUERY', hint: 'read a node (Get)' },
  { name: 'UPDATE', hint: 'set a node (Replace)' },
  { name: 'EXEC', hint: 'execute a node (Exec)' },
  { name: 'DELETE', hint: 'delete a node (Delete)' },
] as const;
export type SingleOperationName = (typeof SINGLE_OPERATIONS)[number]['name'];

const VERB = { QUERY: 'Get', UPDATE: 'Replace', EXEC: 'Exec', DELETE: 'Delete' } as const;

function field(body: Record<string, unknown>, name: string): string {
  const v = body[name];
  return typeof v === 'string' ? v.trim() : '';
}

export function operationFromForm(body: Record<string, unknown>): OperationDefinition {
  const name = field(body, 'name');
  const op = SINGLE_OPERATIONS.find((o) => o.name === name);
  if (!op) throw invalidArgument('operation', `choose one of ${SINGLE_OPERATIONS.map((o) => o.name).join(', ')}`);
  const uri = field(body, 'uri');
  if (!uri) throw invalidArgument('uri', 'give the node URI, e.g. ./DevInfo/Mod');
  const value = typeof body.value === 'string' ? body.value : '';
  const command =
    op.name === 'UPDATE' ? { verb: VERB.UPDATE, uri, value, format: 'chr' } : { verb: VERB[op.name], uri };
  return { name: op.name, commands: [command] };
}
