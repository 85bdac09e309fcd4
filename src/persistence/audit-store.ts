/** The audit trail: appended only; nothing in the gateway updates or deletes a row. */
import type { EntityManager } from 'typeorm';
import type { AuditEntry, AuditTrail } from '../services/ports.js';
import { execute, sql } from './raw-sql.js';

// Plain SQL rather than repository.insert: every audited call writes one row,
// and the query builder cost more CPU than the insert itself (see raw-sql.ts).
const INSERT_AUDIT = sql(
  'INSERT INTO "audit_log" ("at", "caller", "operation", "target", "outcome", "detail") VALUES (?, ?, ?, ?, ?, ?)',
);

export class TypeormAuditTrail implements AuditTrail {
  constructor(private readonly em: EntityManager) {}

  async record(entry: AuditEntry, at: number): Promise<void> {
    await execute(this.em, INSERT_AUDIT, [
      at,
      entry.caller.slice(0, 64),
      entry.operation.slice(0, 64),
      entry.target?.slice(0, 256) ?? null,
      entry.outcome.slice(0, 32),
      entry.detail ?? null,
    ]);
  }
}
