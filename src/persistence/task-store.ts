/**
 * Tasks and task history. A state change is a conditional update of the task
 * (its current state must allow the move) plus one history row with the next
 * sequence number, in the caller's transaction; a job's per-state counters
 * move in the same transaction. On PostgreSQL the task row is locked first;
 * on SQLite units of work already run one at a time.
 */
import { type EntityManager, In } from 'typeorm';
import type { Page } from '../domain/registry.js';
import { canTransition, type JobStatus, TASK_STATES, TERMINAL_TASK_STATES, type Task, type TaskHistoryEntry, type TaskStatus } from '../domain/tasks.js';
import type { TaskChange, TaskInContext, TaskNote, TaskStore, TransitionResult } from '../services/ports.js';
import { type DeviceCapabilityRow, TaskEntity, TaskHistoryEntity, type TaskHistoryRow, type TaskRow } from './entities.js';
import { CAPABILITY_COLUMNS, moRootsOf, selectIn } from './registry-stores.js';
import { claimRiders, type Rider, unclaimRiders } from './ride-along.js';
import { addDelta, COUNTER_COLUMN, DELTAS_JOIN, NO_ENDINGS, type TaskEndings } from './job-counters.js';
import { finishJobIfDone } from './job-store.js';
import { type BatchedMove, type BatchedRow, batchedMoveStatement, LANE_PATIENCE_MS, MAX_MOVE_BATCH, MOVE_LANES, moveBatcher } from './move-batches.js';
import { readBatcher, StatementBatcher } from './statement-batcher.js';
import { epoch, execute, queryRows, type Statement, sql } from './raw-sql.js';
import { toTask } from './task-mapping.js';

const TERMINAL: ReadonlySet<TaskStatus> = TERMINAL_TASK_STATES;
/** Tasks of a content not in an end state ("not terminal", so states added later count as open). */
const COUNT_OPEN_USING = sql(
  `SELECT COUNT(*) AS "n" FROM "task" WHERE "content_id" = ? AND "status" NOT IN (${[...TERMINAL_TASK_STATES].map((s) => `'${s}'`).join(', ')})`,
);

function toEntry(r: TaskHistoryRow): TaskHistoryEntry {
  return {
    taskId: r.taskId,
    seq: r.seq,
    at: new Date(r.at),
    ...(r.fromStatus ? { fromStatus: r.fromStatus as TaskStatus } : {}),
    toStatus: r.toStatus as TaskStatus,
    event: r.event,
    ...(r.code !== null ? { code: r.code } : {}),
    ...(r.detail !== null ? { detail: r.detail } : {}),
  };
}

// Every task's life runs these statements several times (a SCHEDULED_EXEC
// task: insert, four moves, two or three notes): plain SQL, prepared once
// (see raw-sql.ts). Through TypeORM's builders they were ~15% of the
// gateway's CPU in the broker bench.
const TASK_COLUMNS =
  '"task_id" AS "taskId", "job_id" AS "jobId", "device_id" AS "deviceId", "phone_number" AS "phoneNumber", ' +
  '"operation_name" AS "operationName", "operation", "status", "result_code" AS "resultCode", "dm_status" AS "dmStatus", ' +
  '"correlator", "results", "b_optin" AS "bOptin", "accept_device_policy" AS "acceptDevicePolicy", ' +
  '"test_cycle" AS "testCycle", "deadline", "history_seq" AS "historySeq", "job_seq" AS "jobSeq", ' +
  '"released_at" AS "releasedAt", "content_id" AS "contentId", "correlation_id" AS "correlationId", "created_by" AS "createdBy", "created_at" AS "createdAt", "updated_at" AS "updatedAt"';
const SELECT_TASK = sql(`SELECT ${TASK_COLUMNS} FROM "task" WHERE "task_id" = ?`);
/** TASK_COLUMNS of the task `"t"`, each named as there. */
const QUALIFIED_TASK_COLUMNS = TASK_COLUMNS.split(', ')
  .map((c) => (c.includes(' AS ') ? `"t".${c}` : `"t".${c} AS ${c}`))
  .join(', ');
