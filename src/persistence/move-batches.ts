/**
 * PostgreSQL: the task moves a process makes outside any unit of work (each a statement that commits
 * by itself, task-store.ts), coalesced while the database is busy (statement-batcher.ts). A move goes
 * out at once as its own statement while fewer than MOVE_LANES move statements are in flight;
 * otherwise it waits for one to finish and then goes out in one statement with every move that waited
 * meanwhile (at most MAX_MOVE_BATCH): one round trip, one backend wake-up, one executor start and one
 * commit for them all.
 *
 * Why: in the fleet bench with split roles a DM process had five or more moves in flight for most it
 * started (each DM message moves its task, carrying its contact or alert, ride-along.ts), and each was
 * a statement with ~0.1 ms of fixed server CPU besides the ~0.2 ms of its execution, plus a wake-up of a
 * backend that preempted the Node process on a small box. At low load nothing waits: a move is the
 * statement it always was.
 *
 * What a batch keeps of a single move: each move checks its own task's state, writes its own history
 * row, counter delta and riders, and gets its own row back (as it was, and whether it moved). The batch
 * commits or fails as one: when its statement fails (a deadlock the server broke, a value one move's
 * rider could not store), every move in it is made again alone, so one move's failure is its own.
 * Task rows are locked in task id order (as TaskStore.transitionMany); two moves of one task, or two
 * contacts of one device, never share a batch (an UPDATE … FROM updates a row once however many
 * joined rows name it). A device's messages are served one at a time (its message lock), so batches
 * running at once hold no device row in common; see ride-along.ts for why nothing waits on a task row
 * and then on a device row the other way round.
 */
import type { EntityManager } from 'typeorm';
import { TASK_STATES, TERMINAL_TASK_STATES, type TaskStatus } from '../domain/tasks.js';
import { ALERT_BATCH_PG } from './alert-store.js';
import { COUNTER_COLUMN, DELTAS_JOIN } from './job-counters.js';
import { queryRows, type Statement, sql, unnestArrays } from './raw-sql.js';
import { CONTACT_BATCH_PG } from './registry-stores.js';
import type { Rider, RiderBatch } from './ride-along.js';
import { StatementBatcher } from './statement-batcher.js';

/**
 * Move statements a process keeps in flight before moves wait to go out together. One: measured in the
 * fleet bench with split roles (10,000 devices, arming tasks/s): 1 lane 520, 2 lanes 454, 4 lanes 441;
 * before batching 404–436. A lone move goes out at once whatever the number.
 */
export const MOVE_LANES = 1;
/** How long a statement holds its lane at most: a lock wait must not hold up every move of the process behind it. */
export const LANE_PATIENCE_MS = 50;
/** The most moves one statement carries (MAY_END_JOB counts on it: task-store.ts). */
export const MAX_MOVE_BATCH = 16;

/** One move as the batch statement takes it. */
export interface BatchedMove {
  readonly taskId: string;
  readonly to: TaskStatus;
  readonly allowed: readonly TaskStatus[];
  /** at, resultCode, dmStatus, results, correlator, event, code, detail: task-store.ts's moveValues. */
  readonly values: readonly unknown[];
  readonly riders: readonly Rider[];
}

/** A task row as the batch statement returns it: the row before the move (the store's columns), whether it moved, and MAY_END_JOB. */
export type BatchedRow = Record<string, unknown> & { didMove: boolean; mayEndJob: boolean | null };

/** The rider kinds a batch carries, each as an array CTE; every batch statement has them all (empty arrays write nothing). */
const RIDER_BATCHES: readonly (readonly [Rider['kind'], RiderBatch])[] = [
  ['contact', CONTACT_BATCH_PG],
  ['alert', ALERT_BATCH_PG],
];

const TERMINAL_LIST = [...TERMINAL_TASK_STATES].map((st) => `'${st}'`).join(', ');
const MOVE_ARRAY_TYPES = ['varchar', 'varchar', 'text', 'bigint', 'integer', 'integer', 'text', 'varchar', 'varchar', 'integer', 'text'];
const MOVES =
  `${unnestArrays(MOVE_ARRAY_TYPES)} ` +
  'AS "n"("taskId", "to", "allowed", "at", "resultCode", "dmStatus", "results", "correlator", "event", "code", "detail")';

/** What task-store.ts's MAY_END_JOB compares: a job's open tasks (over "j" with DELTAS_JOIN's "d"), and the moves a statement may not see. */
export interface MayEndJob {
  readonly openTasks: string;
  readonly unseenMoves: string;
}

/**
 * The statement: "n" (the moves, one row each), the riders' array CTEs, then what task-store.ts's
 * moveCtes does, with each move's own target state, allowed states and values. `taskColumns`: the
 * store's task columns (as its rows name them). MAY_END_JOB is read once per job ("ending"): a job's
 * delta rows are many between folds, and a batch's moves to an end state are mostly of one job.
 */
