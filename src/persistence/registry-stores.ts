/**
 * TypeORM adapters for the device registry: capabilities and device instances.
 * Device secrets are sealed on the way in and opened on the way out.
 */
import { In, type EntityManager } from 'typeorm';
import { alreadyExists } from '../domain/errors.js';
import type { DeviceCapability, DeviceState, DeviceAuthType, DmVersion, Page } from '../domain/registry.js';
import type { CapabilityStore, DeviceRecord, DeviceStore, Sealer } from '../services/ports.js';
import { uniqueViolation } from './db-errors.js';
import {
  DeviceCapabilityEntity,
  type DeviceCapabilityRow,
  DeviceInstanceEntity,
  type DeviceInstanceRow,
  TaskEntity,
} from './entities.js';

const TERMINAL_TASK_STATES = ['COMPLETED', 'FAILED', 'MISSED', 'CANCELLED', 'EXPIRED'];

function toCapability(r: DeviceCapabilityRow): DeviceCapability {
  return {
    oid: r.oid,
    make: r.make,
    model: r.model,
    firmwareVersion: r.firmwareVersion,
    dmVersion: r.dmVersion as DmVersion,
    ...(r.sseRoot ? { sseRoot: r.sseRoot } : {}),
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
    const r = await this.repo.findOneBy({ oid });
    return r ? toCapability(r) : undefined;
  }

  async list(page: Page): Promise<DeviceCapability[]> {
    const rows = await this.repo.find({ order: { oid: 'ASC' }, skip: page.offset, take: page.limit });
    return rows.map(toCapability);
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
      credentials: {
        clientUsername: r.clientUsername,
        clientPassword: secrets.clientPassword,
        serverPassword: secrets.serverPassword,
        clientNonce: r.clientNonce,
        serverNonce: r.serverNonce,
      },
      ...(r.devInfo ? { devInfo: JSON.parse(r.devInfo) as DeviceRecord['devInfo'] } : {}),
      createdAt: new Date(r.createdAt),
      updatedAt: new Date(r.updatedAt),
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
      await this.repo.insert(this.toRow(device));
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
    return (res.affected ?? 0) > 0;
  }

  async get(deviceId: string): Promise<DeviceRecord | undefined> {
    const r = await this.repo.findOneBy({ deviceId });
    return r ? this.toRecord(r) : undefined;
  }

  async getByPhone(phoneNumber: string): Promise<DeviceRecord | undefined> {
    const r = await this.repo.findOneBy({ phoneNumber });
    return r ? this.toRecord(r) : undefined;
  }

  async list(page: Page): Promise<DeviceRecord[]> {
    const rows = await this.repo.find({ order: { deviceId: 'ASC' }, skip: page.offset, take: page.limit });
    return rows.map((r) => this.toRecord(r));
  }

  async getMany(deviceIds: string[]): Promise<Map<string, DeviceRecord>> {
    if (deviceIds.length === 0) return new Map();
    const rows = await this.repo.findBy({ deviceId: In(deviceIds) });
    return new Map(rows.map((r) => [r.deviceId, this.toRecord(r)]));
  }

  async ownersOfPhones(phoneNumbers: string[]): Promise<Map<string, string>> {
    if (phoneNumbers.length === 0) return new Map();
    const rows = await this.repo.find({
      select: { deviceId: true, phoneNumber: true },
      where: { phoneNumber: In(phoneNumbers) },
    });
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
    await this.repo
      .createQueryBuilder()
      .insert()
      .values(devices.map((d) => this.toRow(d)))
      .orUpdate(
        [
          'phone_number',
          'capability_oid',
          'notification_url',
          'sms_address',
          'auth_type',
          'attributes',
          'client_username',
          'secrets',
          'updated_at',
        ],
        ['device_id'],
      )
      .updateEntity(false)
      .execute();
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
