/**
 * Bulk jobs: each task's place in its job (waves are ranges of it), when the
 * dispatcher released it, and a history of the job's own state changes.
 */
import { type MigrationInterface, type QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';

export class JobDispatch1763900200000 implements MigrationInterface {
  name = 'JobDispatch1763900200000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumns('task', [
      new TableColumn({ name: 'job_seq', type: 'integer', isNullable: true }),
      new TableColumn({ name: 'released_at', type: 'bigint', isNullable: true }),
    ]);
    await q.createIndex('task', new TableIndex({ name: 'ix_task_job_seq', columnNames: ['job_id', 'job_seq'] }));
    await q.addColumns('job', [
      new TableColumn({ name: 'history_seq', type: 'integer', default: 0 }),
      new TableColumn({ name: 'started_at', type: 'bigint', isNullable: true }),
    ]);
    await q.createTable(
      new Table({
        name: 'job_history',
        columns: [
          { name: 'job_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'seq', type: 'integer', isPrimary: true },
          { name: 'at', type: 'bigint' },
          { name: 'from_status', type: 'varchar', length: '32', isNullable: true },
          { name: 'to_status', type: 'varchar', length: '32' },
          { name: 'event', type: 'varchar', length: '64' },
          { name: 'detail', type: 'text', isNullable: true },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('job_history', true);
    await q.dropColumn('job', 'started_at');
    await q.dropColumn('job', 'history_seq');
    await q.dropIndex('task', 'ix_task_job_seq');
    await q.dropColumn('task', 'released_at');
    await q.dropColumn('task', 'job_seq');
  }
}
