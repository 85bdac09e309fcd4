/**
 * Jobs whose targets are a filter over the registry (DeploymentOptions.targetFilter):
 * where the writing of their tasks stands. Tasks are written in chunks of
 * device ids, each chunk's tasks and this row's cursor in one transaction, so
 * a process that dies mid-way leaves a cursor that any other process resumes
 * from, with no task written twice and none left out.
 */
import { type MigrationInterface, type QueryRunner, Table, TableIndex } from 'typeorm';

export class JobExpansion1763901500000 implements MigrationInterface {
  name = 'JobExpansion1763901500000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'job_expansion',
        columns: [
          { name: 'job_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'filter', type: 'text' },
          // The last device id whose range has been written ('' before the first chunk).
          { name: 'after_device_id', type: 'varchar', length: '128', default: "''" },
          { name: 'next_seq', type: 'integer', default: 1 },
          { name: 'deadline', type: 'bigint' },
          { name: 'done', type: 'integer', default: 0 },
          { name: 'updated_at', type: 'bigint' },
        ],
      }),
    );
    await q.createIndex('job_expansion', new TableIndex({ name: 'ix_job_expansion_open', columnNames: ['done', 'updated_at'] }));
    await q.createIndex('task', new TableIndex({ name: 'ix_task_job_release', columnNames: ['job_id', 'status', 'released_at', 'job_seq'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('task', 'ix_task_job_release');
    await q.dropTable('job_expansion', true);
  }
}
