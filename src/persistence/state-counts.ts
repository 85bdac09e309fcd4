/**
 * Tasks and jobs per state, for the metrics: one grouped COUNT each. The
 * task count reads the (status, updated_at) index (ix_task_status_updated)
 * alone; the job table is small.
 */
import type { DataSource } from 'typeorm';
import { queryRows, sql } from './raw-sql.js';

const TASKS = sql('SELECT "status", COUNT(*) AS "n" FROM "task" GROUP BY "status"');
const JOBS = sql('SELECT "status", COUNT(*) AS "n" FROM "job" GROUP BY "status"');

/** Rows per status (PostgreSQL gives COUNT as a string). */
export async function countByStatus(dataSource: DataSource, table: 'task' | 'job'): Promise<Map<string, number>> {
  const rows = await queryRows<{ status: string; n: number | string }>(dataSource.manager, table === 'task' ? TASKS : JOBS, []);
  return new Map(rows.map((r) => [r.status, Number(r.n)]));
}
