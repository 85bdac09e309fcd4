/** Device alerts as reported (every Generic Alert, handled or not). */
import type { EntityManager } from 'typeorm';
import type { DeviceAlert } from '../dm/server/ports.js';
import { DeviceAlertEntity, type DeviceAlertRow } from './entities.js';

export interface StoredDeviceAlert extends DeviceAlert {
  handled: boolean;
}

export class TypeormDeviceAlertStore {
  constructor(private readonly em: EntityManager) {}

  async record(alert: DeviceAlert, handled: boolean): Promise<void> {
    await this.em.getRepository(DeviceAlertEntity).insert({
      deviceId: alert.deviceId,
      at: alert.at,
      alertType: alert.alertType.slice(0, 256),
      source: alert.source?.slice(0, 1024) ?? null,
      mark: alert.mark?.slice(0, 32) ?? null,
      format: alert.format?.slice(0, 16) ?? null,
      data: alert.data ?? null,
      correlator: alert.correlator?.slice(0, 128) ?? null,
      handled,
    });
  }

  async forDevice(deviceId: string, limit = 100): Promise<StoredDeviceAlert[]> {
    const rows = await this.em
      .getRepository(DeviceAlertEntity)
      .find({ where: { deviceId }, order: { id: 'ASC' }, take: limit });
    return rows.map((r: DeviceAlertRow) => ({
      deviceId: r.deviceId,
      at: r.at,
      alertType: r.alertType,
      mark: r.mark ?? 'informational',
      handled: Boolean(r.handled),
      ...(r.source ? { source: r.source } : {}),
      ...(r.format ? { format: r.format } : {}),
      ...(r.data !== null ? { data: r.data } : {}),
      ...(r.correlator ? { correlator: r.correlator } : {}),
    }));
  }
}
