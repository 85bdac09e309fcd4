/**
 * How a stored device record comes from a validated DeviceInstanceInput:
 * a new device gets generated secrets and nonces, a known device keeps them.
 * Shared by the single-device operations and the bulk import.
 */
import type { DeviceInstanceInput } from '../domain/registry.js';
import type { DeviceRecord } from './ports.js';

export interface DeviceSecretSource {
  /** A new random DM secret (≥128 bits). */
  newSecret: () => string;
  /** A new random nonce, base64. */
  newNonce: () => string;
}

/** A device seen for the first time: secrets not given are generated. */
export function newDeviceRecord(input: DeviceInstanceInput, now: number, secrets: DeviceSecretSource): DeviceRecord {
  return {
    deviceId: input.deviceId,
    phoneNumber: input.phoneNumber,
    capabilityOid: input.capabilityOid,
    ...(input.notificationUrl ? { notificationUrl: input.notificationUrl } : {}),
    ...(input.smsAddress ? { smsAddress: input.smsAddress } : {}),
    authType: input.authType ?? 'md5',
    state: 'REGISTERED',
    attributes: input.attributes ?? {},
    credentials: {
      clientUsername: input.clientUsername || input.deviceId,
      clientPassword: input.clientPassword || secrets.newSecret(),
      serverPassword: input.serverPassword || secrets.newSecret(),
      clientNonce: secrets.newNonce(),
      serverNonce: secrets.newNonce(),
    },
    createdAt: new Date(now),
    updatedAt: new Date(now),
  };
}

/** Fields given replace stored ones; omitted optional fields and secrets keep their values. */
export function mergeDevice(current: DeviceRecord, input: DeviceInstanceInput, now: number): DeviceRecord {
  return {
    ...current,
    phoneNumber: input.phoneNumber,
    capabilityOid: input.capabilityOid,
    ...(input.notificationUrl !== undefined ? { notificationUrl: input.notificationUrl || undefined } : {}),
    ...(input.smsAddress !== undefined ? { smsAddress: input.smsAddress || undefined } : {}),
    authType: input.authType ?? current.authType,
    attributes: input.attributes ?? current.attributes,
    credentials: {
      ...current.credentials,
      clientUsername: input.clientUsername || current.credentials.clientUsername,
      clientPassword: input.clientPassword || current.credentials.clientPassword,
      serverPassword: input.serverPassword || current.credentials.serverPassword,
    },
    updatedAt: new Date(now),
  };
}
