/**
 * TypeORM adapters for the device registry: capabilities and device instances.
 * Device secrets are sealed on the way in and opened on the way out.
 */
import type { EntityManager } from 'typeorm';
import { alreadyExists } from '../domain/errors.js';
import { TERMINAL_TASK_STATES as TERMINAL_STATES } from '../domain/tasks.js';
import type {
  FumoDelivery,
  DeviceAuthType,
  DeviceCapability,
  DeviceContactPatch,
  DeviceReportedInfo,
  DeviceState,
  DmVersion,
  Page,
} from '../domain/registry.js';
import type { CapabilityStore, DeviceMoRoots, DeviceRecord, DeviceStore, DeviceTarget, DeviceView, Sealer } from '../services/ports.js';
import { uniqueViolation } from './db-errors.js';
import {
  DeviceCapabilityEntity,
  type DeviceCapabilityRow,
  DeviceComponentEntity,
  DeviceInstanceEntity,
  type DeviceInstanceRow,
  TaskEntity,
} from './entities.js';
import { epoch, execute, queryRows, type Statement, sql, unnestArrays } from './raw-sql.js';
import type { Rider, RiderBatch } from './ride-along.js';

const TERMINAL_TASK_STATES = [...TERMINAL_STATES];

// Hot-path statements as plain SQL (see raw-sql.ts for why): the capability
// lookup and device insert of createDeviceInstance, the device select of
// getDeviceInstanceBy*.
const SELECT_CAPABILITY = sql(
  'SELECT "oid", "make", "model", "firmware_version" AS "firmwareVersion", "dm_version" AS "dmVersion", ' +
    '"sse_root" AS "sseRoot", "fumo_root" AS "fumoRoot", "scomo_root" AS "scomoRoot", "fumo_delivery" AS "fumoDelivery", "max_msg_size" AS "maxMsgSize", "wbxml" FROM "device_capability" WHERE "oid" = ?',
);
/** A capability's columns and their DeviceCapabilityRow names, for reads that join it (as "c"). */
export const CAPABILITY_COLUMNS: readonly [string, string][] = [
  ['oid', 'oid'],
  ['make', 'make'],
  ['model', 'model'],
  ['firmware_version', 'firmwareVersion'],
  ['dm_version', 'dmVersion'],
  ['sse_root', 'sseRoot'],
  ['fumo_root', 'fumoRoot'],
  ['scomo_root', 'scomoRoot'],
  ['fumo_delivery', 'fumoDelivery'],
  ['max_msg_size', 'maxMsgSize'],
  ['wbxml', 'wbxml'],
];
const CAPABILITY_OF_DEVICE_COLUMNS = `SELECT ${CAPABILITY_COLUMNS.map(([col, prop]) => `"c"."${col}" AS "${prop}"`).join(', ')}`;
const CAPABILITY_OF_DEVICE_FROM = ' FROM "device_instance" "d" JOIN "device_capability" "c" ON "c"."oid" = "d"."capability_oid" WHERE "d"."device_id" = ?';
const SELECT_CAPABILITY_OF_DEVICE = sql(CAPABILITY_OF_DEVICE_COLUMNS + CAPABILITY_OF_DEVICE_FROM);
/** SELECT_CAPABILITY_OF_DEVICE and the device's dev_info, for the MO roots found on it. */
const SELECT_CAPABILITY_AND_DEV_INFO = sql(`${CAPABILITY_OF_DEVICE_COLUMNS}, "d"."dev_info" AS "devInfo"${CAPABILITY_OF_DEVICE_FROM}`);
const DEVICE_VIEW_COLUMNS =
  '"device_id" AS "deviceId", "phone_number" AS "phoneNumber", "capability_oid" AS "capabilityOid", ' +
  '"notification_url" AS "notificationUrl", "sms_address" AS "smsAddress", "auth_type" AS "authType", "state", ' +
  '"last_contact" AS "lastContact", "attributes", "client_username" AS "clientUsername", ' +
  '"client_nonce" AS "clientNonce", "server_nonce" AS "serverNonce", "dev_info" AS "devInfo", ' +
  '"created_at" AS "createdAt", "updated_at" AS "updatedAt"';