/** TaskStore.getInContext without its WHERE: the task, its job's status, its device's capability (prefixed "cap_") and dev_info. */
const TASK_IN_CONTEXT =
  `SELECT ${QUALIFIED_TASK_COLUMNS}, "j"."status" AS "jobStatus", ` +
  CAPABILITY_COLUMNS.map(([col, prop]) => `"c"."${col}" AS "cap_${prop}"`).join(', ') +
  ', "d"."dev_info" AS "devInfo" FROM "task" "t" ' +
  'LEFT JOIN "job" "j" ON "j"."job_id" = "t"."job_id" LEFT JOIN "device_instance" "d" ON "d"."device_id" = "t"."device_id" ' +
  'LEFT JOIN "device_capability" "c" ON "c"."oid" = "d"."capability_oid"';
const SELECT_TASK_IN_CONTEXT = sql(`${TASK_IN_CONTEXT} WHERE "t"."task_id" = ?`);
const INSERT_TASK = sql(
  'INSERT INTO "task" ("task_id", "job_id", "device_id", "phone_number", "operation_name", "operation", "status", ' +
    '"result_code", "dm_status", "correlator", "results", "b_optin", "accept_device_policy", "test_cycle", "deadline", ' +
    '"history_seq", "job_seq", "released_at", "content_id", "created_by", "created_at", "updated_at", "correlation_id") ' +
    'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, NULL, ?, ?, ?, ?, ?)',
);
/** A change's absent fields (null) keep their values. */
const MOVE_TASK = sql(
  'UPDATE "task" SET "status" = ?, "history_seq" = ?, "updated_at" = ?, "result_code" = COALESCE(?, "result_code"), ' +
    '"dm_status" = COALESCE(?, "dm_status"), "results" = COALESCE(?, "results"), "correlator" = COALESCE(?, "correlator") ' +
    'WHERE "task_id" = ?',
);
const BUMP_TASK_SEQ = sql('UPDATE "task" SET "history_seq" = ?, "updated_at" = ? WHERE "task_id" = ?');
const INSERT_HISTORY = sql(
  'INSERT INTO "task_history" ("task_id", "seq", "at", "from_status", "to_status", "event", "code", "detail") VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
);

/**
 * See TaskStore.stalled. `last`: the last move, or the release of a job's
 * task (releasing does not touch updated_at); `base`: when the task started
 * waiting. The first condition on updated_at lets the (status, updated_at)
 * index narrow the scan (last >= updated_at). Due: waited at least the retry
 * interval and as long as it had waited before (now - last >= last - base),
 * or the longest wait (TASK_RETRY_MAX_SECONDS).
 */
const SELECT_STALLED = sql(
  'SELECT "taskId", "last" AS "since" FROM (' +
    'SELECT "task_id" AS "taskId", ' +
    'CASE WHEN "released_at" IS NOT NULL AND "released_at" > "updated_at" THEN "released_at" ELSE "updated_at" END AS "last", ' +
    'COALESCE("released_at", "created_at") AS "base" ' +
    'FROM "task" WHERE "status" IN (\'QUEUED\', \'NOTIFYING\', \'IN_SESSION\') ' +
    'AND ("status" <> \'QUEUED\' OR "job_id" IS NULL OR "released_at" IS NOT NULL) AND "updated_at" < ?' +
    ') s WHERE "last" < ? AND (2 * "last" - "base" < ? OR "last" < ?) ORDER BY "last" LIMIT ?',
);

/**
 * PostgreSQL: a whole move in one statement, so one round trip — lock the
 * task row, check its state allows the move, update it, write its history
 * row and its job's counter delta row (job-counters.ts) — as data-modifying
 * CTEs. Each statement is a socket round trip there (a write and a read
 * syscall in the gateway, a wake-up of the backend); in the fleet bench with
 * split roles they were a quarter of a DM process's CPU. The row lock is
 * taken by "cur" (FOR UPDATE: after waiting for a concurrent mover it returns
 * that mover's committed row), and "moved" updates only from a state the
 * move allows, so of two concurrent moves from one state only the first
 * moves. The statement returns the row as it was, and whether it moved.
 * One statement per (target state, states it may come from), built on first
 * use; the states are literals, so the plan knows them. SQLite runs the
 * statements one by one (in process, no round trips).
 */
const moveStatements = new Map<string, Statement>();
function moveStatement(to: TaskStatus, allowed: readonly TaskStatus[], riders: readonly Rider[]): Statement {
  const key = `${to}<${allowed.join(',')}${riders.map((r) => `+${r.kind}`).join('')}`;
  let s = moveStatements.get(key);
  if (!s) {
    s = sql(
      moveCtes(to, allowed, false, riders.length > 0 ? riders.map((r) => r.cte).join(', ') : undefined) +
        `SELECT "cur".*, (SELECT COUNT(*) FROM "moved") AS "moves"${TERMINAL.has(to) ? `, ${MAY_END_JOB}` : ''} FROM "cur"`,
    );
    moveStatements.set(key, s);
  }
  return s;
}

