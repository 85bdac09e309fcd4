/**
 * How a model's FUMO client takes firmware (issue 14): DownloadAndUpdate
 * (NULL, the default), Download then Update, or inline in Update/PkgData.
 */
import { type MigrationInterface, type QueryRunner, TableColumn } from 'typeorm';

export class FumoDelivery1763900700000 implements MigrationInterface {
  name = 'FumoDelivery1763900700000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('device_capability', new TableColumn({ name: 'fumo_delivery', type: 'varchar', length: '32', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('device_capability', 'fumo_delivery');
  }
}