const SELECT_DEVICE = sql(`SELECT ${DEVICE_VIEW_COLUMNS}, "secrets" FROM "device_instance" WHERE "device_id" = ?`);
const SELECT_DEVICE_BY_PHONE = sql(
  `SELECT ${DEVICE_VIEW_COLUMNS}, "secrets" FROM "device_instance" WHERE "phone_number" = ?`,
);
// Omitted fields (null) keep their values.
/**
 * A contact's update; `dev_info` gets the patch's keys over the stored ones (DeviceContactPatch.devInfo).
 * PostgreSQL merges in the statement (jsonb `||` is that top-level merge): no read first, so no round
 * trip, and nothing written meanwhile is lost. SQLite reads and merges in the same store call (one
 * turn of the serialiser, in process).
 */
const recordContactUpdate = (devInfo: string) =>
  `UPDATE "device_instance" SET "last_contact" = COALESCE(?, "last_contact"), "updated_at" = ?, "state" = COALESCE(?, "state"),
   "dev_info" = ${devInfo}, "client_nonce" = COALESCE(?, "client_nonce"),
   "server_nonce" = COALESCE(?, "server_nonce") WHERE "device_id" = ? RETURNING "device_id"`;
const recordContactSql = (devInfo: string) => sql(recordContactUpdate(devInfo));
const RECORD_CONTACT_SQLITE = recordContactSql('COALESCE(?, "dev_info")');
/** A key the patch names as undefined goes (as in `{ ...stored, ...patch }`): sent as null, stripped after the merge. */
const undefinedAsNull = (_key: string, v: unknown) => (v === undefined ? null : v);
const PG_DEV_INFO_MERGE = `COALESCE(jsonb_strip_nulls(COALESCE(CAST("dev_info" AS jsonb), '{}'::jsonb) || CAST(? AS jsonb))::text, "dev_info")`;
const RECORD_CONTACT_PG = recordContactSql(PG_DEV_INFO_MERGE);
const CONTACT_CTE_PG = `"contact" AS (${recordContactUpdate(PG_DEV_INFO_MERGE)})`;
/**
 * PostgreSQL: CONTACT_CTE_PG over the contacts of a batch of moves (move-batches.ts), one array per value
 * of contactValuesPg, in its order; the last is the device id.
 */
const CONTACT_ARRAY_TYPES = ['bigint', 'bigint', 'varchar', 'text', 'varchar', 'varchar', 'varchar'];
export const CONTACT_BATCH_PG: RiderBatch = {
  arity: CONTACT_ARRAY_TYPES.length,
  cte:
    '"contact" AS (UPDATE "device_instance" SET "last_contact" = COALESCE("c"."lastContact", "device_instance"."last_contact"), ' +
    '"updated_at" = "c"."updatedAt", "state" = COALESCE("c"."state", "device_instance"."state"), ' +
    `"dev_info" = ${PG_DEV_INFO_MERGE.replace(/"dev_info"/g, '"device_instance"."dev_info"').replace('?', '"c"."devInfo"')}, ` +
    '"client_nonce" = COALESCE("c"."clientNonce", "device_instance"."client_nonce"), ' +
    '"server_nonce" = COALESCE("c"."serverNonce", "device_instance"."server_nonce") ' +
    `FROM ${unnestArrays(CONTACT_ARRAY_TYPES)} AS "c"("lastContact", "updatedAt", "state", "devInfo", "clientNonce", "serverNonce", "deviceId") ` +
    'WHERE "device_instance"."device_id" = "c"."deviceId" RETURNING "device_instance"."device_id")',
};
/** PostgreSQL: a contact's update riding on a task move (ride-along.ts). */
export function contactRider(deviceId: string, patch: DeviceContactPatch): Rider {
  return { kind: 'contact', cte: CONTACT_CTE_PG, values: contactValuesPg(deviceId, patch) };
}
/** The values of RECORD_CONTACT_PG and CONTACT_CTE_PG, in order. */
function contactValuesPg(deviceId: string, patch: DeviceContactPatch): unknown[] {
  return contactValues(deviceId, patch, patch.devInfo ? JSON.stringify(patch.devInfo, undefinedAsNull) : null);
}
/** The values of a contact's update in either dialect: `devInfo` as that dialect's statement takes it. */
function contactValues(deviceId: string, patch: DeviceContactPatch, devInfo: string | null): unknown[] {
  return [
    patch.lastContact?.getTime() ?? null,
    Date.now(),
    patch.state || null,
    devInfo,
    patch.clientNonce || null,
    patch.serverNonce || null,
    deviceId,
  ];
}
const SELECT_DEV_INFO = sql('SELECT "dev_info" AS "devInfo" FROM "device_instance" WHERE "device_id" = ?');
const TARGET_COLUMNS = '"device_id" AS "deviceId", "phone_number" AS "phoneNumber", "capability_oid" AS "capabilityOid"';
const targetStatements = new Map<string, Statement>();
const MIN_IN_LIST = 8;

