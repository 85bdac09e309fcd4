/** Builds the stores over a data source, and runs units of work in one transaction. */
import type { DataSource, EntityManager } from 'typeorm';
import type { Sealer, Stores, Transactor } from '../services/ports.js';
import { TypeormAuditTrail } from './audit-store.js';
import { TypeormCapabilityStore, TypeormDeviceStore } from './registry-stores.js';
import { TypeormUserStore } from './user-store.js';

function storesOver(em: EntityManager, sealer: Sealer): Stores {
  return {
    capabilities: new TypeormCapabilityStore(em),
    devices: new TypeormDeviceStore(em, sealer),
    audit: new TypeormAuditTrail(em),
    users: new TypeormUserStore(em),
  };
}

export class TypeormTransactor implements Transactor {
  readonly stores: Stores;

  constructor(
    private readonly ds: DataSource,
    private readonly sealer: Sealer,
  ) {
    this.stores = storesOver(ds.manager, sealer);
  }

  run<T>(work: (stores: Stores) => Promise<T>): Promise<T> {
    return this.ds.transaction((em) => work(storesOver(em, this.sealer)));
  }
}