/** The states a task may make this move from: those the state machine allows, narrowed to `change.from`. */
function statesMovingTo(to: TaskStatus, change: TaskChange): TaskStatus[] {
  return TASK_STATES.filter((st) => canTransition(st, to) && (!change.from || change.from.includes(st)));
}

/**
 * What moveStatement and moveManyStatement share: "cur" (the rows as they
 * were, locked), "moved", "logged" (their history rows) and "counted" (the
 * job counter deltas). `many`: "cur" holds the tasks of an id array, locked
 * in task id order, and the deltas are summed per job.
 */
function moveCtes(to: TaskStatus, allowed: readonly TaskStatus[], many: boolean, lead?: string): string {
  const list = allowed.map((st) => `'${st}'`).join(', ');
  const delta = TASK_STATES.map((st) => {
    const gain = st === to ? '1' : '0';
    const moves = `${gain} - CASE WHEN "fromStatus" = '${st}' THEN 1 ELSE 0 END`;
    return many ? `SUM(${moves})` : moves;
  }).join(', ');
  const which = many ? '"task_id" = ANY(CAST(? AS varchar[])) ORDER BY "task_id"' : '"task_id" = ?';
  return (
    `WITH ${lead ? `${lead}, ` : ''}"cur" AS (SELECT ${TASK_COLUMNS} FROM "task" WHERE ${which} FOR UPDATE), ` +
    `"moved" AS (UPDATE "task" SET "status" = '${to}', "history_seq" = "cur"."historySeq" + 1, "updated_at" = CAST(? AS bigint), ` +
    '"result_code" = COALESCE(CAST(? AS integer), "task"."result_code"), "dm_status" = COALESCE(CAST(? AS integer), "task"."dm_status"), ' +
    '"results" = COALESCE(CAST(? AS text), "task"."results"), "correlator" = COALESCE(CAST(? AS varchar), "task"."correlator") ' +
    `FROM "cur" WHERE "task"."task_id" = "cur"."taskId" AND "cur"."status" IN (${list}) ` +
    'RETURNING "task"."task_id", "task"."history_seq", "task"."job_id", "cur"."status" AS "fromStatus", "task"."updated_at"), ' +
    '"logged" AS (INSERT INTO "task_history" ("task_id", "seq", "at", "from_status", "to_status", "event", "code", "detail") ' +
    `SELECT "task_id", "history_seq", "updated_at", "fromStatus", '${to}', CAST(? AS varchar), CAST(? AS integer), CAST(? AS text) FROM "moved"), ` +
    `"counted" AS (INSERT INTO "job_counter_delta" ("job_id", ${TASK_STATES.map((st) => `"${COUNTER_COLUMN[st]}"`).join(', ')}) ` +
    `SELECT "job_id", ${delta} FROM "moved" WHERE "job_id" IS NOT NULL AND "fromStatus" <> '${to}'${many ? ' GROUP BY "job_id"' : ''}) `
  );
}

/**
 * PostgreSQL: moveStatement over many tasks (TaskStore.transitionMany), one
 * round trip for a release's notify batch instead of one per task. "cur"
 * locks the rows in task id order, so two such statements over overlapping
 * tasks wait for each other instead of deadlocking. Every moved task gets its
 * history row; the job counter deltas are summed per job (a fold adds rows
 * up, so one row per job counts as one per task would). Returns every task
 * found, as it was, and whether it moved.
 */
const moveManyStatements = new Map<string, Statement>();
function moveManyStatement(to: TaskStatus, allowed: readonly TaskStatus[]): Statement {
  const key = `${to}<${allowed.join(',')}`;
  let s = moveManyStatements.get(key);
  if (!s) {
    s = sql(moveCtes(to, allowed, true) + 'SELECT "cur".*, EXISTS (SELECT 1 FROM "moved" WHERE "moved"."task_id" = "cur"."taskId") AS "didMove" FROM "cur"');
    moveManyStatements.set(key, s);
  }
  return s;
}

