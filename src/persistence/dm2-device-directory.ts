/** The DM 2.0 server's view of the registry: the device's DM account and the DM version its capability declares. */
import type { DeviceContactPatch, DmVersion } from '../domain/registry.js';
import type { DmDevice } from '../dm/server/ports.js';
import type { Dm2Device, Dm2DeviceDirectory } from '../dm2/server.js';
import type { Transactor } from '../services/ports.js';

export class RegistryDm2DeviceDirectory implements Dm2DeviceDirectory {
  constructor(
    private readonly tx: Transactor,
    /** DM_SERVER_ID. */
    private readonly serverId: string,
  ) {}

  async get(deviceId: string): Promise<Dm2Device | undefined> {
    const d = await this.tx.stores.devices.get(deviceId);
    if (!d) return undefined;
    const capability = await this.tx.stores.capabilities.get(d.capabilityOid);
    const device: DmDevice = {
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
    return { ...device, dmVersion: (capability?.dmVersion ?? '1.2') as DmVersion };
  }

  async recordContact(deviceId: string, patch: DeviceContactPatch): Promise<void> {
    await this.tx.stores.devices.recordContact(deviceId, patch);
  }
}
