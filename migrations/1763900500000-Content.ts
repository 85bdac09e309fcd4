/**
 * Content records (firmware images, software components) and the package a
 * task delivers: task.content_id, indexed with status so that "is this
 * content used by an open task" (deleteContent) is an index range read.
 */
import { type MigrationInterface, type QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';

export class Content1763900500000 implements MigrationInterface {
  name = 'Content1763900500000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'content',
        columns: [
          { name: 'content_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'name', type: 'varchar', length: '128' },
          { name: 'version', type: 'varchar', length: '64' },
          { name: 'kind', type: 'varchar', length: '16' },
          { name: 'sha256', type: 'varchar', length: '64' },
          { name: 'size', type: 'bigint' },
          { name: 'url', type: 'varchar', length: '2048', isNullable: true },
          { name: 'capability_oids', type: 'text' },
          { name: 'state', type: 'varchar', length: '16' },
          { name: 'created_by', type: 'varchar', length: '64' },
          { name: 'created_at', type: 'bigint' },
          { name: 'updated_at', type: 'bigint' },
        ],
        indices: [{ name: 'ix_content_created', columnNames: ['created_at'] }],
      }),
    );
    await q.addColumn('task', new TableColumn({ name: 'content_id', type: 'varchar', length: '64', isNullable: true }));
    await q.createIndex('task', new TableIndex({ name: 'ix_task_content', columnNames: ['content_id', 'status'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('task', 'ix_task_content');
    await q.dropColumn('task', 'content_id');
    await q.dropTable('content', true);
  }
}