/**
 * PostgreSQL, in a move to an end state: whether the move may have ended its job's last open task, so
 * that the job's end is worth a look once it committed (TaskEndings). The statement's snapshot misses
 * only moves not yet committed when it began, each on one of the server's connections, at most
 * MAX_MOVE_BATCH a connection (move-batches.ts): when more tasks than that are still open besides this
 * one, another mover commits after this one and looks itself (job-counters.ts). (Movers that always
 * look, units of work and transitionMany, may hold more.) Saves the look, a statement, on every end of
 * a rollout's task but its last few thousand. Open: the job's tasks not counted in an end state (job row plus visible
 * delta rows), less this move's (its own delta row is not visible to its statement).
 */
const OPEN_TASKS = `"j"."total" - ${[...TERMINAL_TASK_STATES].map((st) => `"j"."${COUNTER_COLUMN[st]}" - COALESCE("d"."${COUNTER_COLUMN[st]}", 0)`).join(' - ')}`;
const UNSEEN_MOVES = `CAST(current_setting('max_connections') AS integer) * ${MAX_MOVE_BATCH}`;
const MAY_END_JOB = `COALESCE((SELECT ${OPEN_TASKS} - 1 FROM "job" "j" ${DELTAS_JOIN} WHERE "j"."job_id" = "cur"."jobId") <= ${UNSEEN_MOVES}, TRUE) AS "mayEndJob"`;

/** PostgreSQL: the moves of one batch (move-batches.ts), with the store's columns. */
const BATCHED_MOVE = batchedMoveStatement(TASK_COLUMNS, { openTasks: OPEN_TASKS, unseenMoves: UNSEEN_MOVES });
/** The batchers of a data source (statement-batcher.ts): a process's lanes are shared by every store over it. */
const batchers = new WeakMap<
  object,
  {
    moves: StatementBatcher<BatchedMove, BatchedRow | undefined>;
    notes: StatementBatcher<NoteOf, void>;
    inContext: StatementBatcher<string, TaskInContext | undefined>;
  }
>();
function batchersOf(em: EntityManager) {
  let b = batchers.get(em.connection);
  if (!b) {
    const manager = em.connection.manager;
    b = { moves: moveBatcher(manager, BATCHED_MOVE), notes: noteBatcher(manager), inContext: inContextBatcher(manager) };
    batchers.set(em.connection, b);
  }
  return b;
}

/**
 * PostgreSQL: getInContext reads made outside any unit of work, coalesced while one is in flight
 * (readBatcher). In a rollout's report each device's Generic Alert reads its task in context, hundreds
 * a second per dm process.
 */
function inContextBatcher(em: EntityManager): StatementBatcher<string, TaskInContext | undefined> {
  return readBatcher(async (taskIds) => inContextRows(await selectIn<Record<string, unknown>>(em, TASK_IN_CONTEXT, '"t"."task_id"', taskIds)));
}

/** TASK_IN_CONTEXT's rows by task id. */
function inContextRows(rows: readonly Record<string, unknown>[]): Map<string, TaskInContext> {
  const found = new Map<string, TaskInContext>();
  for (const r of rows) {
    const c = inContext(r);
    found.set(c.task.taskId, c);
  }
  return found;
}

/** PostgreSQL: a note in one round trip (the UPDATE locks the row; the history row takes the new sequence number). */
const NOTE_PG = sql(
  'WITH "noted" AS (UPDATE "task" SET "history_seq" = "history_seq" + 1, "updated_at" = ? WHERE "task_id" = ? RETURNING "task_id", "history_seq", "status") ' +
    'INSERT INTO "task_history" ("task_id", "seq", "at", "from_status", "to_status", "event", "code", "detail") ' +
    'SELECT "task_id", "history_seq", CAST(? AS bigint), "status", "status", CAST(? AS varchar), CAST(? AS integer), CAST(? AS text) FROM "noted"',
);

/**
 * PostgreSQL: NOTE_PG over many tasks (TaskStore.noteMany, and the notes batched while the lane is
 * busy: noteBatcher), one round trip. The notes come as parallel arrays, one element per task; a task
 * named twice would be updated once (UPDATE … FROM takes one joined row per target row), which is why
 * noteMany refuses that and a batch never has it.
 */
