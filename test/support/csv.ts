/** Generates device import CSV text in the contract's format. */
import { imeiN, phoneN } from './fixtures.js';

export const CSV_HEADER = 'deviceId,phoneNumber,capabilityOid,notificationUrl,clientUsername,clientPassword,serverPassword';

export function deviceCsv(count: number, capabilityOid: string, start = 0): string {
  const lines = [CSV_HEADER];
  for (let i = start; i < start + count; i++) {
    lines.push(`${imeiN(i)},${phoneN(i)},${capabilityOid},http://127.0.0.1:9/notify/${i},,,`);
  }
  return lines.join('\n');
}
