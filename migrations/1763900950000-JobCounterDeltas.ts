/**
 * A job's per-state counters as rows added per task move (PostgreSQL). Every
 * move of a rollout updating the job row made all moves of the rollout, in
 * every process, queue for that one row lock until each mover's COMMIT. A
 * move now inserts a row of +1/-1 deltas instead; readers add the job row and
 * the job's delta rows in one statement, and a fold (job-counters.ts) moves
 * the deltas into the job row from time to time, deleting them in the same
 * statement, so the counters stay exactly the per-state task counts. No
 * primary key and no foreign key: a move pays for one index entry, and takes
 * no lock on the job row. SQLite runs one writer at a time and keeps updating
 * the job row (the table stays empty there).
 */
import { type MigrationInterface, type QueryRunner, Table, TableIndex } from 'typeorm';

const COUNTERS = ['queued', 'notifying', 'in_session', 'scheduled', 'in_progress', 'completed', 'failed', 'missed', 'cancelled', 'expired'];

export class JobCounterDeltas1763900950000 implements MigrationInterface {
  name = 'JobCounterDeltas1763900950000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'job_counter_delta',
        columns: [
          { name: 'job_id', type: 'varchar', length: '64' },
          ...COUNTERS.map((name) => ({ name, type: 'integer', default: 0 })),
        ],
      }),
    );
    await q.createIndex('job_counter_delta', new TableIndex({ name: 'ix_job_counter_delta_job', columnNames: ['job_id'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('job_counter_delta', true);
  }
}