const NOTE_MANY_PG = sql(
  'WITH "n" AS (SELECT * FROM unnest(CAST(? AS varchar[]), CAST(? AS varchar[]), CAST(? AS integer[]), CAST(? AS text[]), CAST(? AS bigint[])) ' +
    'AS "n"("taskId", "event", "code", "detail", "at")), ' +
    '"noted" AS (UPDATE "task" SET "history_seq" = "task"."history_seq" + 1, "updated_at" = "n"."at" FROM "n" ' +
    'WHERE "task"."task_id" = "n"."taskId" ' +
    'RETURNING "task"."task_id", "task"."history_seq", "task"."status", "n"."event", "n"."code", "n"."detail", "n"."at") ' +
    'INSERT INTO "task_history" ("task_id", "seq", "at", "from_status", "to_status", "event", "code", "detail") ' +
    'SELECT "task_id", "history_seq", "at", "status", "status", "event", "code", "detail" FROM "noted"',
);

/** A note with its time, as a batch of notes takes it. */
interface NoteOf {
  readonly taskId: string;
  readonly change: TaskChange;
  readonly at: number;
}

const historyCode = (c: TaskChange): number | null => c.code ?? c.resultCode ?? c.dmStatus ?? null;

/** NOTE_MANY_PG's values. */
function noteValues(notes: readonly NoteOf[]): unknown[] {
  return [
    notes.map((n) => n.taskId),
    notes.map((n) => n.change.event),
    notes.map((n) => historyCode(n.change)),
    notes.map((n) => n.change.detail ?? null),
    notes.map((n) => n.at),
  ];
}

/**
 * PostgreSQL: the notes a process makes outside any unit of work, batched while its note statement is in
 * flight (statement-batcher.ts; the lanes and limits of moves, move-batches.ts). In a rollout's report each
 * device's session notes its task once more (the Delete of the schedule answered).
 */
function noteBatcher(em: EntityManager): StatementBatcher<NoteOf, void> {
  return new StatementBatcher<NoteOf, void>({
    lanes: MOVE_LANES,
    maxBatch: MAX_MOVE_BATCH,
    patienceMs: LANE_PATIENCE_MS,
    keysOf: (n) => [n.taskId],
    send: async (notes) => {
      await execute(em, NOTE_MANY_PG, noteValues(notes));
      return notes.map(() => undefined);
    },
  });
}

/** The job's counter moves: one statement per (from, to) pair, built on first use. */
const bumpStatements = new Map<string, Statement>();
function bumpJobStatement(from: TaskStatus | undefined, to: TaskStatus): Statement {
  const key = `${from ?? ''}>${to}`;
  let s = bumpStatements.get(key);
  if (!s) {
    const toCol = COUNTER_COLUMN[to];
    const fromSet = from ? `, "${COUNTER_COLUMN[from]}" = "${COUNTER_COLUMN[from]}" - 1` : '';
    s = sql(`UPDATE "job" SET "updated_at" = ?, "${toCol}" = "${toCol}" + 1${fromSet} WHERE "job_id" = ?`);
    bumpStatements.set(key, s);
  }
  return s;
}

/** A row of TASK_IN_CONTEXT as a TaskInContext. */
function inContext(r: Record<string, unknown>): TaskInContext {
  const row: Record<string, unknown> = {};
  const capability: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) {
    if (k.startsWith('cap_')) capability[k.slice(4)] = v;
    else if (k !== 'jobStatus' && k !== 'devInfo') row[k] = v;
  }
  const jobStatus = r.jobStatus as JobStatus | null;
  const roots = capability.oid != null ? moRootsOf(capability as unknown as DeviceCapabilityRow, r.devInfo as string | null) : undefined;
  return { task: toTask(taskRow(row as unknown as TaskRow)), ...(jobStatus !== null ? { jobStatus } : {}), ...(roots ? { roots } : {}) };
}

/** PostgreSQL gives bigint columns as strings and booleans as booleans; SQLite numbers for both. */
function taskRow(r: TaskRow): TaskRow {
  return {
    ...r,
    bOptin: Boolean(r.bOptin),
    testCycle: Boolean(r.testCycle),
    deadline: epoch(r.deadline),
    releasedAt: epoch(r.releasedAt),
    createdAt: epoch(r.createdAt),
    updatedAt: epoch(r.updatedAt),
  };
}

