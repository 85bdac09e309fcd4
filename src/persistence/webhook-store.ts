/**
 * Webhooks, their deliveries and the event pump's cursors (see
 * services/webhooks/ports.ts for what a cursor is on each database).
 */
import type { EntityManager } from 'typeorm';
import type { Page } from '../domain/registry.js';
import type { DeliveryState, Webhook, WebhookDelivery, WebhookEvent, WebhookEventType } from '../domain/webhooks.js';
import type { DeliveryCount, DeliveryKey, EventRead, EventStream, NewDelivery, WebhookStore } from '../services/webhooks/ports.js';
import { WebhookDeliveryEntity, type WebhookDeliveryRow, WebhookEntity, type WebhookRow } from './entities.js';
import { historyHorizon } from './pg-horizon.js';
import { epoch, execute, queryRows, type Statement, sql } from './raw-sql.js';

function toWebhook(r: WebhookRow): Webhook {
  return {
    webhookId: r.webhookId,
    url: r.url,
    events: JSON.parse(r.events) as string[],
    createdBy: r.createdBy,
    createdAt: new Date(Number(r.createdAt)),
  };
}

function toDelivery(r: WebhookDeliveryRow): WebhookDelivery {
  return {
    webhookId: r.webhookId,
    eventId: r.eventId,
    type: r.type as WebhookEventType,
    body: r.body,
    state: r.state as DeliveryState,
    attempts: r.attempts,
    ...(r.lastStatus !== null ? { lastStatus: r.lastStatus } : {}),
    ...(r.lastError !== null ? { lastError: r.lastError } : {}),
    createdAt: new Date(Number(r.createdAt)),
    updatedAt: new Date(Number(r.updatedAt)),
    ...(r.deliveredAt !== null ? { deliveredAt: new Date(Number(r.deliveredAt)) } : {}),
  };
}

/** A history row as the event queries give it (either stream). */
interface HistoryEventRow {
  /** SQLite: rowid; PostgreSQL: the writing transaction's id, as text. */
  pos: number | string;
  id: string;
  seq: number;
  at: number | string;
  fromStatus: string | null;
  toStatus: string;
  event: string;
  code?: number | null;
  by?: string | null;
  detail: string | null;
  jobId: string | null;
  deviceId?: string | null;
  operationName: string | null;
}

/** Only changes of state are events: a note (from = to) is not; a first row (from NULL) is the creation. */
const IS_EVENT = '(h."seq" = 1 OR h."from_status" <> h."to_status")';
const STREAM_SQL: Record<EventStream, { table: string; id: string; select: string; join: string }> = {
  task: {
    table: 'task_history',
    id: 'task_id',
    select:
      'h."task_id" AS "id", h."seq", h."at", h."from_status" AS "fromStatus", h."to_status" AS "toStatus", h."event", h."code", h."detail", ' +
      't."job_id" AS "jobId", t."device_id" AS "deviceId", t."operation_name" AS "operationName"',
    join: 'LEFT JOIN "task" t ON t."task_id" = h."task_id"',
  },
  job: {
    table: 'job_history',
    id: 'job_id',
    select:
      'h."job_id" AS "id", h."seq", h."at", h."from_status" AS "fromStatus", h."to_status" AS "toStatus", h."event", h."by", h."detail", ' +
      'h."job_id" AS "jobId", j."operation_name" AS "operationName"',
    join: 'LEFT JOIN "job" j ON j."job_id" = h."job_id"',
  },
};

/** Per stream: [idle check and end, events after a cursor], SQLite then PostgreSQL. */
const SQLITE_READS = mapStreams((s) => [
  sql(`SELECT EXISTS (SELECT 1 FROM "webhook") AS "any", COALESCE((SELECT MAX(rowid) FROM "${s.table}"), 0) AS "end"`),
  sql(`SELECT h.rowid AS "pos", ${s.select} FROM "${s.table}" h ${s.join} WHERE h.rowid > ? AND ${IS_EVENT} ORDER BY h.rowid LIMIT ?`),
]);
/**
 * PostgreSQL: what the horizon is made of (pg-horizon.ts): the snapshot's
 * next transaction id, and the ids of this database's transactions still
 * running or prepared. Every such transaction has an id at or above the
 * horizon, and so does every transaction that starts later; a row below it
 * is therefore committed, or never will be, by the time the next statement
 * takes its snapshot. Transactions of other databases on the server cannot
 * write these tables and do not hold it back (a snapshot's xmin would be held
 * by any of them).
 */
