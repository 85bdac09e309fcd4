/**
 * The tasks of a job that targets a filter over the registry, written chunk by
 * chunk inside the database (INSERT ... SELECT over a range of device ids):
 * no device list passes through the gateway's memory, each chunk is one short
 * transaction that moves the job's cursor with the tasks it writes, and a
 * chunk's range is bounded in devices walked (matching or not), so a
 * selective filter costs no long scan in one transaction.
 *
 * Task ids are `<jobId>-<seq>`, seq numbering the matching devices in device
 * id order: a chunk written twice would fail on the primary key, never
 * duplicate a target.
 */
import type { EntityManager } from 'typeorm';
import type { ExpansionChunk, ExpansionFilter, ExpansionState, JobExpansionStore } from '../services/ports.js';
import { epoch, execute, queryRows, type Statement, sql } from './raw-sql.js';

interface StateRow {
  jobId: string;
  filter: string;
  afterDeviceId: string;
  nextSeq: number | string;
  deadline: number | string;
  done: number | string;
}

const STATE_COLUMNS =
  '"job_id" AS "jobId", "filter", "after_device_id" AS "afterDeviceId", "next_seq" AS "nextSeq", "deadline", "done"';
const SELECT_STATE = sql(`SELECT ${STATE_COLUMNS} FROM "job_expansion" WHERE "job_id" = ?`);
const SELECT_STATE_FOR_UPDATE = sql(`SELECT ${STATE_COLUMNS} FROM "job_expansion" WHERE "job_id" = ? FOR UPDATE`);
const INSERT_STATE = sql(
  'INSERT INTO "job_expansion" ("job_id", "filter", "after_device_id", "next_seq", "deadline", "done", "updated_at") VALUES (?, ?, \'\', 1, ?, 0, ?)',
);
const MOVE_CURSOR = sql(
  'UPDATE "job_expansion" SET "after_device_id" = ?, "next_seq" = ?, "done" = ?, "updated_at" = ? WHERE "job_id" = ?',
);
const STOP = sql('UPDATE "job_expansion" SET "done" = 1, "updated_at" = ? WHERE "job_id" = ?');
const STALE = sql('SELECT "job_id" AS "jobId" FROM "job_expansion" WHERE "done" = 0 AND "updated_at" < ? ORDER BY "updated_at" LIMIT ?');
/** The id that closes a chunk's range: the rangeSize-th device after the cursor (none: the range runs to the end). */
const RANGE_END = sql('SELECT "device_id" AS "deviceId" FROM "device_instance" WHERE "device_id" > ? ORDER BY "device_id" LIMIT 1 OFFSET ?');
const LAST_WRITTEN = sql(
  'SELECT "job_seq" AS "seq", "device_id" AS "deviceId" FROM "task" WHERE "job_id" = ? AND "job_seq" > ? ORDER BY "job_seq" DESC LIMIT 1',
);
const INSERT_HISTORY = sql(
  'INSERT INTO "task_history" ("task_id", "seq", "at", "from_status", "to_status", "event", "code", "detail") ' +
    'SELECT "task_id", 1, CAST(? AS BIGINT), NULL, \'QUEUED\', \'created\', NULL, CAST(? AS TEXT) FROM "task" ' +
    'WHERE "job_id" = ? AND "job_seq" > ? AND "job_seq" <= ?',
);

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/** The filter's conditions beyond the id range, and their parameters. */
function filterConditions(f: ExpansionFilter): { sql: string[]; params: (string | number)[]; key: string } {
  const conds: string[] = [];
  const params: (string | number)[] = [];
  if (f.oids) {
    conds.push(`"capability_oid" IN (${placeholders(f.oids.length)})`);
    params.push(...f.oids);
  }
  // substr, not LIKE: SQLite's LIKE ignores ASCII case, and a prefix is exact.
  if (f.deviceIdPrefix) {
    conds.push('substr("device_id", 1, ?) = ?');
    params.push(f.deviceIdPrefix.length, f.deviceIdPrefix);
  }
  if (f.phoneNumberPrefix) {
    conds.push('substr("phone_number", 1, ?) = ?');
    params.push(f.phoneNumberPrefix.length, f.phoneNumberPrefix);
  }
  return { sql: conds, params, key: `${f.oids?.length ?? '*'}:${f.deviceIdPrefix ? 'i' : ''}:${f.phoneNumberPrefix ? 'p' : ''}` };
}

/** Chunk statements by shape (capability count, prefixes, bounded range): a handful per process. */
const chunkStatements = new Map<string, Statement>();

