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
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DataSource, EntityManager } from 'typeorm';
import type { Sealer, Stores, Transactor } from '../services/ports.js';
import { TypeormDeviceAlertStore } from './alert-store.js';
import { TypeormAuditTrail } from './audit-store.js';
import { TypeormCapabilityStore, TypeormDeviceStore } from './registry-stores.js';
import { TypeormTaskStore } from './task-store.js';
import { TypeormUserStore } from './user-store.js';

function storesOver(em: EntityManager, sealer: Sealer): Stores {
  return {
    capabilities: new TypeormCapabilityStore(em),
    devices: new TypeormDeviceStore(em, sealer),
    audit: new TypeormAuditTrail(em),
    users: new TypeormUserStore(em),
    alerts: new TypeormDeviceAlertStore(em),
    tasks: new TypeormTaskStore(em),
  };
}

/** One-at-a-time execution of async work, in arrival order. */
export class TurnQueue {
  private tail: Promise<unknown> = Promise.resolve();

  take<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export interface TransactorOptions {
  /** Take turns even when the database has a pool (tests compare both ways). */
  serialise?: boolean;
}

export class TypeormTransactor implements Transactor {
  readonly stores: Stores;
  private readonly current = new AsyncLocalStorage<Stores>();
  private readonly queue: TurnQueue | undefined;

  constructor(
    private readonly ds: DataSource,
    private readonly sealer: Sealer,
    opts: TransactorOptions = {},
  ) {
    const direct = storesOver(ds.manager, sealer);
    const serialise = opts.serialise ?? ds.options.type === 'better-sqlite3';
    this.queue = serialise ? new TurnQueue() : undefined;
    this.stores = this.queue ? this.routed(direct) : direct;
  }

  run<T>(work: (stores: Stores) => Promise<T>): Promise<T> {
    const inside = this.current.getStore();
    if (inside) return work(inside);
    const unit = () =>
      this.ds.transaction((em) => {
        const stores = storesOver(em, this.sealer);
        return this.current.run(stores, () => work(stores));
      });
    return this.queue ? this.queue.take(unit) : unit();
  }

  /** Stores whose calls take a turn on the queue, or join the unit of work they are called from. */
  private routed(direct: Stores): Stores {
    const wrap = <K extends keyof Stores>(key: K): Stores[K] =>
      new Proxy(direct[key], {
        get: (target, prop, receiver) => {
          const value = Reflect.get(target, prop, receiver);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            const inside = this.current.getStore();
            if (inside) return (inside[key] as unknown as Record<PropertyKey, (...a: unknown[]) => unknown>)[prop]!(...args);
            return this.queue!.take(() => value.apply(target, args) as Promise<unknown>);
          };
        },
      });
    return {
      capabilities: wrap('capabilities'),
      devices: wrap('devices'),
      audit: wrap('audit'),
      users: wrap('users'),
      alerts: wrap('alerts'),
      tasks: wrap('tasks'),
    };
  }
}
