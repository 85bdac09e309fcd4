/** The DM server's view of the registry: a device's DM account and what sessions learn about it. */
import type { DeviceContactPatch } from '../domain/registry.js';
import type { DmDevice, DmDeviceDirectory, NotifiableDevices } from '../dm/server/ports.js';
import type { DeviceRecord, Transactor } from '../services/ports.js';
import { contactRider } from './registry-stores.js';
import { rideAlong } from './ride-along.js';
import { readBatcher, type StatementBatcher } from './statement-batcher.js';

/** How long a capability's DM version is trusted in-process (capabilities are few and rarely change). */
const CAPABILITY_TTL_MS = 30_000;

export class RegistryDmDeviceDirectory implements DmDeviceDirectory, NotifiableDevices {
  private readonly versions = new Map<string, { dmVersion: '1.2' | '2.0'; until: number }>();
  /**
   * PostgreSQL: device reads coalesced while one is in flight (readBatcher). Every DM session's first
   * message reads its device; under a rollout a dm process starts hundreds a second, and each read
   * alone pays a statement's fixed cost on both sides of the socket and a backend wake-up for a row
   * lookup that executes in ~0.03 ms. Undefined on SQLite, whose reads are in process.
   */
  private readonly reads: StatementBatcher<string, DeviceRecord | undefined> | undefined;

  constructor(
    private readonly tx: Transactor,
    /** DM_SERVER_ID: our SRVCRED AAuthName, as given to devices in their DMAcc. */
    private readonly serverId: string,
    /** PostgreSQL: a message's contact may ride on a task move, and device reads are coalesced (on SQLite every statement is in process). */
    private readonly contactRides = false,
  ) {
    this.reads = contactRides ? readBatcher((ids) => this.tx.stores.devices.getMany(ids)) : undefined;
  }

  async get(deviceId: string): Promise<DmDevice | undefined> {
    const d = await this.read(deviceId);
    return d ? this.dmDevice(d, await this.dmVersionOf(d.capabilityOid)) : undefined;
  }

  private read(deviceId: string): Promise<DeviceRecord | undefined> {
    const alone = () => this.tx.stores.devices.get(deviceId);
    return this.reads ? this.reads.run(deviceId, alone) : alone();
  }

  /** One read for the devices of a notify batch (their capabilities' versions are cached). */
  async getMany(deviceIds: readonly string[]): Promise<Map<string, DmDevice>> {
    const found = new Map<string, DmDevice>();
    if (deviceIds.length === 0) return found;
    const records = await this.tx.stores.devices.getMany([...new Set(deviceIds)]);
    for (const [id, d] of records) found.set(id, this.dmDevice(d, await this.dmVersionOf(d.capabilityOid)));
    return found;
  }

  private dmDevice(d: DeviceRecord, dmVersion: '1.2' | '2.0'): DmDevice {
    return {
      state: d.state,
      ...(dmVersion === '2.0' ? { dmVersion } : {}),
      ...(d.notificationUrl ? { notificationUrl: d.notificationUrl } : {}),
      ...(d.smsAddress ? { smsAddress: d.smsAddress } : {}),
      ...(d.devInfo ? { devInfo: d.devInfo } : {}),
      auth: {
        deviceId: d.deviceId,
        authType: d.authType,
        clientUsername: d.credentials.clientUsername,
        clientPassword: d.credentials.clientPassword,
        serverId: this.serverId,
        serverPassword: d.credentials.serverPassword,
        clientNonce: d.credentials.clientNonce,
        serverNonce: d.credentials.serverNonce,
      },
    };
  }

  /**
   * Cached: every DM 1.2 message reads its device, and a capability read each time would be a second
   * query on the hot path for a value that changes only when an operator edits the model.
   */
  private async dmVersionOf(oid: string): Promise<'1.2' | '2.0'> {
    const now = Date.now();
    const hit = this.versions.get(oid);
    if (hit && hit.until > now) return hit.dmVersion;
    const dmVersion = (await this.tx.stores.capabilities.get(oid))?.dmVersion === '2.0' ? '2.0' : '1.2';
    if (this.versions.size > 10_000) this.versions.clear();
    this.versions.set(oid, { dmVersion, until: now + CAPABILITY_TTL_MS });
    return dmVersion;
  }

  async recordContact(deviceId: string, patch: DeviceContactPatch): Promise<void> {
    await this.tx.stores.devices.recordContact(deviceId, patch);
  }

  /** PostgreSQL: the first task move of the work that commits by itself carries the contact (ride-along.ts). */
  async recordContactAround<T>(deviceId: string, patch: DeviceContactPatch, work: () => Promise<T>): Promise<T> {
    const { result, carried } = await rideAlong(this.contactRides ? contactRider(deviceId, patch) : undefined, work);
    if (!carried) await this.recordContact(deviceId, patch);
    return result;
  }
}
