/**
 * Tasks waiting for their device are looked at again when they stop moving
 * (TaskStore.stalled, run every few seconds by the worker processes): an
 * index on (status, updated_at) keeps that a range scan over open tasks.
 */
import { type MigrationInterface, type QueryRunner, TableIndex } from 'typeorm';

export class TaskRetry1763900400000 implements MigrationInterface {
  name = 'TaskRetry1763900400000';

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex('task', new TableIndex({ name: 'ix_task_status_updated', columnNames: ['status', 'updated_at'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('task', 'ix_task_status_updated');
  }
}
