/** Device alerts as reported (every Generic Alert, handled or not). */
import type { EntityManager } from 'typeorm';
import type { DeviceAlert } from '../dm/server/ports.js';
import { DeviceAlertEntity, type DeviceAlertRow } from './entities.js';
import { execute, sql } from './raw-sql.js';

/** One per Generic Alert: plain SQL (TypeORM's insert also re-selected the generated id, ~0.1 ms an alert). */
const INSERT_ALERT = sql(
  'INSERT INTO "device_alert" ("device_id", "at", "alert_type", "source", "mark", "format", "data", "correlator", "handled") ' +
    'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
);

export interface StoredDeviceAlert extends DeviceAlert {
  handled: boolean;
}

export class TypeormDeviceAlertStore {
  constructor(private readonly em: EntityManager) {}

  async record(alert: DeviceAlert, handled: boolean): Promise<void> {
    await execute(this.em, INSERT_ALERT, [
      alert.deviceId,
      alert.at,
      alert.alertType.slice(0, 256),
      alert.source?.slice(0, 1024) ?? null,
      alert.mark?.slice(0, 32) ?? null,
      alert.format?.slice(0, 16) ?? null,
      alert.data ?? null,
      alert.correlator?.slice(0, 128) ?? null,
      handled ? 1 : 0,
    ]);
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
