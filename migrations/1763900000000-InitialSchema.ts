/**
 * The initial schema: registry, jobs, tasks, task history, API users, audit.
 * Written with TypeORM's Table API so one migration serves SQLite and PostgreSQL.
 */
import { type MigrationInterface, type QueryRunner, Table, type TableColumnOptions, TableIndex } from 'typeorm';

const varchar = (name: string, length: number, nullable = false): TableColumnOptions => ({
  name,
  type: 'varchar',
  length: String(length),
  isNullable: nullable,
});
const text = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'text', isNullable: nullable });
const bigint = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'bigint', isNullable: nullable });
const int = (name: string, nullable = false, dflt?: number): TableColumnOptions => ({
  name,
  type: 'integer',
  isNullable: nullable,
  ...(dflt === undefined ? {} : { default: dflt }),
});
const bool = (name: string, dflt: boolean): TableColumnOptions => ({
  name,
  type: 'boolean',
  isNullable: false,
  default: dflt ? 'true' : 'false',
});
const stamps = (): TableColumnOptions[] => [bigint('created_at'), bigint('updated_at')];

export class InitialSchema1763900000000 implements MigrationInterface {
  name = 'InitialSchema1763900000000';

  async up(q: QueryRunner): Promise<void> {
    const postgres = q.connection.options.type === 'postgres';

    await q.createTable(
      new Table({
        name: 'device_capability',
        columns: [
          { ...varchar('oid', 128), isPrimary: true },
          varchar('make', 128),
          varchar('model', 128),
          varchar('firmware_version', 128),
          varchar('dm_version', 8),
          varchar('sse_root', 255, true),
          int('max_msg_size', true),
          bool('wbxml', false),
          ...stamps(),
        ],
        uniques: [{ name: 'uq_capability_line', columnNames: ['make', 'model', 'firmware_version'] }],
      }),
    );

    await q.createTable(
      new Table({
        name: 'device_instance',
        columns: [
          { ...varchar('device_id', 128), isPrimary: true },
          varchar('phone_number', 16),
          varchar('capability_oid', 128),
          varchar('notification_url', 512, true),
          varchar('sms_address', 16, true),
          varchar('auth_type', 8),
          varchar('state', 16),
          bigint('last_contact', true),
          text('attributes'),
          varchar('client_username', 64),
          text('secrets'),
          varchar('client_nonce', 64),
          varchar('server_nonce', 64),
          text('dev_info', true),
          ...stamps(),
        ],
        uniques: [{ name: 'uq_device_phone', columnNames: ['phone_number'] }],
        foreignKeys: [
          {
            name: 'fk_device_capability',
            columnNames: ['capability_oid'],
            referencedTableName: 'device_capability',
            referencedColumnNames: ['oid'],
          },
        ],
        indices: [{ name: 'ix_device_capability', columnNames: ['capability_oid'] }],
      }),
    );

    await q.createTable(
      new Table({
        name: 'job',
        columns: [
          { ...varchar('job_id', 64), isPrimary: true },
          varchar('status', 32),
          varchar('operation_name', 32),
          text('operation'),
          text('options'),
          varchar('created_by', 64),
          ...stamps(),
          ...[
            'total',
            'queued',
            'notifying',
            'in_session',
            'scheduled',
            'completed',
            'failed',
            'missed',
            'cancelled',
            'expired',
          ].map((c) => int(c, false, 0)),
        ],
        indices: [
          { name: 'ix_job_created', columnNames: ['created_at'] },
          { name: 'ix_job_status', columnNames: ['status', 'created_at'] },
        ],
      }),
    );

    await q.createTable(
      new Table({
        name: 'task',
        columns: [
          { ...varchar('task_id', 64), isPrimary: true },
          varchar('job_id', 64, true),
          varchar('device_id', 128),
          varchar('phone_number', 16, true),
          varchar('operation_name', 32),
          text('operation'),
          varchar('status', 16),
          int('result_code', true),
          int('dm_status', true),
          varchar('correlator', 64, true),
          text('results', true),
          bool('b_optin', false),
          int('accept_device_policy', false, 30),
          bool('test_cycle', false),
          bigint('deadline', true),
          int('history_seq', false, 0),
          varchar('created_by', 64),
          ...stamps(),
        ],
        indices: [
          { name: 'ix_task_job_status', columnNames: ['job_id', 'status'] },
          { name: 'ix_task_device_status', columnNames: ['device_id', 'status'] },
        ],
      }),
    );
    await q.createIndex(
      'task',
      new TableIndex({ name: 'uq_task_correlator', columnNames: ['correlator'], isUnique: true }),
    );

    await q.createTable(
      new Table({
        name: 'task_history',
        columns: [
          { ...varchar('task_id', 64), isPrimary: true },
          { ...int('seq'), isPrimary: true },
          bigint('at'),
          varchar('from_status', 16, true),
          varchar('to_status', 16),
          varchar('event', 64),
          int('code', true),
          text('detail', true),
        ],
      }),
    );

    await q.createTable(
      new Table({
        name: 'api_user',
        columns: [
          { ...varchar('username', 64), isPrimary: true },
          varchar('role', 16),
          text('password_hash'),
          text('password_sealed'),
          bool('disabled', false),
          int('failed_logins', false, 0),
          bigint('locked_until', true),
          ...stamps(),
        ],
      }),
    );

    await q.createTable(
      new Table({
        name: 'audit_log',
        columns: [
          {
            name: 'id',
            type: postgres ? 'bigint' : 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          bigint('at'),
          varchar('caller', 64),
          varchar('operation', 64),
          varchar('target', 256, true),
          varchar('outcome', 32),
          text('detail', true),
        ],
        indices: [
          { name: 'ix_audit_at', columnNames: ['at'] },
          { name: 'ix_audit_target', columnNames: ['target', 'at'] },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['audit_log', 'api_user', 'task_history', 'task', 'job', 'device_instance', 'device_capability']) {
      await q.dropTable(t, true);
    }
  }
}