const PG_RUNNING =
  'pg_snapshot_xmax(pg_current_snapshot())::text AS "next", (SELECT string_agg("r", \',\') FROM (' +
  'SELECT backend_xid::text AS "r" FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL ' +
  'UNION ALL SELECT "transaction"::text FROM pg_prepared_xacts WHERE "database" = current_database()) "x") AS "running"';
// Read below the horizon taken by the statement before. `tx >= ?` walks the (tx) index in order;
// the rows of one transaction come in (id, seq) order from an incremental sort of that group.
const POSTGRES_READS = mapStreams((s) => [
  sql(`SELECT EXISTS (SELECT 1 FROM "webhook") AS "any", ${PG_RUNNING}`),
  sql(
    `SELECT h."tx"::text AS "pos", ${s.select} FROM "${s.table}" h ${s.join} ` +
      `WHERE h."tx" >= CAST(? AS xid8) AND (h."tx", h."${s.id}", h."seq") > (CAST(? AS xid8), ?, ?) ` +
      `AND h."tx" < CAST(? AS xid8) AND ${IS_EVENT} ` +
      `ORDER BY h."tx", h."${s.id}", h."seq" LIMIT ?`,
  ),
]);

function mapStreams(f: (s: (typeof STREAM_SQL)[EventStream]) => [Statement, Statement]): Record<EventStream, [Statement, Statement]> {
  return { task: f(STREAM_SQL.task), job: f(STREAM_SQL.job) };
}

const SELECT_CURSOR = sql('SELECT "position" FROM "webhook_cursor" WHERE "stream" = ?');
const START_CURSOR = sql('INSERT INTO "webhook_cursor" ("stream", "position") VALUES (?, ?) ON CONFLICT ("stream") DO NOTHING');
const MOVE_CURSOR = sql('UPDATE "webhook_cursor" SET "position" = ? WHERE "stream" = ? AND "position" = ? RETURNING "stream"');
const CREATE_CURSOR = sql('INSERT INTO "webhook_cursor" ("stream", "position") VALUES (?, ?) ON CONFLICT ("stream") DO NOTHING RETURNING "stream"');
const PENDING_SINCE = sql(
  'SELECT "webhook_id" AS "webhookId", "event_id" AS "eventId" FROM "webhook_delivery" WHERE "state" = \'PENDING\' AND "updated_at" < ? ORDER BY "updated_at" LIMIT ?',
);
const PRUNE = sql(
  'DELETE FROM "webhook_delivery" WHERE ("webhook_id", "event_id") IN (SELECT "webhook_id", "event_id" FROM "webhook_delivery" ' +
    'WHERE "state" IN (\'DELIVERED\', \'FAILED\') AND "updated_at" < ? LIMIT ?) RETURNING "event_id"',
);
/** Deliveries per webhook and state, for the console (the primary key leads with webhook_id). */
const DELIVERY_COUNTS = sql('SELECT "webhook_id" AS "webhookId", "state", COUNT(*) AS "n" FROM "webhook_delivery" GROUP BY "webhook_id", "state"');
const RECORD_ATTEMPT = sql(
  'UPDATE "webhook_delivery" SET "state" = ?, "attempts" = ?, "last_status" = ?, "last_error" = ?, "updated_at" = ?, ' +
    '"delivered_at" = ? WHERE "webhook_id" = ? AND "event_id" = ?',
);
/** Every delivery costs one of these (a worker's attempt): plain SQL, prepared once (see raw-sql.ts). */
const SELECT_DELIVERY = sql(
  'SELECT "webhook_id" AS "webhookId", "event_id" AS "eventId", "type", "body", "state", "attempts", "last_status" AS "lastStatus", ' +
    '"last_error" AS "lastError", "created_at" AS "createdAt", "updated_at" AS "updatedAt", "delivered_at" AS "deliveredAt" ' +
    'FROM "webhook_delivery" WHERE "webhook_id" = ? AND "event_id" = ?',
);
const SELECT_WEBHOOK = sql(
  'SELECT "webhook_id" AS "webhookId", "url", "events", "secret", "created_by" AS "createdBy", "created_at" AS "createdAt" FROM "webhook" WHERE "webhook_id" = ?',
);
const DELIVERY_COLUMNS = 9;
/** Rows per INSERT (SQLite allows 32,766 parameters a statement). */
const DELIVERY_CHUNK = 200;
const insertStatements = new Map<number, Statement>();
function insertDeliveries(rows: number): Statement {
  let s = insertStatements.get(rows);
  if (!s) {
    const one = `(${new Array(DELIVERY_COLUMNS).fill('?').join(', ')})`;
    s = sql(
      'INSERT INTO "webhook_delivery" ("webhook_id", "event_id", "type", "body", "state", "attempts", "created_at", "updated_at", "delivered_at") VALUES ' +
        `${new Array(rows).fill(one).join(', ')} ON CONFLICT ("webhook_id", "event_id") DO NOTHING`,
    );
    insertStatements.set(rows, s);
  }
  return s;
}

