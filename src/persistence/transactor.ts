/**
 * Builds the stores over a data source, and runs units of work in one
 * transaction.
 *
 * SQLite (better-sqlite3) has a single connection and TypeORM does not
 * serialise transactions on it: two concurrent units of work collide, and a
 * statement issued outside a transaction while another is open silently
 * joins it (and is lost if that one rolls back). So on SQLite every unit of
 * work and every plain store call takes its turn on one queue. Inside a unit
 * of work, `stores` resolves to that unit's transactional stores
 * (AsyncLocalStorage), so nested use cannot deadlock or escape the
 * transaction. PostgreSQL uses its connection pool as is.
 *
 * The turns waiting on the queue share one transaction (group commit, see
 * GroupCommitQueue): each runs in its own savepoint, so it commits or rolls
 * back alone, and none is answered before the shared COMMIT.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DataSource, EntityManager } from 'typeorm';
import type { Sealer, Stores, Transactor } from '../services/ports.js';
import { TypeormDeviceAlertStore } from './alert-store.js';
import { TypeormAuditTrail } from './audit-store.js';
import { execute, sql } from './raw-sql.js';
import { TypeormCapabilityStore, TypeormDeviceStore } from './registry-stores.js';
import { TypeormInventoryStore } from './inventory-store.js';
import { TypeormContentStore } from './content-store.js';
import { TypeormJobExpansionStore } from './job-expansion-store.js';
import { countsInDeltas, NO_ENDINGS, type TaskEndings } from './job-counters.js';
import { FOLD_BATCH, finishJobsAfterCommit, foldJobCounters, TypeormJobStore } from './job-store.js';
import { TypeormTaskStore } from './task-store.js';
import { TypeormUserStore } from './user-store.js';
import { TypeormWebhookStore } from './webhook-store.js';

function storesOver(em: EntityManager, sealer: Sealer, endings: TaskEndings = NO_ENDINGS): Stores {
  return {
    capabilities: new TypeormCapabilityStore(em),
    devices: new TypeormDeviceStore(em, sealer),
    audit: new TypeormAuditTrail(em),
    users: new TypeormUserStore(em),
    alerts: new TypeormDeviceAlertStore(em),
    tasks: new TypeormTaskStore(em, endings),
    jobs: new TypeormJobStore(em),
    inventory: new TypeormInventoryStore(em),
    contents: new TypeormContentStore(em),
    expansions: new TypeormJobExpansionStore(em),
    webhooks: new TypeormWebhookStore(em),
  };
}

/**
 * Turns at the database, one at a time in arrival order, with group commit:
 * the turns that are waiting when a transaction begins, or that arrive while
 * it runs, share it (up to MAX_TURNS_PER_COMMIT).
 *
 * Why: on SQLite the COMMIT of each createDeviceInstance wrote its ~8 dirty
 * pages (device row, its three indexes, audit row, its two indexes, the
 * autoincrement counter) to the WAL with ~17 pwrite calls: the largest single
 * cost of the request (~20% of the gateway's CPU in a profile). Consecutive
 * inserts dirty the same pages, so one commit for the units waiting under load
 * (16 a commit on average in the SOAP bench) is far cheaper: the unit of work
 * of createDeviceInstance with 32 in flight went from 145-290 µs to 65-80 µs
 * each (the transactor alone, MAX_TURNS_PER_COMMIT 1 against 64, loaded box).
 *
 * What it keeps: every turn after the first of a transaction runs in its own
 * SAVEPOINT, so a turn that throws is rolled back alone (a first turn that
 * throws rolls back the transaction, which holds nothing else); a turn sees
 * the turns before it, as it would if each had committed. Every turn's result,
 * value or error, is handed back only after the shared COMMIT, so nothing is
 * acknowledged before it is as durable as with one commit per turn. If a
 * savepoint or the COMMIT fails, every turn of that transaction fails with
 * that error and nothing of it is kept. A plain store call with nothing else
 * waiting runs on its own, outside any transaction, as does a plain read at
 * the head of the queue.
 */
export class GroupCommitQueue {
  private readonly waiting: Turn[] = [];
  private draining = false;

  constructor(private readonly ds: DataSource) {}