const nullable = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/** The columns a move sets (a change's absent fields keep their values). */
function changedColumns(to: TaskStatus, seq: number, at: number, change: TaskChange): Partial<TaskRow> {
  const set: Partial<TaskRow> = { status: to, historySeq: seq, updatedAt: at };
  if (change.resultCode !== undefined) set.resultCode = change.resultCode;
  if (change.dmStatus !== undefined) set.dmStatus = change.dmStatus;
  if (change.results !== undefined) set.results = JSON.stringify(change.results);
  if (change.correlator !== undefined) set.correlator = change.correlator;
  return set;
}

export class TypeormTaskStore implements TaskStore {
  private readonly postgres: boolean;

  constructor(
    private readonly em: EntityManager,
    /** PostgreSQL: told of every job whose task this store ended (see job-counters.ts). */
    private readonly endings: TaskEndings = NO_ENDINGS,
  ) {
    this.postgres = em.connection.options.type === 'postgres';
  }

  private get tasks() {
    return this.em.getRepository(TaskEntity);
  }

  async insert(task: Task, event: string, detail?: string): Promise<void> {
    const at = task.createdAt.getTime();
    await execute(this.em, INSERT_TASK, [
      task.taskId,
      nullable(task.jobId),
      task.deviceId,
      nullable(task.phoneNumber),
      task.operation.name,
      JSON.stringify(task.operation),
      task.status,
      nullable(task.resultCode),
      nullable(task.dmStatus),
      nullable(task.correlator),
      task.results.length ? JSON.stringify(task.results) : null,
      task.bOptin ? 1 : 0,
      task.acceptDevicePolicy,
      task.testCycle ? 1 : 0,
      task.deadline ? task.deadline.getTime() : null,
      nullable(task.jobSeq),
      nullable(task.contentId),
      task.createdBy,
      at,
      at,
      nullable(task.correlationId),
    ]);
    await this.history_(task.taskId, 1, at, undefined, task.status, { event, ...(detail !== undefined && { detail }) });
    if (!task.jobId) return;
    if (!this.postgres) {
      await this.bumpJob(task.jobId, undefined, task.status, at);
      return;
    }
    await addDelta(this.em, task.jobId, undefined, task.status);
    if (TERMINAL.has(task.status)) await this.endings.ended(task.jobId, at);
  }

  async get(taskId: string): Promise<Task | undefined> {
    const [r] = await queryRows<TaskRow>(this.em, SELECT_TASK, [taskId]);
    return r ? toTask(taskRow(r)) : undefined;
  }

  async getInContext(taskId: string): Promise<TaskInContext | undefined> {
    const alone = async () => {
      const [r] = await queryRows<Record<string, unknown>>(this.em, SELECT_TASK_IN_CONTEXT, [taskId]);
      return r ? inContext(r) : undefined;
    };
    // Outside a unit of work on PostgreSQL, a read may go out with others waiting beside it (inContextBatcher).
    return this.postgres && this.em.queryRunner === undefined ? batchersOf(this.em).inContext.run(taskId, alone) : alone();
  }

  async getInContextMany(taskIds: readonly string[]): Promise<Map<string, TaskInContext>> {
    return inContextRows(await selectIn<Record<string, unknown>>(this.em, TASK_IN_CONTEXT, '"t"."task_id"', taskIds));
  }

  /** SQLite: units of work run one at a time (transactor.ts), so the row read is the row moved. */
  private async lockedRow(taskId: string): Promise<TaskRow | undefined> {
    const [r] = await queryRows<TaskRow>(this.em, SELECT_TASK, [taskId]);
    return r ? taskRow(r) : undefined;
  }

  async transition(taskId: string, to: TaskStatus, change: TaskChange, at: number): Promise<TransitionResult> {
    if (this.postgres) return this.transitionInOneStatement(taskId, to, change, at);
    const row = await this.lockedRow(taskId);
    if (!row) return { moved: false, task: undefined };
    const from = row.status as TaskStatus;
    if ((change.from && !change.from.includes(from)) || !canTransition(from, to)) {
      return { moved: false, task: toTask(row) };
    }
    const seq = row.historySeq + 1;
    const set = changedColumns(to, seq, at, change);
    await execute(this.em, MOVE_TASK, [
      to,
      seq,
      at,
      nullable(set.resultCode),
      nullable(set.dmStatus),
      nullable(set.results),
      nullable(set.correlator),
      taskId,
    ]);
    await this.history_(taskId, seq, at, from, to, change);
    if (row.jobId && from !== to) await this.bumpJob(row.jobId, from, to, at);
    return { moved: true, task: toTask({ ...row, ...set } as TaskRow) };
  }

