/**
 * The DM 2.0 server's view of the registry: the DM 1.2 server's (the device's DM account, its
 * capability's DM version cached in-process), with the version always present.
 */
import type { DeviceContactPatch } from '../domain/registry.js';
import type { Dm2Device, Dm2DeviceDirectory } from '../dm2/server.js';
import type { Transactor } from '../services/ports.js';
import { RegistryDmDeviceDirectory } from './dm-device-directory.js';

export class RegistryDm2DeviceDirectory implements Dm2DeviceDirectory {
  private readonly inner: RegistryDmDeviceDirectory;

  constructor(tx: Transactor, serverId: string, contactRides = false) {
    this.inner = new RegistryDmDeviceDirectory(tx, serverId, contactRides);
  }

  async get(deviceId: string): Promise<Dm2Device | undefined> {
    const d = await this.inner.get(deviceId);
    return d === undefined ? undefined : { ...d, dmVersion: d.dmVersion ?? '1.2' };
  }

  recordContact(deviceId: string, patch: DeviceContactPatch): Promise<void> {
    return this.inner.recordContact(deviceId, patch);
  }

  recordContactAround<T>(deviceId: string, patch: DeviceContactPatch, work: () => Promise<T>): Promise<T> {
    return this.inner.recordContactAround(deviceId, patch, work);
  }
}
