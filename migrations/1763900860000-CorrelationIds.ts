/**
 * The correlation id of the SOAP call that created a task or a job (logs
 * only): work picked up later, in another process or after a restart (a
 * device's final alert, a resumed rollout), is logged under it again.
 */
import { type MigrationInterface, type QueryRunner, TableColumn } from 'typeorm';

export class CorrelationIds1763900860000 implements MigrationInterface {
  name = 'CorrelationIds1763900860000';

  async up(q: QueryRunner): Promise<void> {
    for (const table of ['task', 'job']) {
      await q.addColumn(table, new TableColumn({ name: 'correlation_id', type: 'varchar', length: '64', isNullable: true }));
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['task', 'job']) await q.dropColumn(table, 'correlation_id');
  }
}