  /** PostgreSQL: see moveStatement. */
  private async transitionInOneStatement(taskId: string, to: TaskStatus, change: TaskChange, at: number): Promise<TransitionResult> {
    const allowed = statesMovingTo(to, change);
    if (allowed.length === 0) {
      const task = await this.get(taskId);
      return { moved: false, task };
    }
    // A DM message's writes ride along (ride-along.ts), but only on a move that commits by itself: a
    // unit of work's rollback would take them along while the message went on.
    const inUnit = this.em.queryRunner !== undefined;
    const riders = inUnit ? [] : claimRiders();
    const moveValues = this.moveValues(change, at);
    /** The task's row as it was, whether it moved, and (to an end state) MAY_END_JOB. */
    let found: { row: TaskRow; moved: boolean; mayEndJob: boolean | null | undefined } | undefined;
    try {
      // A move that commits by itself may go out with others waiting beside it (move-batches.ts).
      const turn = inUnit ? undefined : await batchersOf(this.em).moves.turn({ taskId, to, allowed, values: moveValues, riders });
      if (turn === undefined || turn.alone) {
        try {
          const [one] = await queryRows<TaskRow & { moves: number | string; mayEndJob?: boolean }>(
            this.em,
            moveStatement(to, allowed, riders),
            [...riders.flatMap((rider) => rider.values), taskId, ...moveValues],
          );
          if (one) {
            const { moves, mayEndJob, ...row } = one;
            found = { row, moved: Number(moves) > 0, mayEndJob };
          }
        } finally {
          turn?.done();
        }
      } else if (turn.result) {
        const { didMove, mayEndJob, ...row } = turn.result;
        found = { row: row as unknown as TaskRow, moved: didMove, mayEndJob };
      }
    } catch (err) {
      unclaimRiders(riders);
      throw err;
    }
    if (!found) return { moved: false, task: undefined };
    const { moved, mayEndJob } = found;
    const row = taskRow(found.row);
    if (!moved) return { moved: false, task: toTask(row) };
    const from = row.status as TaskStatus;
    if (row.jobId && TERMINAL.has(to) && from !== to) await this.endings.ended(row.jobId, at, mayEndJob !== false);
    return { moved: true, task: toTask({ ...row, ...changedColumns(to, row.historySeq + 1, at, change) } as TaskRow) };
  }

  /** The values of a move statement after its task id(s), in the order moveCtes takes them. */
  private moveValues(change: TaskChange, at: number): unknown[] {
    return [
      at,
      nullable(change.resultCode),
      nullable(change.dmStatus),
      change.results !== undefined ? JSON.stringify(change.results) : null,
      nullable(change.correlator),
      change.event,
      historyCode(change),
      change.detail ?? null,
    ];
  }

  async transitionMany(taskIds: readonly string[], to: TaskStatus, change: TaskChange, at: number): Promise<Map<string, TransitionResult>> {
    const results = new Map<string, TransitionResult>();
    if (taskIds.length === 0) return results;
    if (!this.postgres) {
      // One turn at the database (transactor.ts: MULTI_STATEMENT_WRITES), the statements in process.
      for (const id of taskIds) results.set(id, await this.transition(id, to, change, at));
      return results;
    }
    const allowed = statesMovingTo(to, change);
    const rows =
      allowed.length === 0
        ? []
        : await queryRows<TaskRow & { didMove: boolean }>(this.em, moveManyStatement(to, allowed), [[...taskIds], ...this.moveValues(change, at)]);
    const ended = new Set<string>();
    for (const { didMove, ...rest } of rows) {
      const row = taskRow(rest as TaskRow);
      if (!didMove) {
        results.set(row.taskId, { moved: false, task: toTask(row) });
        continue;
      }
      if (row.jobId && TERMINAL.has(to) && row.status !== to) ended.add(row.jobId);
      results.set(row.taskId, { moved: true, task: toTask({ ...row, ...changedColumns(to, row.historySeq + 1, at, change) } as TaskRow) });
    }
    // No MAY_END_JOB here: a batch's moves may end many of a job's tasks, so its job's end is always looked at.
    for (const jobId of ended) await this.endings.ended(jobId, at);
    for (const id of taskIds) if (!results.has(id)) results.set(id, { moved: false, task: allowed.length === 0 ? await this.get(id) : undefined });
    return results;
  }