/** The IN-list length a lookup of n values is prepared for: the next power of two, at least MIN_IN_LIST. */
export function inListSize(n: number): number {
  let size = MIN_IN_LIST;
  while (size < n) size *= 2;
  return size;
}
const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');
const SELECT_DEVICE_VIEW = sql(`SELECT ${DEVICE_VIEW_COLUMNS} FROM "device_instance" WHERE "device_id" = ?`);
const SELECT_DEVICE_VIEW_BY_PHONE = sql(`SELECT ${DEVICE_VIEW_COLUMNS} FROM "device_instance" WHERE "phone_number" = ?`);
const INSERT_DEVICE = sql(
  'INSERT INTO "device_instance" ("device_id", "phone_number", "capability_oid", "notification_url", "sms_address", ' +
    '"auth_type", "state", "last_contact", "attributes", "client_username", "secrets", "client_nonce", "server_nonce", ' +
    '"dev_info", "created_at", "updated_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
);

type DeviceViewRow = Omit<DeviceInstanceRow, 'secrets'>;

/**
 * The import's upsert, as multi-row prepared statements of up to UPSERT_ROWS
 * rows (16 parameters each: well under both databases' limits). Through
 * TypeORM's InsertQueryBuilder the 16,000-parameter statement of a batch of
 * 1,000 was built and escaped anew each time.
 */
const UPSERT_ROWS = 250;
const DEVICE_COLUMNS = [
  'device_id',
  'phone_number',
  'capability_oid',
  'notification_url',
  'sms_address',
  'auth_type',
  'state',
  'last_contact',
  'attributes',
  'client_username',
  'secrets',
  'client_nonce',
  'server_nonce',
  'dev_info',
  'created_at',
  'updated_at',
] as const;
/** What an import changes on a known device (its state, nonces, contact and creation time stay). */
const UPSERT_UPDATES = [
  'phone_number',
  'capability_oid',
  'notification_url',
  'sms_address',
  'auth_type',
  'attributes',
  'client_username',
  'secrets',
  'updated_at',
] as const;
const upsertStatements = new Map<number, Statement>();

/**
 * PostgreSQL takes a batch as one array per column (`unnest`): one statement
 * of 16 parameters instead of VALUES lists of 4,000, which PostgreSQL parsed
 * and planned per statement (~70 ms for 250 rows on this box, most of an
 * import's time).
 */
const PG_COLUMN_TYPES: Record<(typeof DEVICE_COLUMNS)[number], string> = {
  device_id: 'varchar',
  phone_number: 'varchar',
  capability_oid: 'varchar',
  notification_url: 'varchar',
  sms_address: 'varchar',
  auth_type: 'varchar',
  state: 'varchar',
  last_contact: 'bigint',
  attributes: 'text',
  client_username: 'varchar',
  secrets: 'text',
  client_nonce: 'varchar',
  server_nonce: 'varchar',
  dev_info: 'text',
  created_at: 'bigint',
  updated_at: 'bigint',
};
const PG_UPSERT = sql(
  `INSERT INTO "device_instance" (${DEVICE_COLUMNS.map((c) => `"${c}"`).join(', ')}) ` +
    `SELECT * FROM unnest(${DEVICE_COLUMNS.map((c) => `CAST(? AS ${PG_COLUMN_TYPES[c]}[])`).join(', ')}) ` +
    `ON CONFLICT ("device_id") DO UPDATE SET ${UPSERT_UPDATES.map((c) => `"${c}" = excluded."${c}"`).join(', ')}`,
);

function upsertStatement(rows: number): Statement {
  let statement = upsertStatements.get(rows);
  if (!statement) {
    const tuple = `(${placeholders(DEVICE_COLUMNS.length)})`;
    statement = sql(
      `INSERT INTO "device_instance" (${DEVICE_COLUMNS.map((c) => `"${c}"`).join(', ')}) VALUES ` +
        Array.from({ length: rows }, () => tuple).join(', ') +
        ` ON CONFLICT ("device_id") DO UPDATE SET ${UPSERT_UPDATES.map((c) => `"${c}" = excluded."${c}"`).join(', ')}`,
    );
    upsertStatements.set(rows, statement);
  }
  return statement;
}

