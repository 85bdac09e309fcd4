/**
 * acceptDevicePolicy, checked when a device actually connects: a request may
 * carry a guard naming the device it was meant for and the policy; the DM
 * server compares it with the DevInfo/DevId the connecting device reports
 * before any command is sent.
 *   10: same TAC (first 8 digits of the IMEI); 20: any IMEI when the
 *   registered id is not an IMEI ("none registered"); 30: any.
 */
import { typeAllocationCode } from '../../domain/device-id.js';

export interface DeviceGuard {
  registeredDeviceId: string;
  policy: 10 | 20 | 30;
}

/** undefined when the device may take the request, else why not. */
export function guardRejects(guard: DeviceGuard, reportedDevId: string | undefined): string | undefined {
  if (guard.policy === 30 || reportedDevId === undefined) return undefined;
  const reported = reportedDevId.toUpperCase();
  const registered = guard.registeredDeviceId.toUpperCase();
  if (reported === registered) return undefined;
  const registeredTac = typeAllocationCode(registered);
  if (guard.policy === 20) {
    return registeredTac === undefined
      ? undefined
      : `policy 20: device reports ${reportedDevId}, registered IMEI is ${guard.registeredDeviceId}`;
  }
  const reportedTac = typeAllocationCode(reported);
  if (registeredTac !== undefined && reportedTac === registeredTac) return undefined;
  return `policy 10: device reports ${reportedDevId} (TAC ${reportedTac ?? 'none'}), registered ${guard.registeredDeviceId} (TAC ${registeredTac ?? 'none'})`;
}