  async note(taskId: string, change: TaskChange, at: number): Promise<void> {
    if (this.postgres) {
      const alone = () => execute(this.em, NOTE_PG, [at, taskId, at, change.event, historyCode(change), change.detail ?? null]);
      // A note that commits by itself may go out with others waiting beside it (noteBatcher).
      await (this.em.queryRunner === undefined ? batchersOf(this.em).notes.run({ taskId, change, at }, alone) : alone());
      return;
    }
    const row = await this.lockedRow(taskId);
    if (!row) return;
    const seq = row.historySeq + 1;
    await execute(this.em, BUMP_TASK_SEQ, [seq, at, taskId]);
    const status = row.status as TaskStatus;
    await this.history_(taskId, seq, at, status, status, change);
  }

  async noteMany(notes: readonly TaskNote[], at: number): Promise<void> {
    if (notes.length === 0) return;
    if (new Set(notes.map((n) => n.taskId)).size !== notes.length) throw new Error('noteMany: at most one note per task');
    if (!this.postgres) {
      // One turn at the database (transactor.ts: MULTI_STATEMENT_WRITES), the statements in process.
      for (const n of notes) await this.note(n.taskId, n.change, at);
      return;
    }
    await execute(this.em, NOTE_MANY_PG, noteValues(notes.map((n) => ({ ...n, at }))));
  }

  private async history_(taskId: string, seq: number, at: number, from: TaskStatus | undefined, to: TaskStatus, c: TaskChange) {
    await execute(this.em, INSERT_HISTORY, this.historyValues(taskId, seq, at, from, to, c));
  }

  /** INSERT_HISTORY's parameters. */
  private historyValues(taskId: string, seq: number, at: number, from: TaskStatus | undefined, to: TaskStatus, c: TaskChange) {
    return [taskId, seq, at, nullable(from), to, c.event, historyCode(c), c.detail ?? null];
  }

  private async bumpJob(jobId: string, from: TaskStatus | undefined, to: TaskStatus, at: number): Promise<void> {
    await execute(this.em, bumpJobStatement(from, to), [at, jobId]);
    if (TERMINAL.has(to)) await finishJobIfDone(this.em, jobId, at);
  }

  async history(taskId: string): Promise<TaskHistoryEntry[]> {
    const rows = await this.em.getRepository(TaskHistoryEntity).find({ where: { taskId }, order: { seq: 'ASC' } });
    return rows.map(toEntry);
  }

  async openForDevice(deviceId: string, operationName: string): Promise<Task[]> {
    const rows = await this.tasks.find({
      where: { deviceId, operationName, status: In(['QUEUED', 'NOTIFYING', 'IN_SESSION', 'SCHEDULED', 'IN_PROGRESS']) },
      order: { createdAt: 'ASC' },
    });
    return rows.map(toTask);
  }

  async forDevice(deviceId: string, page: Page): Promise<Task[]> {
    // The (device_id, created_at) index serves the order; task id breaks ties in one millisecond.
    const rows = await this.tasks.find({
      where: { deviceId },
      order: { createdAt: 'DESC', taskId: 'DESC' },
      skip: page.offset,
      take: page.limit,
    });
    return rows.map((r) => toTask(taskRow(r)));
  }

  async stalled(now: number, retryMs: number, maxRetryMs: number, limit: number): Promise<{ taskId: string; since: number }[]> {
    const rows = await queryRows<{ taskId: string; since: number | string }>(this.em, SELECT_STALLED, [
      now - retryMs,
      now - retryMs,
      now,
      now - Math.min(maxRetryMs, now),
      limit,
    ]);
    return rows.map((r) => ({ taskId: r.taskId, since: Number(r.since) }));
  }

  async openTasksUsing(contentId: string): Promise<number> {
    const [r] = await queryRows<{ n: number | string }>(this.em, COUNT_OPEN_USING, [contentId]);
    return Number(r?.n ?? 0);
  }

  async notifiable(limit: number): Promise<string[]> {
    const rows = await this.tasks
      .createQueryBuilder('t')
      .select('t.task_id', 'id')
      .where("t.status = 'QUEUED'")
      .andWhere('(t.job_id IS NULL OR t.released_at IS NOT NULL)')
      .orderBy('t.created_at', 'ASC')
      .limit(limit)
      .getRawMany<{ id: string }>();
    return rows.map((r) => r.id);
  }
}
