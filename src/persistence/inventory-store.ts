/**
 * A device's software inventory as last read (SCOMO Inventory/Deployed): the
 * whole list is replaced by each reading, and the reading's time kept on the
 * device, so an empty inventory still says when it was read.
 */
import type { EntityManager } from 'typeorm';
import type { ComponentState, DeviceComponent } from '../domain/registry.js';
import type { DeviceInventoryStore } from '../services/ports.js';
import { DeviceComponentEntity, DeviceInstanceEntity } from './entities.js';
import { epoch } from './raw-sql.js';

export class TypeormInventoryStore implements DeviceInventoryStore {
  constructor(private readonly em: EntityManager) {}

  async record(deviceId: string, components: readonly DeviceComponent[], at: number): Promise<boolean> {
    const res = await this.em.getRepository(DeviceInstanceEntity).update({ deviceId }, { inventoryAt: at });
    if ((res.affected ?? 0) === 0) return false;
    const repo = this.em.getRepository(DeviceComponentEntity);
    await repo.delete({ deviceId });
    // One row per component id: a list naming one twice keeps its last entry.
    const byId = new Map(components.map((c) => [c.componentId.slice(0, 255), c]));
    // What a device reports is clipped to the columns (PostgreSQL would refuse the whole reading).
    const rows = [...byId.values()].map((c) => ({
      deviceId,
      componentId: c.componentId.slice(0, 255),
      name: c.name.slice(0, 255),
      version: c.version.slice(0, 128),
      state: c.state,
    }));
    for (let i = 0; i < rows.length; i += 200) await repo.insert(rows.slice(i, i + 200));
    return true;
  }

  async get(deviceId: string): Promise<{ components: DeviceComponent[]; at?: Date }> {
    const device = await this.em.getRepository(DeviceInstanceEntity).findOne({ select: { deviceId: true, inventoryAt: true }, where: { deviceId } });
    const rows = await this.em.getRepository(DeviceComponentEntity).find({ where: { deviceId }, order: { componentId: 'ASC' } });
    const at = epoch(device?.inventoryAt ?? null);
    return {
      components: rows.map((r) => ({ componentId: r.componentId, name: r.name, version: r.version, state: r.state as ComponentState })),
      ...(at !== null ? { at: new Date(at) } : {}),
    };
  }
}