function chunkStatement(f: ExpansionFilter, bounded: boolean): { statement: Statement; filterParams: (string | number)[] } {
  const conds = filterConditions(f);
  const key = `${conds.key}:${bounded ? 'b' : 'u'}`;
  let statement = chunkStatements.get(key);
  if (!statement) {
    const where = ['"device_id" > ?', ...(bounded ? ['"device_id" <= ?'] : []), ...conds.sql].join(' AND ');
    statement = sql(
      'INSERT INTO "task" ("task_id", "job_id", "device_id", "phone_number", "operation_name", "operation", "status", ' +
        '"correlator", "b_optin", "accept_device_policy", "test_cycle", "deadline", "history_seq", "job_seq", "content_id", ' +
        '"created_by", "created_at", "updated_at") ' +
        'SELECT CAST(? AS TEXT) || CAST(CAST(? AS BIGINT) + "rn" AS TEXT), ?, "device_id", "phone_number", ?, ?, \'QUEUED\', ' +
        'CAST(? AS TEXT) || CAST(CAST(? AS BIGINT) + "rn" AS TEXT), FALSE, 30, FALSE, CAST(? AS BIGINT), 1, ' +
        'CAST(? AS BIGINT) + "rn", ?, ?, CAST(? AS BIGINT), CAST(? AS BIGINT) ' +
        `FROM (SELECT "device_id", "phone_number", ROW_NUMBER() OVER (ORDER BY "device_id") AS "rn" FROM "device_instance" ` +
        `WHERE ${where} ORDER BY "device_id" LIMIT ?) AS "d"`,
    );
    chunkStatements.set(key, statement);
  }
  return { statement, filterParams: conds.params };
}

const countStatements = new Map<string, Statement>();

function toState(r: StateRow): ExpansionState {
  return {
    jobId: r.jobId,
    filter: JSON.parse(r.filter) as ExpansionFilter,
    afterDeviceId: r.afterDeviceId,
    nextSeq: Number(r.nextSeq),
    deadline: epoch(r.deadline),
    done: Number(r.done) === 1,
  };
}

export class TypeormJobExpansionStore implements JobExpansionStore {
  constructor(private readonly em: EntityManager) {}

  private get postgres(): boolean {
    return this.em.connection.options.type === 'postgres';
  }

  async insert(state: Omit<ExpansionState, 'afterDeviceId' | 'nextSeq' | 'done'>, at: number): Promise<void> {
    await execute(this.em, INSERT_STATE, [state.jobId, JSON.stringify(state.filter), state.deadline, at]);
  }

  async get(jobId: string, lock = false): Promise<ExpansionState | undefined> {
    const [r] = await queryRows<StateRow>(this.em, lock && this.postgres ? SELECT_STATE_FOR_UPDATE : SELECT_STATE, [jobId]);
    return r ? toState(r) : undefined;
  }

  async writeChunk(state: ExpansionState, chunk: ExpansionChunk): Promise<{ written: number; done: boolean }> {
    const { jobId, filter, afterDeviceId: after, nextSeq } = state;
    const [end] = await queryRows<{ deviceId: string }>(this.em, RANGE_END, [after, chunk.rangeSize - 1]);
    const { statement, filterParams } = chunkStatement(filter, end !== undefined);
    const base = nextSeq - 1;
    await execute(this.em, statement, [
      `${jobId}-`,
      base,
      jobId,
      chunk.operationName,
      chunk.operationJson,
      chunk.correlatorPrefix === null ? null : `${chunk.correlatorPrefix}${jobId}-`,
      base,
      state.deadline,
      base,
      chunk.contentId,
      chunk.createdBy,
      chunk.at,
      chunk.at,
      after,
      ...(end ? [end.deviceId] : []),
      ...filterParams,
      chunk.limit,
    ]);
    const [last] = await queryRows<{ seq: number | string; deviceId: string }>(this.em, LAST_WRITTEN, [jobId, base]);
    const written = last ? Number(last.seq) - base : 0;
    if (written > 0) await execute(this.em, INSERT_HISTORY, [chunk.at, `job ${jobId}`, jobId, base, base + written]);
    // A chunk cut short by its limit goes on after its last device; otherwise after its range.
    const full = written === chunk.limit;
    const cursor = full ? last!.deviceId : end?.deviceId;
    const done = cursor === undefined;
    await execute(this.em, MOVE_CURSOR, [cursor ?? after, nextSeq + written, done ? 1 : 0, chunk.at, jobId]);
    return { written, done };
  }

  async stop(jobId: string, at: number): Promise<void> {
    await execute(this.em, STOP, [at, jobId]);
  }

  async stale(before: number, limit: number): Promise<string[]> {
    return (await queryRows<{ jobId: string }>(this.em, STALE, [before, limit])).map((r) => r.jobId);
  }

  async countByCapability(oids: string[], filter: ExpansionFilter): Promise<Map<string, number>> {
    if (oids.length === 0) return new Map();
    const conds = filterConditions({ ...filter, oids });
    const key = conds.key;
    let statement = countStatements.get(key);
    if (!statement) {
      statement = sql(
        `SELECT "capability_oid" AS "oid", COUNT(*) AS "n" FROM "device_instance" WHERE ${conds.sql.join(' AND ')} GROUP BY "capability_oid"`,
      );
      countStatements.set(key, statement);
    }
    const rows = await queryRows<{ oid: string; n: number | string }>(this.em, statement, conds.params);
    return new Map(rows.map((r) => [r.oid, Number(r.n)]));
  }
}
