/** Device alerts as reported (every Generic Alert, handled or not). */
import type { EntityManager } from 'typeorm';
import type { DeviceAlert } from '../dm/server/ports.js';
import type { Transactor } from '../services/ports.js';
import { DeviceAlertEntity, type DeviceAlertRow } from './entities.js';
import { execute, sql, unnestArrays } from './raw-sql.js';
import { type Rider, type RiderBatch, rideAlong } from './ride-along.js';

const INSERT_ALERT_HEAD =
  'INSERT INTO "device_alert" ("device_id", "at", "alert_type", "source", "mark", "format", "data", "correlator", "handled") ';
const INSERT_ALERT_TEXT = `${INSERT_ALERT_HEAD}VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;
/** One per Generic Alert: plain SQL (TypeORM's insert also re-selected the generated id, ~0.1 ms an alert). */
const INSERT_ALERT = sql(INSERT_ALERT_TEXT);
/** PostgreSQL: the record riding on a task move (ride-along.ts). */
const ALERT_CTE_PG = `"alert" AS (${INSERT_ALERT_TEXT})`;
/** PostgreSQL: ALERT_CTE_PG over the alerts of a batch of moves (move-batches.ts), one array per value of alertValues, in its order. */
const ALERT_ARRAY_TYPES = ['varchar', 'bigint', 'varchar', 'varchar', 'varchar', 'varchar', 'text', 'varchar', 'boolean'];
export const ALERT_BATCH_PG: RiderBatch = {
  arity: ALERT_ARRAY_TYPES.length,
  cte: `"alert" AS (${INSERT_ALERT_HEAD}SELECT * FROM ${unnestArrays(ALERT_ARRAY_TYPES)})`,
};
/**
 * A record that rode on a move as handled, of an alert its consumers then did not handle: the latest of
 * its device's at that time and type (a device's alerts of one millisecond and type are one report).
 */
const UNHANDLE_ALERT = sql(
  'UPDATE "device_alert" SET "handled" = ? WHERE "id" = (SELECT MAX("id") FROM "device_alert" ' +
    'WHERE "device_id" = ? AND "at" = ? AND "alert_type" = ? AND "handled" = ?)',
);

function alertValues(alert: DeviceAlert, handled: boolean): unknown[] {
  return [
    alert.deviceId,
    alert.at,
    alert.alertType.slice(0, 256),
    alert.source?.slice(0, 1024) ?? null,
    alert.mark?.slice(0, 32) ?? null,
    alert.format?.slice(0, 16) ?? null,
    alert.data ?? null,
    alert.correlator?.slice(0, 128) ?? null,
    handled ? 1 : 0,
  ];
}

export interface StoredDeviceAlert extends DeviceAlert {
  handled: boolean;
}

export class TypeormDeviceAlertStore {
  constructor(private readonly em: EntityManager) {}

  async record(alert: DeviceAlert, handled: boolean): Promise<void> {
    await execute(this.em, INSERT_ALERT, alertValues(alert, handled));
  }

  /** Marks not handled the record of `alert` that rode on a move as handled (see AlertLog). */
  async unhandle(alert: DeviceAlert): Promise<void> {
    await execute(this.em, UNHANDLE_ALERT, [0, alert.deviceId, alert.at, alert.alertType.slice(0, 256), 1]);
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

/**
 * Where the DM event router records each Generic Alert, once its consumers have handled it or not. On
 * PostgreSQL the record rides on the task move a consumer makes (the report of a SingleShotExec moves
 * its task): written as handled in the move's statement; in the rare case the consumer then says it did
 * not handle it, the record is corrected. A consumer that fails after its move leaves the record
 * written (the device, answered with an error, sends the alert again: a second record, as it reported
 * twice). SQLite records after the consumers, as one statement in process.
 */
export class AlertLog {
  constructor(
    private readonly tx: Transactor,
    /** PostgreSQL: records may ride on task moves. */
    private readonly rides: boolean,
  ) {}

  async recordAround(alert: DeviceAlert, consume: () => Promise<boolean>): Promise<boolean> {
    const rider: Rider | undefined = this.rides ? { kind: 'alert', cte: ALERT_CTE_PG, values: alertValues(alert, true) } : undefined;
    const { result: handled, carried } = await rideAlong(rider, consume);
    if (!carried) await this.tx.stores.alerts.record(alert, handled);
    else if (!handled) await this.tx.stores.alerts.unhandle(alert);
    return handled;
  }
}
