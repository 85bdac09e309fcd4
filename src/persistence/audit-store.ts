/** The audit trail: appended only; nothing in the gateway updates or deletes a row. */
import type { EntityManager } from 'typeorm';
import type { AuditEntry, AuditTrail } from '../services/ports.js';
import { AuditEntity } from './entities.js';

export class TypeormAuditTrail implements AuditTrail {
  constructor(private readonly em: EntityManager) {}

  async record(entry: AuditEntry, at: number): Promise<void> {
    await this.em.getRepository(AuditEntity).insert({
      at,
      caller: entry.caller.slice(0, 64),
      operation: entry.operation.slice(0, 64),
      target: entry.target?.slice(0, 256) ?? null,
      outcome: entry.outcome.slice(0, 32),
      detail: entry.detail ?? null,
    });
  }
}