const SELECT_FULL_ROW = `SELECT ${DEVICE_VIEW_COLUMNS}, "secrets" FROM "device_instance"`;
const listStatements = new Map<string, Statement>();

/** `SELECT <head> WHERE <column> IN (...)` prepared once per size class (see inListSize), the list padded with its last value. */
export async function selectIn<T>(em: EntityManager, head: string, column: string, values: readonly string[]): Promise<T[]> {
  if (values.length === 0) return [];
  if (em.connection.options.type === 'postgres') {
    // One array parameter: PostgreSQL parses and plans a 1,024-parameter IN list per call.
    const key = `${head}|${column}|any`;
    let statement = listStatements.get(key);
    if (!statement) {
      statement = sql(`${head} WHERE ${column} = ANY(CAST(? AS varchar[]))`);
      listStatements.set(key, statement);
    }
    return queryRows<T>(em, statement, [values]);
  }
  const size = inListSize(values.length);
  const key = `${head}|${column}|${size}`;
  let statement = listStatements.get(key);
  if (!statement) {
    statement = sql(`${head} WHERE ${column} IN (${placeholders(size)})`);
    listStatements.set(key, statement);
  }
  const padded = values.length === size ? [...values] : values.concat(Array<string>(size - values.length).fill(values[values.length - 1]!));
  return queryRows<T>(em, statement, padded);
}

/** Raw rows carry bigint columns as strings on PostgreSQL. */
function withEpochs<R extends DeviceViewRow>(r: R): R {
  r.lastContact = epoch(r.lastContact);
  r.createdAt = epoch(r.createdAt);
  r.updatedAt = epoch(r.updatedAt);
  return r;
}

function toView(r: DeviceViewRow): DeviceView {
  return {
    deviceId: r.deviceId,
    phoneNumber: r.phoneNumber,
    capabilityOid: r.capabilityOid,
    ...(r.notificationUrl ? { notificationUrl: r.notificationUrl } : {}),
    ...(r.smsAddress ? { smsAddress: r.smsAddress } : {}),
    authType: r.authType as DeviceAuthType,
    state: r.state as DeviceState,
    ...(r.lastContact !== null ? { lastContact: new Date(r.lastContact) } : {}),
    attributes: JSON.parse(r.attributes) as Record<string, string>,
    clientUsername: r.clientUsername,
    ...(r.devInfo ? { devInfo: JSON.parse(r.devInfo) as DeviceRecord['devInfo'] } : {}),
    createdAt: new Date(r.createdAt),
    updatedAt: new Date(r.updatedAt),
  };
}

/** A device's capability row and its dev_info as stored: DeviceMoRoots. */
export function moRootsOf(capability: DeviceCapabilityRow, devInfo: string | null): DeviceMoRoots {
  const found = devInfo ? (JSON.parse(devInfo) as DeviceReportedInfo).moRoots : undefined;
  return { capability: toCapability(capability), ...(found ? { found } : {}) };
}

function toCapability(r: DeviceCapabilityRow): DeviceCapability {
  return {
    oid: r.oid,
    make: r.make,
    model: r.model,
    firmwareVersion: r.firmwareVersion,
    dmVersion: r.dmVersion as DmVersion,
    ...(r.sseRoot ? { sseRoot: r.sseRoot } : {}),
    ...(r.fumoRoot ? { fumoRoot: r.fumoRoot } : {}),
    ...(r.scomoRoot ? { scomoRoot: r.scomoRoot } : {}),
    ...(r.fumoDelivery ? { fumoDelivery: r.fumoDelivery as FumoDelivery } : {}),
    ...(r.maxMsgSize !== null ? { maxMsgSize: r.maxMsgSize } : {}),
    wbxml: Boolean(r.wbxml),
  };
}

function capabilityRow(c: DeviceCapability, at: number): Omit<DeviceCapabilityRow, 'createdAt'> {
  return {
    oid: c.oid,
    make: c.make,
    model: c.model,
    firmwareVersion: c.firmwareVersion,
    dmVersion: c.dmVersion,
    sseRoot: c.sseRoot ?? null,
    fumoRoot: c.fumoRoot ?? null,
    scomoRoot: c.scomoRoot ?? null,
    fumoDelivery: c.fumoDelivery ?? null,
    maxMsgSize: c.maxMsgSize ?? null,
    wbxml: c.wbxml,
    updatedAt: at,
  };
}