/** A PostgreSQL position: [transaction id, row id, seq]. */
type PgPosition = [string, string, number];

export class TypeormWebhookStore implements WebhookStore {
  private readonly postgres: boolean;

  constructor(private readonly em: EntityManager) {
    this.postgres = em.connection.options.type === 'postgres';
  }

  private get hooks() {
    return this.em.getRepository(WebhookEntity);
  }

  private get rows() {
    return this.em.getRepository(WebhookDeliveryEntity);
  }

  async insert(w: Webhook, sealedSecret: string): Promise<void> {
    await this.hooks.insert({
      webhookId: w.webhookId,
      url: w.url,
      events: JSON.stringify(w.events),
      secret: sealedSecret,
      createdBy: w.createdBy,
      createdAt: w.createdAt.getTime(),
    });
  }

  async list(): Promise<Webhook[]> {
    return (await this.hooks.find({ order: { createdAt: 'ASC', webhookId: 'ASC' } })).map(toWebhook);
  }

  async getSealed(webhookId: string): Promise<{ webhook: Webhook; sealedSecret: string } | undefined> {
    const [r] = await queryRows<WebhookRow>(this.em, SELECT_WEBHOOK, [webhookId]);
    return r ? { webhook: toWebhook(r), sealedSecret: r.secret } : undefined;
  }

  async delete(webhookId: string): Promise<boolean> {
    await this.rows.delete({ webhookId });
    const r = await this.hooks.delete({ webhookId });
    return (r.affected ?? 0) > 0;
  }

  async cursor(stream: EventStream): Promise<string | undefined> {
    const [r] = await queryRows<{ position: string }>(this.em, SELECT_CURSOR, [stream]);
    return r?.position;
  }

  async startCursor(stream: EventStream): Promise<void> {
    await execute(this.em, START_CURSOR, [stream, await this.end(stream)]);
  }

  async moveCursor(stream: EventStream, from: string | undefined, to: string): Promise<boolean> {
    const moved =
      from === undefined
        ? await queryRows(this.em, CREATE_CURSOR, [stream, to])
        : await queryRows(this.em, MOVE_CURSOR, [to, stream, from]);
    return moved.length > 0;
  }

  private async end(stream: EventStream): Promise<string> {
    return this.position(await this.state(stream).then((r) => r.end));
  }

  /** Whether any webhook exists, and where the stream ends now (SQLite: the last rowid; PostgreSQL: the horizon). */
  private async state(stream: EventStream): Promise<{ any: boolean; end: string }> {
    const [idle] = this.postgres ? POSTGRES_READS[stream] : SQLITE_READS[stream];
    const [r] = await queryRows<{ any: number | boolean; end?: number | string; next?: string; running?: string | null }>(this.em, idle, []);
    if (!this.postgres) return { any: Boolean(r!.any), end: String(r!.end) };
    const running = r!.running ? r!.running.split(',').map(Number) : [];
    return { any: Boolean(r!.any), end: historyHorizon(BigInt(r!.next!), running).toString() };
  }

  /** The cursor text of a stream's end (the idle query's `end`). */
  private position(end: number | string): string {
    return this.postgres ? JSON.stringify([String(end), '', 0] satisfies PgPosition) : String(end);
  }

