/**
 * Cheaper row updates on PostgreSQL's two hottest tables during a rollout.
 *
 * - device_instance gets free room on each page (fillfactor 75). Every DM
 *   session writes the device's contact (last contact, state, nonces,
 *   DevInfo), and none of those columns is indexed, so with room on the page
 *   PostgreSQL updates the row in place (a HOT update: no new entry in any of
 *   its three indexes). A table filled by an import has no room, so a
 *   contact write that found none moved the row to another page and wrote
 *   all three indexes. Rows written before this migration keep their pages until a
 *   VACUUM FULL or pg_repack; new and moved rows get the room.
 * - A task's status is indexed, so every move writes each of the task's
 *   indexes; two of them need not be written by most moves:
 *   ix_task_job_status (job_id, status) goes, as ix_task_job_release (job_id,
 *   status, released_at, job_seq) starts with the same two columns and serves
 *   every query that used it; ix_task_content (content_id, status) keeps only
 *   tasks that deliver a package (content_id set), the only ones its one
 *   query (`content_id = ?`, which implies NOT NULL on both databases) asks
 *   for, so the moves of every other task no longer write it.
 *
 * The indexes change on both databases (one set of migrations); the
 * fillfactor is PostgreSQL's alone (SQLite has none).
 */
import { type MigrationInterface, type QueryRunner, TableIndex } from 'typeorm';

/** How full an insert leaves a device_instance page, percent; the rest is room for its rows' updates. */
const DEVICE_INSTANCE_FILLFACTOR = 75;

export class HotRowUpdates1763901700000 implements MigrationInterface {
  name = 'HotRowUpdates1763901700000';

  async up(q: QueryRunner): Promise<void> {
    if (q.connection.options.type === 'postgres') {
      await q.query(`ALTER TABLE "device_instance" SET (fillfactor = ${DEVICE_INSTANCE_FILLFACTOR})`);
    }
    await q.dropIndex('task', 'ix_task_job_status');
    await q.dropIndex('task', 'ix_task_content');
    await q.createIndex('task', new TableIndex({ name: 'ix_task_content', columnNames: ['content_id', 'status'], where: '"content_id" IS NOT NULL' }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('task', 'ix_task_content');
    await q.createIndex('task', new TableIndex({ name: 'ix_task_content', columnNames: ['content_id', 'status'] }));
    await q.createIndex('task', new TableIndex({ name: 'ix_task_job_status', columnNames: ['job_id', 'status'] }));
    if (q.connection.options.type === 'postgres') {
      await q.query('ALTER TABLE "device_instance" RESET (fillfactor)');
    }
  }
}