function capabilityClash(err: unknown, oid: string, c: DeviceCapability): never {
  const v = uniqueViolation(err);
  if (v === undefined) throw err;
  if (/oid|pkey|PRIMARY/i.test(v) && !/make/.test(v)) throw alreadyExists('device capability', oid);
  throw alreadyExists('device capability for', `${c.make}/${c.model}/${c.firmwareVersion}`);
}

export class TypeormCapabilityStore implements CapabilityStore {
  constructor(private readonly em: EntityManager) {}

  private get repo() {
    return this.em.getRepository(DeviceCapabilityEntity);
  }

  async insert(cap: DeviceCapability, at: number): Promise<void> {
    try {
      await this.repo.insert({ ...capabilityRow(cap, at), createdAt: at });
    } catch (err) {
      capabilityClash(err, cap.oid, cap);
    }
  }

  async update(cap: DeviceCapability, at: number): Promise<boolean> {
    try {
      const res = await this.repo.update({ oid: cap.oid }, capabilityRow(cap, at));
      return (res.affected ?? 0) > 0;
    } catch (err) {
      capabilityClash(err, cap.oid, cap);
    }
  }

  async get(oid: string): Promise<DeviceCapability | undefined> {
    const [r] = await queryRows<DeviceCapabilityRow>(this.em, SELECT_CAPABILITY, [oid]);
    return r ? toCapability(r) : undefined;
  }

  async ofDevice(deviceId: string): Promise<DeviceCapability | undefined> {
    // One round trip instead of the device's view and then its capability (PostgreSQL: two).
    const [r] = await queryRows<DeviceCapabilityRow>(this.em, SELECT_CAPABILITY_OF_DEVICE, [deviceId]);
    return r ? toCapability(r) : undefined;
  }

  async rootsOfDevice(deviceId: string): Promise<DeviceMoRoots | undefined> {
    const [r] = await queryRows<DeviceCapabilityRow & { devInfo: string | null }>(this.em, SELECT_CAPABILITY_AND_DEV_INFO, [deviceId]);
    return r ? moRootsOf(r, r.devInfo) : undefined;
  }

  async list(page: Page): Promise<DeviceCapability[]> {
    const rows = await this.repo.find({ order: { oid: 'ASC' }, skip: page.offset, take: page.limit });
    return rows.map(toCapability);
  }

  async all(): Promise<DeviceCapability[]> {
    return (await this.repo.find({ order: { oid: 'ASC' } })).map(toCapability);
  }

  async allOids(): Promise<Set<string>> {
    const rows = await this.repo.find({ select: { oid: true } });
    return new Set(rows.map((r) => r.oid));
  }
}

interface SealedSecrets {
  clientPassword: string;
  serverPassword: string;
}

export class TypeormDeviceStore implements DeviceStore {
  constructor(
    private readonly em: EntityManager,
    private readonly sealer: Sealer,
  ) {}

  private get repo() {
    return this.em.getRepository(DeviceInstanceEntity);
  }

  /** A device's row as statement parameters, in DEVICE_COLUMNS order. */
  private params(d: DeviceRecord): unknown[] {
    const r = this.toRow(d);
    return [
      r.deviceId,
      r.phoneNumber,
      r.capabilityOid,
      r.notificationUrl,
      r.smsAddress,
      r.authType,
      r.state,
      r.lastContact,
      r.attributes,
      r.clientUsername,
      r.secrets,
      r.clientNonce,
      r.serverNonce,
      r.devInfo,
      r.createdAt,
      r.updatedAt,
    ];
  }

  private toRow(d: DeviceRecord): DeviceInstanceRow {
    const secrets: SealedSecrets = {
      clientPassword: d.credentials.clientPassword,
      serverPassword: d.credentials.serverPassword,
    };
    return {
      deviceId: d.deviceId,
      phoneNumber: d.phoneNumber,
      capabilityOid: d.capabilityOid,
      notificationUrl: d.notificationUrl ?? null,
      smsAddress: d.smsAddress ?? null,
      authType: d.authType,
      state: d.state,
      lastContact: d.lastContact ? d.lastContact.getTime() : null,
      attributes: JSON.stringify(d.attributes),
      clientUsername: d.credentials.clientUsername,
      secrets: this.sealer.seal(JSON.stringify(secrets)),
      clientNonce: d.credentials.clientNonce,
      serverNonce: d.credentials.serverNonce,
      devInfo: d.devInfo ? JSON.stringify(d.devInfo) : null,
      createdAt: d.createdAt.getTime(),
      updatedAt: d.updatedAt.getTime(),
    };
  }

