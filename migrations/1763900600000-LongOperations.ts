/**
 * Long operations and device views (issue 14): the job counter of tasks
 * IN_PROGRESS, who caused a job event, where a model keeps its FUMO and
 * SCOMO MOs, a device's software inventory as last read, and the index that
 * pages a device's tasks newest first.
 */
import { type MigrationInterface, type QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';

export class LongOperations1763900600000 implements MigrationInterface {
  name = 'LongOperations1763900600000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('job', new TableColumn({ name: 'in_progress', type: 'integer', default: 0 }));
    await q.addColumn('job_history', new TableColumn({ name: 'by', type: 'varchar', length: '64', isNullable: true }));
    await q.addColumns('device_capability', [
      new TableColumn({ name: 'fumo_root', type: 'varchar', length: '255', isNullable: true }),
      new TableColumn({ name: 'scomo_root', type: 'varchar', length: '255', isNullable: true }),
    ]);
    await q.addColumn('device_instance', new TableColumn({ name: 'inventory_at', type: 'bigint', isNullable: true }));
    await q.createTable(
      new Table({
        name: 'device_component',
        columns: [
          { name: 'device_id', type: 'varchar', length: '128', isPrimary: true },
          { name: 'component_id', type: 'varchar', length: '255', isPrimary: true },
          { name: 'name', type: 'varchar', length: '255' },
          { name: 'version', type: 'varchar', length: '128' },
          { name: 'state', type: 'varchar', length: '16' },
        ],
      }),
    );
    await q.createIndex('task', new TableIndex({ name: 'ix_task_device_created', columnNames: ['device_id', 'created_at'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('task', 'ix_task_device_created');
    await q.dropTable('device_component', true);
    await q.dropColumn('device_instance', 'inventory_at');
    await q.dropColumn('device_capability', 'scomo_root');
    await q.dropColumn('device_capability', 'fumo_root');
    await q.dropColumn('job_history', 'by');
    await q.dropColumn('job', 'in_progress');
  }
}
