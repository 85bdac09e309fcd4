/** Finding a device from what a care agent has at hand. */
import { DmwsiError } from '../domain/errors.js';
import type { DeviceManagerService, PublicDeviceInstance } from '../services/device-manager.js';

/** 15 digits are tried as an IMEI first, text with a colon as a device ID, and anything as a phone number. */
export async function findDevice(devices: DeviceManagerService, q: string): Promise<PublicDeviceInstance | undefined> {
  const ids = /^\d{15}$/.test(q) ? [`IMEI:${q}`] : q.includes(':') ? [q] : [];
  const tries: (() => Promise<PublicDeviceInstance>)[] = [
    ...ids.map((id) => () => devices.getDeviceInstanceByDeviceID(id)),
    () => devices.getDeviceInstanceByPhoneNumber(q),
  ];
  for (const attempt of tries) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof DmwsiError && (err.code === 'NotFound' || err.code === 'InvalidArgument'))) throw err;
    }
  }
  return undefined;
}
