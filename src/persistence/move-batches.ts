/**
 * PostgreSQL: the task moves a process makes outside any unit of work (each a statement that commits
 * by itself, task-store.ts), coalesced while the database is busy. A move goes out at once as its own
 * statement while fewer than MOVE_LANES move statements are in flight; otherwise it waits for one to
 * finish and then goes out in one statement with every move that waited meanwhile (at most
 * MAX_MOVE_BATCH): one round trip, one backend wake-up, one executor start and one commit for them all.
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
import { queryRows, type Statement, sql } from './raw-sql.js';
import { CONTACT_BATCH_PG } from './registry-stores.js';
import type { Rider, RiderBatch } from './ride-along.js';

/**
 * Move statements a process keeps in flight before moves wait to go out together. One: measured in the
 * fleet bench with split roles (10,000 devices, arming tasks/s): 1 lane 520, 2 lanes 454, 4 lanes 441;
 * before batching 404–436. A lone move goes out at once whatever the number.
 */
export const MOVE_LANES = 1;
/** How long a statement holds its lane (README, "Sixth pass"): a lock wait must not hold up every move of the process. */
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

/**
 * What a move gets from the batcher: `alone` (make the move as its own statement, then call `done`),
 * or its row from a batch (undefined: no such task).
 */
export type MoveTurn = { alone: true; done: () => void } | { alone: false; row: BatchedRow | undefined };

/** The rider kinds a batch carries, each as an array CTE; every batch statement has them all (empty arrays write nothing). */
const RIDER_BATCHES: readonly (readonly [Rider['kind'], RiderBatch])[] = [
  ['contact', CONTACT_BATCH_PG],
  ['alert', ALERT_BATCH_PG],
];

const TERMINAL_LIST = [...TERMINAL_TASK_STATES].map((st) => `'${st}'`).join(', ');
const MOVES =
  'unnest(CAST(? AS varchar[]), CAST(? AS varchar[]), CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS integer[]), ' +
  'CAST(? AS integer[]), CAST(? AS text[]), CAST(? AS varchar[]), CAST(? AS varchar[]), CAST(? AS integer[]), CAST(? AS text[])) ' +
  'AS "n"("taskId", "to", "allowed", "at", "resultCode", "dmStatus", "results", "correlator", "event", "code", "detail")';
const MOVE_ARITY = 11;

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
    ...Array.from({ length: MOVE_ARITY - 3 }, (_, i) => moves.map((m) => m.values[i])),
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

interface Waiting {
  readonly move: BatchedMove;
  readonly settle: (turn: MoveTurn) => void;
}

/** One per data source (process-wide: the lanes are the process's). */
export class MoveBatcher {
  private lanesTaken = 0;
  private readonly waiting: Waiting[] = [];

  constructor(
    private readonly em: EntityManager,
    /** batchedMoveStatement over the store's columns. */
    private readonly statement: Statement,
  ) {}

  /** The move's turn: alone at once while a lane is free, otherwise in the next batch. */
  turn(move: BatchedMove): Promise<MoveTurn> {
    if (this.lanesTaken < MOVE_LANES && this.waiting.length === 0) return Promise.resolve({ alone: true, done: this.takeLane() });
    return new Promise<MoveTurn>((settle) => this.waiting.push({ move, settle }));
  }

  /**
   * Takes a lane for a statement; returns what gives it back once the statement is done. A statement
   * still running after LANE_PATIENCE_MS (waiting for a row lock a long unit of work holds) gives its
   * lane back then, so the moves behind it go out meanwhile.
   */
  private takeLane(): () => void {
    this.lanesTaken++;
    let held = true;
    const giveBack = () => {
      if (!held) return;
      held = false;
      clearTimeout(lapse);
      this.lanesTaken--;
      this.next();
    };
    const lapse = setTimeout(giveBack, LANE_PATIENCE_MS);
    lapse.unref();
    return giveBack;
  }

  /** The waiting moves' next statement, on a lane just freed. */
  private next(): void {
    if (this.waiting.length === 0 || this.lanesTaken >= MOVE_LANES) return;
    const batch = this.takeBatch();
    const done = this.takeLane();
    if (batch.length === 1) batch[0]!.settle({ alone: true, done });
    else void this.runBatch(batch).finally(done);
  }

  /** The waiting moves that go together: in arrival order, at most one per task and one contact per device. */
  private takeBatch(): Waiting[] {
    const batch: Waiting[] = [];
    const tasks = new Set<string>();
    const devices = new Set<string>();
    for (let i = 0; i < this.waiting.length && batch.length < MAX_MOVE_BATCH; ) {
      const w = this.waiting[i]!;
      const device = contactDevice(w.move);
      if (tasks.has(w.move.taskId) || (device !== undefined && devices.has(device))) {
        i++;
        continue;
      }
      tasks.add(w.move.taskId);
      if (device !== undefined) devices.add(device);
      batch.push(w);
      this.waiting.splice(i, 1);
    }
    return batch;
  }

  private async runBatch(batch: Waiting[]): Promise<void> {
    let rows: BatchedRow[];
    try {
      rows = await queryRows<BatchedRow>(this.em, this.statement, batchValues(batch.map((w) => w.move)));
    } catch {
      // Made again one by one (each in its own statement, where its failure is its own); outside the lanes, as failures are rare.
      for (const w of batch) w.settle({ alone: true, done: () => undefined });
      return;
    }
    const byTask = new Map(rows.map((r) => [r.taskId as string, r]));
    for (const w of batch) w.settle({ alone: false, row: byTask.get(w.move.taskId) });
  }
}
