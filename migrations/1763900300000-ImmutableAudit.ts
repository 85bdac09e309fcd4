/**
 * The audit trail answers "who did what to which device, when": no API
 * changes it, and the database refuses UPDATE and DELETE on it too.
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ImmutableAudit1763900300000 implements MigrationInterface {
  name = 'ImmutableAudit1763900300000';

  async up(q: QueryRunner): Promise<void> {
    if (q.connection.options.type === 'postgres') {
      await q.query(`CREATE OR REPLACE FUNCTION dmwsi_audit_immutable() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION 'audit_log rows cannot be changed or removed'; END; $$ LANGUAGE plpgsql`);
      await q.query(`CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION dmwsi_audit_immutable()`);
      return;
    }
    await q.query(`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'audit_log rows cannot be changed'); END`);
    await q.query(`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'audit_log rows cannot be removed'); END`);
  }

  async down(q: QueryRunner): Promise<void> {
    if (q.connection.options.type === 'postgres') {
      await q.query('DROP TRIGGER IF EXISTS audit_log_immutable ON audit_log');
      await q.query('DROP FUNCTION IF EXISTS dmwsi_audit_immutable()');
      return;
    }
    await q.query('DROP TRIGGER IF EXISTS audit_log_no_update');
    await q.query('DROP TRIGGER IF EXISTS audit_log_no_delete');
  }
}