  async events(stream: EventStream, cursor: string | undefined, limit: number): Promise<EventRead> {
    const [, after] = this.postgres ? POSTGRES_READS[stream] : SQLITE_READS[stream];
    if (cursor === undefined) return { kind: 'idle', end: await this.end(stream) };
    const state = await this.state(stream);
    if (!state.any) return { kind: 'idle', end: this.position(state.end) };
    const at = JSON.parse(this.postgres ? cursor : '[]') as PgPosition;
    const params = this.postgres ? [at[0], ...at, state.end, limit] : [Number(cursor), limit];
    const rows = await queryRows<HistoryEventRow>(this.em, after, params);
    const last = rows.at(-1);
    const next = !last ? cursor : this.postgres ? JSON.stringify([String(last.pos), last.id, last.seq] satisfies PgPosition) : String(last.pos);
    return { kind: 'events', events: rows.map((r) => toEvent(stream, r)), next };
  }

  async addDeliveries(deliveries: readonly NewDelivery[]): Promise<void> {
    for (let i = 0; i < deliveries.length; i += DELIVERY_CHUNK) {
      const chunk = deliveries.slice(i, i + DELIVERY_CHUNK);
      const params = chunk.flatMap((d) => [d.webhookId, d.eventId, d.type, d.body, 'PENDING', 0, d.at, d.at, null]);
      await execute(this.em, insertDeliveries(chunk.length), params);
    }
  }

  async getDelivery(key: DeliveryKey): Promise<WebhookDelivery | undefined> {
    const [r] = await queryRows<WebhookDeliveryRow>(this.em, SELECT_DELIVERY, [key.webhookId, key.eventId]);
    return r ? toDelivery(r) : undefined;
  }

  async recordAttempt(
    key: DeliveryKey,
    o: { state: DeliveryState; attempts: number; lastStatus?: number; lastError?: string },
    at: number,
  ): Promise<void> {
    await execute(this.em, RECORD_ATTEMPT, [
      o.state,
      o.attempts,
      o.lastStatus ?? null,
      o.lastError ?? null,
      at,
      o.state === 'DELIVERED' ? at : null,
      key.webhookId,
      key.eventId,
    ]);
  }

  async deliveries(filter: { webhookId?: string; state?: DeliveryState }, page: Page): Promise<WebhookDelivery[]> {
    const rows = await this.rows.find({
      where: { ...(filter.webhookId ? { webhookId: filter.webhookId } : {}), ...(filter.state ? { state: filter.state } : {}) },
      order: { createdAt: 'DESC', eventId: 'DESC' },
      skip: page.offset,
      take: page.limit,
    });
    return rows.map(toDelivery);
  }

  async deliveryCounts(): Promise<DeliveryCount[]> {
    const rows = await queryRows<{ webhookId: string; state: string; n: number | string }>(this.em, DELIVERY_COUNTS, []);
    return rows.map((r) => ({ webhookId: r.webhookId, state: r.state as DeliveryState, count: Number(r.n) }));
  }

  async pendingSince(before: number, limit: number): Promise<DeliveryKey[]> {
    return queryRows<DeliveryKey>(this.em, PENDING_SINCE, [before, limit]);
  }

  async prune(before: number, limit: number): Promise<number> {
    return (await queryRows(this.em, PRUNE, [before, limit])).length;
  }
}

function toEvent(stream: EventStream, r: HistoryEventRow): WebhookEvent {
  const at = new Date(epoch(r.at));
  const common = {
    ...(r.jobId !== null ? { jobId: r.jobId } : {}),
    ...(r.operationName !== null ? { operationName: r.operationName } : {}),
    seq: r.seq,
    ...(r.fromStatus !== null ? { fromStatus: r.fromStatus } : {}),
    status: r.toStatus,
    event: r.event,
    ...(r.detail !== null ? { detail: r.detail } : {}),
  };
  if (stream === 'job') {
    return { id: `job-${r.id}-${r.seq}`, type: 'job.status', at, data: { ...common, ...(r.by ? { by: r.by } : {}) } };
  }
  return {
    id: `task-${r.id}-${r.seq}`,
    type: r.seq === 1 ? 'task.created' : 'task.status',
    at,
    data: {
      taskId: r.id,
      ...(r.deviceId ? { deviceId: r.deviceId } : {}),
      ...common,
      ...(r.code !== null && r.code !== undefined ? { code: r.code } : {}),
    },
  };
}