  /**
   * A unit of work: runs in a transaction (shared with other turns). A
   * `plain` store call that only reads (`readOnly`) needs no transaction of
   * its own: at the head of the queue it runs on its own, in one it needs no
   * savepoint.
   */
  take<T>(work: (em: EntityManager) => Promise<T>, plain = false, readOnly = false, atomic = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ work, plain, readOnly: plain && readOnly, atomic, resolve: resolve as (v: unknown) => void, reject });
      if (!this.draining) {
        this.draining = true;
        // Started on a microtask so that turns queued in the same tick share the first transaction.
        queueMicrotask(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const head = this.waiting[0]!;
        // A lone store call, or a read at the head, runs on its own outside any
        // transaction: a read takes no write lock (other processes sharing the
        // file go on writing) and answers without waiting for a COMMIT.
        if (head.plain && (head.readOnly || (this.waiting.length === 1 && !head.atomic))) {
          this.waiting.shift();
          await runTurn(head, this.ds.manager).then(head.resolve, head.reject);
        } else {
          await this.transaction();
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async transaction(): Promise<void> {
    const qr = this.ds.createQueryRunner();
    const done: { turn: Turn; ok: boolean; value: unknown }[] = [];
    let failure: { err: unknown } | undefined;
    try {
      await qr.startTransaction();
      if (this.ds.options.type === 'better-sqlite3') await execute(qr.manager, TAKE_WRITE_LOCK, []);
    } catch (err) {
      // Could not begin: the first turn gets the error; the others try again.
      if (qr.isTransactionActive) await qr.rollbackTransaction().catch(() => undefined);
      await qr.release().catch(() => undefined);
      this.waiting.shift()!.reject(err);
      return;
    }
    try {
      while (this.waiting.length > 0 && done.length < MAX_TURNS_PER_COMMIT) {
        const entry = { turn: this.waiting.shift()!, ok: false, value: undefined as unknown };
        // Listed first, so that whatever fails from here on, the turn is answered.
        done.push(entry);
        const first = done.length === 1;
        // A read leaves nothing to roll back: it needs no savepoint (two statements a turn).
        const savepoint = !first && !entry.turn.readOnly;
        if (savepoint) await execute(qr.manager, SAVEPOINT, []);
        try {
          entry.value = await entry.turn.work(qr.manager);
          entry.ok = true;
        } catch (err) {
          entry.value = err;
        }
        if (first && !entry.ok) break; // rolled back with the transaction below
        if (savepoint && !entry.ok) await execute(qr.manager, ROLLBACK_TO, []);
        if (savepoint) await execute(qr.manager, RELEASE, []);
      }
      if (done.length === 1 && !done[0]!.ok) await qr.rollbackTransaction();
      else await qr.commitTransaction();
    } catch (err) {
      failure = { err };
      await qr.rollbackTransaction().catch(() => undefined);
    } finally {
      await qr.release().catch(() => undefined);
    }
    for (const d of done) {
      if (failure) d.turn.reject(failure.err);
      else if (d.ok) d.turn.resolve(d.value);
      else d.turn.reject(d.value);
    }
  }
}

interface Turn {
  work: (em: EntityManager) => Promise<unknown>;
  /** A single store call (not a unit of work). */
  plain: boolean;
  /** A single store call that only reads (READ_ONLY_CALLS). */
  readOnly: boolean;
  /** A single store call of several statements that must not run outside a transaction (MULTI_STATEMENT_WRITES). */
  atomic: boolean;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** A turn's work, a synchronous throw included, as a promise (a lost throw would leave its caller waiting forever). */
async function runTurn(turn: Turn, em: EntityManager): Promise<unknown> {
  return turn.work(em);
}

/** Turns sharing one COMMIT at most: bounds the wait of the first and what a failed COMMIT takes down. */
const MAX_TURNS_PER_COMMIT = 64;
/**
 * Makes SQLite take the write lock at the start of the transaction (as BEGIN
 * IMMEDIATE would; TypeORM only issues a deferred BEGIN). Several processes
 * may share the file (api, dm, worker): a deferred transaction that reads
 * and then writes fails at once with SQLITE_BUSY_SNAPSHOT when another
 * process committed in between (the busy timeout does not apply to that),
 * while one that takes the lock first waits for the other writer (busy
 * timeout) and then sees its commit. A statement that writes takes the lock
 * even when it changes no row.
 */
const TAKE_WRITE_LOCK = sql('UPDATE "migrations" SET "id" = "id" WHERE 0 = 1');
const SAVEPOINT = sql('SAVEPOINT turn');
const RELEASE = sql('RELEASE turn');
const ROLLBACK_TO = sql('ROLLBACK TO turn');

/**
 * The store methods that only read (SELECTs through TypeORM's find or
 * raw-sql's queryRows, nothing else): called on their own, they run outside
 * any transaction, or inside one without a savepoint. A method listed here
 * must never write: a write of a failing one would not be rolled back alone.
 * The DM server's device read is the hot one (every DM message).
 */
const READ_ONLY_CALLS: { readonly [K in keyof Stores]?: ReadonlySet<string> } = {
  devices: new Set<keyof Stores['devices']>([
    'get',
    'getByPhone',
    'getView',
    'getViewByPhone',
    'list',
    'getMany',
    'targetsById',
    'targetsByPhone',
    'targetsByCapabilities',
    'ownersOfPhones',
    'openTaskCount',
  ]),
  capabilities: new Set<keyof Stores['capabilities']>(['get', 'ofDevice', 'rootsOfDevice', 'list', 'all', 'allOids']),
  jobs: new Set<keyof Stores['jobs']>([
    'get',
    'list',
    'listByDate',
    'history',
    'tasksOf',
    'releasable',
    'releasedQueued',
    'highestReleased',
    'waveStats',
    'openTaskIds',
  ]),
  tasks: new Set<keyof Stores['tasks']>(['get', 'getInContext', 'getInContextMany', 'history', 'openForDevice', 'forDevice', 'stalled', 'notifiable', 'openTasksUsing']),
  inventory: new Set<keyof Stores['inventory']>(['get']),
  contents: new Set<keyof Stores['contents']>(['get', 'list']),
  users: new Set<keyof Stores['users']>(['get']),
  alerts: new Set<keyof Stores['alerts']>(['forDevice']),
  webhooks: new Set<keyof Stores['webhooks']>(['list', 'getSealed', 'cursor', 'events', 'getDelivery', 'deliveries', 'pendingSince']),
};

/**
 * Store methods that write with several statements on SQLite (a task move:
 * the task, its history row, its job's counters): called on their own, they
 * still run in a transaction, as a unit of work would (the broker calls them
 * on their own, so that on PostgreSQL, where each is one statement, they
 * commit by themselves without BEGIN and COMMIT round trips).
 */
const MULTI_STATEMENT_WRITES: { readonly [K in keyof Stores]?: ReadonlySet<string> } = {
  tasks: new Set<keyof Stores['tasks']>(['transition', 'transitionMany', 'note', 'noteMany']),
};

export interface TransactorOptions {
  /** Take turns even when the database has a pool (tests compare both ways). */
  serialise?: boolean;
}

export class TypeormTransactor implements Transactor {
  readonly stores: Stores;
  private readonly current = new AsyncLocalStorage<Stores>();
  private readonly queue: GroupCommitQueue | undefined;
  /** Job counters partly in delta rows (PostgreSQL, job-counters.ts). */
  private readonly deltas: boolean;

  constructor(
    private readonly ds: DataSource,
    private readonly sealer: Sealer,
    opts: TransactorOptions = {},
  ) {
    this.deltas = countsInDeltas(ds.manager);
    // Outside a unit of work each statement commits by itself: a job's end is looked at right away.
    // A move's end of its job's task is looked at only when the move may have been the job's last (TaskEndings).
    const direct = storesOver(
      ds.manager,
      sealer,
      this.deltas ? { ended: (jobId, at, mayEndJob) => (mayEndJob === false ? undefined : this.finishAfterCommit(new Map([[jobId, at]]))) } : NO_ENDINGS,
    );
    const serialise = opts.serialise ?? ds.options.type === 'better-sqlite3';
    this.queue = serialise ? new GroupCommitQueue(ds) : undefined;
    this.stores = this.queue ? this.routed() : direct;
  }

  async run<T>(work: (stores: Stores) => Promise<T>): Promise<T> {
    const inside = this.current.getStore();
    if (inside) return work(inside);
    const ended = new Map<string, number>();
    const endings: TaskEndings = this.deltas ? { ended: (jobId, at) => void ended.set(jobId, at) } : NO_ENDINGS;
    const inTransaction = (em: EntityManager) => {
      const stores = storesOver(em, this.sealer, endings);
      return this.current.run(stores, () => work(stores));
    };
    const result = await (this.queue ? this.queue.take(inTransaction) : this.ds.transaction(inTransaction));
    if (ended.size > 0) await this.finishAfterCommit(ended);
    return result;
  }

  /**
   * PostgreSQL: finishes the jobs whose tasks a committed unit of work ended,
   * if they are done (job-counters.ts). The unit of work stands whatever
   * happens here: a look that fails is left to the counter fold, which
   * looks again (startCounterFolding).
   */
  private async finishAfterCommit(ended: ReadonlyMap<string, number>): Promise<void> {
    await finishJobsAfterCommit(this.ds, ended).catch(() => undefined);
  }

  /**
   * PostgreSQL: folds the job counter delta rows into their job rows every
   * `everyMs` (and finishes jobs found done), so that reading a job's
   * counters adds up a second or so of moves rather than the whole rollout.
   * Any number of processes may fold at once (job-counters.ts). SQLite: does
   * nothing. Returns a function that stops it (waiting for a fold under way).
   */
  startCounterFolding(everyMs: number, onError: (err: unknown) => void): () => Promise<void> {
    if (!this.deltas) return async () => undefined;
    let running: Promise<void> | undefined;
    const timer = setInterval(() => {
      if (running) return;
      running = (async () => {
        // A full batch: more jobs are waiting; go on at once.
        while ((await foldJobCounters(this.ds, Date.now())) >= FOLD_BATCH) {}
      })()
        .catch(onError)
        .finally(() => {
          running = undefined;
        });
    }, everyMs);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await running;
    };
  }

  /**
   * Stores whose calls join the unit of work they are called from, or else
   * take a turn on the queue (inside its transaction, like a unit of work).
   */
  private routed(): Stores {
    const wrap = <K extends keyof Stores>(key: K): Stores[K] => {
      const methods = new Map<PropertyKey, (...args: unknown[]) => unknown>();
      return new Proxy(storesOver(this.ds.manager, this.sealer)[key], {
        get: (target, prop, receiver) => {
          const value = Reflect.get(target, prop, receiver);
          if (typeof value !== 'function') return value;
          let method = methods.get(prop);
          if (!method) {
            method = (...args: unknown[]) => {
              const stores = this.current.getStore();
              if (stores) return (stores[key] as unknown as Record<PropertyKey, (...a: unknown[]) => unknown>)[prop]!(...args);
              const ended = new Map<string, number>();
              const endings: TaskEndings = this.deltas ? { ended: (jobId, at) => void ended.set(jobId, at) } : NO_ENDINGS;
              const call = this.queue!.take(
                (em) =>
                  (storesOver(em, this.sealer, endings)[key] as unknown as Record<PropertyKey, (...a: unknown[]) => Promise<unknown>>)[
                    prop
                  ]!(...args),
                true,
                READ_ONLY_CALLS[key]?.has(prop as string) === true,
                MULTI_STATEMENT_WRITES[key]?.has(prop as string) === true,
              );
              return ended.size === 0 && !this.deltas ? call : call.then(async (v) => {
                if (ended.size > 0) await this.finishAfterCommit(ended);
                return v;
              });
            };
            methods.set(prop, method);
          }
          return method;
        },
      });
    };
    return {
      capabilities: wrap('capabilities'),
      devices: wrap('devices'),
      audit: wrap('audit'),
      users: wrap('users'),
      alerts: wrap('alerts'),
      tasks: wrap('tasks'),
      jobs: wrap('jobs'),
      inventory: wrap('inventory'),
      contents: wrap('contents'),
      expansions: wrap('expansions'),
      webhooks: wrap('webhooks'),
    };
  }
}
