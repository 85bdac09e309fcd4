/**
 * Webhooks (issue 16, item 7): registrations, deliveries with their state,
 * and the cursors of the event pump over task_history and job_history.
 *
 * The pump reads history rows in commit order. On SQLite that is rowid order
 * (one writer at a time, so a row with a higher rowid never commits before a
 * lower one); nothing to add. On PostgreSQL a history row also records the
 * id of the transaction that wrote it (`tx`, filled by its default: no store
 * statement changes), and the pump reads only below the oldest transaction
 * still running in the database, so a long transaction cannot commit a row behind the
 * cursor. The column is added without rewriting the table (old rows keep
 * NULL: they are history from before webhooks and never events).
 */
import { type MigrationInterface, type QueryRunner, Table } from 'typeorm';

const HISTORIES = ['task_history', 'job_history'] as const;

export class Webhooks1763901607000 implements MigrationInterface {
  name = 'Webhooks1763901607000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'webhook',
        columns: [
          { name: 'webhook_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'url', type: 'varchar', length: '2048' },
          { name: 'events', type: 'text' },
          { name: 'secret', type: 'text' },
          { name: 'created_by', type: 'varchar', length: '64' },
          { name: 'created_at', type: 'bigint' },
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'webhook_delivery',
        columns: [
          { name: 'webhook_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'event_id', type: 'varchar', length: '160', isPrimary: true },
          { name: 'type', type: 'varchar', length: '32' },
          { name: 'body', type: 'text' },
          { name: 'state', type: 'varchar', length: '16' },
          { name: 'attempts', type: 'integer', default: 0 },
          { name: 'last_status', type: 'integer', isNullable: true },
          { name: 'last_error', type: 'varchar', length: '256', isNullable: true },
          { name: 'created_at', type: 'bigint' },
          { name: 'updated_at', type: 'bigint' },
          { name: 'delivered_at', type: 'bigint', isNullable: true },
        ],
        indices: [
          // The sweep (PENDING untouched since) and the pruning (finished before).
          { name: 'ix_webhook_delivery_state', columnNames: ['state', 'updated_at'] },
          // The console: newest first, of one webhook or of all.
          { name: 'ix_webhook_delivery_hook', columnNames: ['webhook_id', 'created_at'] },
          { name: 'ix_webhook_delivery_created', columnNames: ['created_at'] },
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'webhook_cursor',
        columns: [
          { name: 'stream', type: 'varchar', length: '16', isPrimary: true },
          { name: 'position', type: 'varchar', length: '256' },
        ],
      }),
    );
    if (q.connection.options.type === 'postgres') {
      for (const table of HISTORIES) {
        await q.query(`ALTER TABLE "${table}" ADD COLUMN "tx" xid8`);
        await q.query(`ALTER TABLE "${table}" ALTER COLUMN "tx" SET DEFAULT pg_current_xact_id()`);
        // On the transaction id alone: appended at the index's right edge, ~2 µs a row (a
        // (tx, id, seq) index cost ~20 µs a row and 58% more space, measured); rows of one
        // transaction are put in (id, seq) order by an incremental sort of that one group.
        await q.query(`CREATE INDEX "ix_${table}_tx" ON "${table}" ("tx")`);
      }
    }
  }

  async down(q: QueryRunner): Promise<void> {
    if (q.connection.options.type === 'postgres') {
      for (const table of HISTORIES) {
        await q.query(`DROP INDEX IF EXISTS "ix_${table}_tx"`);
        await q.query(`ALTER TABLE "${table}" DROP COLUMN IF EXISTS "tx"`);
      }
    }
    await q.dropTable('webhook_cursor', true);
    await q.dropTable('webhook_delivery', true);
    await q.dropTable('webhook', true);
  }
}