  private toRecord(r: DeviceInstanceRow): DeviceRecord {
    const secrets = JSON.parse(this.sealer.open(r.secrets)) as SealedSecrets;
    const { clientUsername, ...view } = toView(r);
    return {
      ...view,
      credentials: {
        clientUsername,
        clientPassword: secrets.clientPassword,
        serverPassword: secrets.serverPassword,
        clientNonce: r.clientNonce,
        serverNonce: r.serverNonce,
      },
    };
  }

  private clash(err: unknown, d: DeviceRecord): never {
    const v = uniqueViolation(err);
    if (v === undefined) throw err;
    if (/phone/i.test(v)) throw alreadyExists('a device with phone number', d.phoneNumber);
    throw alreadyExists('device', d.deviceId);
  }

  async insert(device: DeviceRecord): Promise<void> {
    try {
      await execute(this.em, INSERT_DEVICE, this.params(device));
    } catch (err) {
      this.clash(err, device);
    }
  }

  async update(device: DeviceRecord): Promise<boolean> {
    const { deviceId, createdAt: _created, ...rest } = this.toRow(device);
    try {
      const res = await this.repo.update({ deviceId }, rest);
      return (res.affected ?? 0) > 0;
    } catch (err) {
      this.clash(err, device);
    }
  }

  async delete(deviceId: string): Promise<boolean> {
    const res = await this.repo.delete({ deviceId });
    // Its inventory goes with it: a device registered again under the id starts unread.
    await this.em.getRepository(DeviceComponentEntity).delete({ deviceId });
    return (res.affected ?? 0) > 0;
  }

  async get(deviceId: string): Promise<DeviceRecord | undefined> {
    const [r] = await queryRows<DeviceInstanceRow>(this.em, SELECT_DEVICE, [deviceId]);
    return r ? this.toRecord(withEpochs(r)) : undefined;
  }

  async getByPhone(phoneNumber: string): Promise<DeviceRecord | undefined> {
    const [r] = await queryRows<DeviceInstanceRow>(this.em, SELECT_DEVICE_BY_PHONE, [phoneNumber]);
    return r ? this.toRecord(withEpochs(r)) : undefined;
  }

  // Reads for the API, which never returns secrets: the sealed column is not
  // even selected, so no AES-GCM open per call.
  async getView(deviceId: string): Promise<DeviceView | undefined> {
    const [r] = await queryRows<DeviceViewRow>(this.em, SELECT_DEVICE_VIEW, [deviceId]);
    return r ? toView(withEpochs(r)) : undefined;
  }

  async getViewByPhone(phoneNumber: string): Promise<DeviceView | undefined> {
    const [r] = await queryRows<DeviceViewRow>(this.em, SELECT_DEVICE_VIEW_BY_PHONE, [phoneNumber]);
    return r ? toView(withEpochs(r)) : undefined;
  }

  async list(page: Page): Promise<DeviceRecord[]> {
    const rows = await this.repo.find({ order: { deviceId: 'ASC' }, skip: page.offset, take: page.limit });
    return rows.map((r) => this.toRecord(r));
  }

  async getMany(deviceIds: string[]): Promise<Map<string, DeviceRecord>> {
    const rows = await selectIn<DeviceInstanceRow>(this.em, SELECT_FULL_ROW, '"device_id"', deviceIds);
    return new Map(rows.map((r) => [r.deviceId, this.toRecord(withEpochs(r))]));
  }

  async targetsById(deviceIds: string[]): Promise<Map<string, DeviceTarget>> {
    const rows = await this.targetsWhere('"device_id"', deviceIds);
    return new Map(rows.map((r) => [r.deviceId, r]));
  }

  async targetsByPhone(phoneNumbers: string[]): Promise<Map<string, DeviceTarget>> {
    const rows = await this.targetsWhere('"phone_number"', phoneNumbers);
    return new Map(rows.map((r) => [r.phoneNumber, r]));
  }

