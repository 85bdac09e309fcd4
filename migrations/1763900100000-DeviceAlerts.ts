/**
 * Generic Alerts (1226) and client events as devices reported them: every one
 * is recorded, handled or not (unknown types are recorded and ignored).
 */
import { type MigrationInterface, type QueryRunner, Table } from 'typeorm';

export class DeviceAlerts1763900100000 implements MigrationInterface {
  name = 'DeviceAlerts1763900100000';

  async up(q: QueryRunner): Promise<void> {
    const postgres = q.connection.options.type === 'postgres';
    await q.createTable(
      new Table({
        name: 'device_alert',
        columns: [
          {
            name: 'id',
            type: postgres ? 'bigint' : 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          { name: 'device_id', type: 'varchar', length: '128' },
          { name: 'at', type: 'bigint' },
          { name: 'alert_type', type: 'varchar', length: '256' },
          { name: 'source', type: 'varchar', length: '1024', isNullable: true },
          { name: 'mark', type: 'varchar', length: '32', isNullable: true },
          { name: 'format', type: 'varchar', length: '16', isNullable: true },
          { name: 'data', type: 'text', isNullable: true },
          { name: 'correlator', type: 'varchar', length: '128', isNullable: true },
          { name: 'handled', type: 'boolean', default: 'false' },
        ],
        indices: [
          { name: 'ix_alert_device', columnNames: ['device_id', 'at'] },
          { name: 'ix_alert_correlator', columnNames: ['correlator'] },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('device_alert', true);
  }
}
