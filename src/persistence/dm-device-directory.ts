/** The DM server's view of the registry: a device's DM account and what sessions learn about it. */
import type { DeviceContactPatch } from '../domain/registry.js';
import type { DmDevice, DmDeviceDirectory } from '../dm/server/ports.js';
import type { Transactor } from '../services/ports.js';

export class RegistryDmDeviceDirectory implements DmDeviceDirectory {
  constructor(
    private readonly tx: Transactor,
    /** DM_SERVER_ID: our SRVCRED AAuthName, as given to devices in their DMAcc. */
    private readonly serverId: string,
  ) {}

  async get(deviceId: string): Promise<DmDevice | undefined> {
    const d = await this.tx.stores.devices.get(deviceId);
    if (!d) return undefined;
    return {
      state: d.state,
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

  async recordContact(deviceId: string, patch: DeviceContactPatch): Promise<void> {
    await this.tx.stores.devices.recordContact(deviceId, patch);
  }
}