export function batchedMoveStatement(taskColumns: string, mayEnd: MayEndJob): Statement {
  const delta = TASK_STATES.map(
    (st) => `SUM(CASE WHEN "toStatus" = '${st}' THEN 1 ELSE 0 END - CASE WHEN "fromStatus" = '${st}' THEN 1 ELSE 0 END)`,
  ).join(', ');
  return sql(
    `WITH "n" AS (SELECT * FROM ${MOVES}), ${RIDER_BATCHES.map(([, b]) => b.cte).join(', ')}, ` +
      `"cur" AS (SELECT ${taskColumns} FROM "task" WHERE "task_id" IN (SELECT "taskId" FROM "n") ORDER BY "task_id" FOR UPDATE), ` +
      '"moved" AS (UPDATE "task" SET "status" = "n"."to", "history_seq" = "cur"."historySeq" + 1, "updated_at" = "n"."at", ' +
      '"result_code" = COALESCE("n"."resultCode", "task"."result_code"), "dm_status" = COALESCE("n"."dmStatus", "task"."dm_status"), ' +
      '"results" = COALESCE("n"."results", "task"."results"), "correlator" = COALESCE("n"."correlator", "task"."correlator") ' +
      'FROM "cur" JOIN "n" ON "n"."taskId" = "cur"."taskId" ' +
      `WHERE "task"."task_id" = "cur"."taskId" AND "cur"."status" = ANY(string_to_array("n"."allowed", ',')) ` +
      'RETURNING "task"."task_id", "task"."history_seq", "task"."job_id", "cur"."status" AS "fromStatus", "n"."to" AS "toStatus", ' +
      '"task"."updated_at", "n"."event", "n"."code", "n"."detail"), ' +
      '"logged" AS (INSERT INTO "task_history" ("task_id", "seq", "at", "from_status", "to_status", "event", "code", "detail") ' +
      'SELECT "task_id", "history_seq", "updated_at", "fromStatus", "toStatus", "event", "code", "detail" FROM "moved"), ' +
      `"counted" AS (INSERT INTO "job_counter_delta" ("job_id", ${TASK_STATES.map((st) => `"${COUNTER_COLUMN[st]}"`).join(', ')}) ` +
      `SELECT "job_id", ${delta} FROM "moved" WHERE "job_id" IS NOT NULL AND "fromStatus" <> "toStatus" GROUP BY "job_id"), ` +
      `"ending" AS (SELECT "j"."job_id" AS "jobId", ${mayEnd.openTasks} AS "open" FROM "job" "j" ${DELTAS_JOIN} ` +
      `WHERE "j"."job_id" IN (SELECT "cur"."jobId" FROM "cur" JOIN "n" ON "n"."taskId" = "cur"."taskId" WHERE "n"."to" IN (${TERMINAL_LIST}))) ` +
      'SELECT "cur".*, "m"."task_id" IS NOT NULL AS "didMove", ' +
      `CASE WHEN "m"."task_id" IS NOT NULL AND "n"."to" IN (${TERMINAL_LIST}) THEN COALESCE("e"."open" - 1 <= ${mayEnd.unseenMoves}, TRUE) END AS "mayEndJob" ` +
      'FROM "cur" JOIN "n" ON "n"."taskId" = "cur"."taskId" LEFT JOIN "moved" "m" ON "m"."task_id" = "cur"."taskId" ' +
      'LEFT JOIN "ending" "e" ON "e"."jobId" = "cur"."jobId"',
  );
}

/** The statement's values: the moves' arrays, then each rider kind's (its riders' values, transposed). */
function batchValues(moves: readonly BatchedMove[]): unknown[] {
  const values: unknown[] = [
    moves.map((m) => m.taskId),
    moves.map((m) => m.to),
    moves.map((m) => m.allowed.join(',')),
    ...Array.from({ length: MOVE_ARRAY_TYPES.length - 3 }, (_, i) => moves.map((m) => m.values[i])),
  ];
  for (const [kind, batch] of RIDER_BATCHES) {
    const riders = moves.flatMap((m) => m.riders.filter((r) => r.kind === kind));
    for (let i = 0; i < batch.arity; i++) values.push(riders.map((r) => r.values[i]));
  }
  return values;
}

/** The device a move's contact rider writes (its last value: CONTACT_BATCH_PG), if it carries one. */
function contactDevice(move: BatchedMove): string | undefined {
  const contact = move.riders.find((r) => r.kind === 'contact');
  return contact ? String(contact.values[contact.values.length - 1]) : undefined;
}

/** The moves' batcher of a data source: one lane, batches of moves of distinct tasks and contacts of distinct devices. */
export function moveBatcher(em: EntityManager, statement: Statement): StatementBatcher<BatchedMove, BatchedRow | undefined> {
  return new StatementBatcher({
    lanes: MOVE_LANES,
    maxBatch: MAX_MOVE_BATCH,
    patienceMs: LANE_PATIENCE_MS,
    keysOf: (move) => {
      const device = contactDevice(move);
      return device === undefined ? [`task:${move.taskId}`] : [`task:${move.taskId}`, `device:${device}`];
    },
    send: async (moves) => {
      const rows = await queryRows<BatchedRow>(em, statement, batchValues(moves));
      const byTask = new Map(rows.map((r) => [r.taskId as string, r]));
      return moves.map((m) => byTask.get(m.taskId));
    },
  });
}
