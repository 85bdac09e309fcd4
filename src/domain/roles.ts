/**
 * Caller roles and what each may do (contract: admin all; bulk: bulk and the
 * device registry; care: single-device operations and reads; readonly: reads).
 */
export const ROLES = ['admin', 'bulk', 'care', 'readonly'] as const;
export type CallerRole = (typeof ROLES)[number];

/** The kinds of operation a role is granted; every operation declares one. */
export type Permission =
  | 'read' // any get*
  | 'registry-write' // create/update/delete/import devices and capabilities
  | 'device-operation' // doOperation, doBootstrap, cancelTask on one device
  | 'bulk-operation' // createDeployments, doBulkOperation, job control
  | 'content-write' // createContent, deleteContent, package uploads (PUT /content)
  | 'webhooks' // createWebhook, getWebhooks, deleteWebhook (admin only: they send data outside)
  | 'session'; // login/logout

const GRANTS: Record<CallerRole, ReadonlySet<Permission>> = {
  admin: new Set(['read', 'registry-write', 'device-operation', 'bulk-operation', 'content-write', 'webhooks', 'session']),
  bulk: new Set(['read', 'registry-write', 'device-operation', 'bulk-operation', 'content-write', 'session']),
  care: new Set(['read', 'device-operation', 'session']),
  readonly: new Set(['read', 'session']),
};

export function isRole(value: string): value is CallerRole {
  return (ROLES as readonly string[]).includes(value);
}

export function roleAllows(role: CallerRole, permission: Permission): boolean {
  return GRANTS[role].has(permission);
}

export interface Caller {
  username: string;
  role: CallerRole;
}