  async targetsByCapabilities(oids: string[], afterDeviceId: string, limit: number): Promise<DeviceTarget[]> {
    if (oids.length === 0) return [];
    const statement = sql(
      `SELECT ${TARGET_COLUMNS} FROM "device_instance" WHERE "capability_oid" IN (${placeholders(oids.length)}) ` +
        'AND "device_id" > ? ORDER BY "device_id" LIMIT ?',
    );
    return queryRows<DeviceTarget>(this.em, statement, [...oids, afterDeviceId, limit]);
  }

  /**
   * One statement per size class, prepared once: lists are padded with
   * their last value (a repeat in IN changes nothing) up to the next power of
   * two, so a caller's arbitrary batch lengths cost at most ~8 prepared
   * statements per column, not one per length kept for the process's life.
   */
  private async targetsWhere(column: '"device_id"' | '"phone_number"', values: string[]): Promise<DeviceTarget[]> {
    if (values.length === 0) return [];
    const size = inListSize(values.length);
    const key = `${column}:${size}`;
    let statement = targetStatements.get(key);
    if (!statement) {
      statement = sql(`SELECT ${TARGET_COLUMNS} FROM "device_instance" WHERE ${column} IN (${placeholders(size)})`);
      targetStatements.set(key, statement);
    }
    const padded = values.length === size ? [...values] : values.concat(Array<string>(size - values.length).fill(values[values.length - 1]!));
    return queryRows<DeviceTarget>(this.em, statement, padded);
  }

  async ownersOfPhones(phoneNumbers: string[]): Promise<Map<string, string>> {
    const rows = await selectIn<{ deviceId: string; phoneNumber: string }>(
      this.em,
      'SELECT "device_id" AS "deviceId", "phone_number" AS "phoneNumber" FROM "device_instance"',
      '"phone_number"',
      phoneNumbers,
    );
    return new Map(rows.map((r) => [r.phoneNumber, r.deviceId]));
  }

  async upsertMany(devices: DeviceRecord[]): Promise<void> {
    if (devices.length === 0) return;
    try {
      await this.upsertStatement(devices);
    } catch (err) {
      if (uniqueViolation(err) === undefined) throw err;
      throw alreadyExists('a device with one of these phone numbers', `${devices[0]?.deviceId} …`);
    }
  }

  private async upsertStatement(devices: DeviceRecord[]): Promise<void> {
    if (this.em.connection.options.type === 'postgres') {
      const columns: unknown[][] = DEVICE_COLUMNS.map(() => []);
      for (const d of devices) {
        const values = this.params(d);
        for (let c = 0; c < values.length; c++) columns[c]!.push(values[c]);
      }
      await execute(this.em, PG_UPSERT, columns);
      return;
    }
    for (let first = 0; first < devices.length; first += UPSERT_ROWS) {
      const part = devices.slice(first, first + UPSERT_ROWS);
      const params: unknown[] = [];
      for (const d of part) {
        params.push(...this.params(d));
      }
      await execute(this.em, upsertStatement(part.length), params);
    }
  }

  async setState(deviceId: string, state: DeviceState, at: number): Promise<boolean> {
    const res = await this.repo.update({ deviceId }, { state, updatedAt: at });
    return (res.affected ?? 0) > 0;
  }

  /** On every DM session: one prepared statement (through TypeORM's builder it was the DM endpoint's largest cost). */
  async recordContact(deviceId: string, patch: DeviceContactPatch): Promise<boolean> {
    if (this.em.connection.options.type === 'postgres') {
      return (await queryRows(this.em, RECORD_CONTACT_PG, contactValuesPg(deviceId, patch))).length > 0;
    }
    let devInfo = patch.devInfo;
    if (devInfo) {
      const [stored] = await queryRows<{ devInfo: string | null }>(this.em, SELECT_DEV_INFO, [deviceId]);
      if (stored?.devInfo) devInfo = { ...(JSON.parse(stored.devInfo) as DeviceReportedInfo), ...devInfo };
    }
    const rows = await queryRows(this.em, RECORD_CONTACT_SQLITE, contactValues(deviceId, patch, devInfo ? JSON.stringify(devInfo) : null));
    return rows.length > 0;
  }

  async openTaskCount(deviceId: string): Promise<number> {
    return this.em
      .getRepository(TaskEntity)
      .createQueryBuilder('t')
      .where('t.device_id = :deviceId', { deviceId })
      .andWhere('t.status NOT IN (:...done)', { done: TERMINAL_TASK_STATES })
      .getCount();
  }
}
