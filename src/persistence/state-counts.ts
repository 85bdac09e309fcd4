/**
 * Tasks and jobs per state, for the metrics: grouped COUNTs. Task counts read
 * the (status, updated_at) index (ix_task_status_updated) alone, open and
 * ended states apart: the open ones are a range of the index as large as the
 * work in flight, read often; the ended ones grow without end (about 300 ms
 * on PostgreSQL and 400 ms on SQLite, where it blocks the process, per
 * million tasks, measured on a loaded 2-core box), read seldom. The job table
 * is small.
 */
import type { DataSource } from 'typeorm';
import { TERMINAL_TASK_STATES } from '../domain/tasks.js';
import { queryRows, sql } from './raw-sql.js';

const ENDED = [...TERMINAL_TASK_STATES].map((s) => `'${s}'`).join(', ');
const OPEN_TASKS = sql(`SELECT "status", COUNT(*) AS "n" FROM "task" WHERE "status" NOT IN (${ENDED}) GROUP BY "status"`);
const ENDED_TASKS = sql(`SELECT "status", COUNT(*) AS "n" FROM "task" WHERE "status" IN (${ENDED}) GROUP BY "status"`);
const JOBS = sql('SELECT "status", COUNT(*) AS "n" FROM "job" GROUP BY "status"');

const STATEMENTS = { 'open-tasks': OPEN_TASKS, 'ended-tasks': ENDED_TASKS, jobs: JOBS };

/** Rows per status (PostgreSQL gives COUNT as a string). */
export async function countByStatus(dataSource: DataSource, what: keyof typeof STATEMENTS): Promise<Map<string, number>> {
  const rows = await queryRows<{ status: string; n: number | string }>(dataSource.manager, STATEMENTS[what], []);
  return new Map(rows.map((r) => [r.status, Number(r.n)]));
}
