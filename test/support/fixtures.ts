/** Valid registry inputs for tests. */
import { luhnValid } from '../../src/domain/device-id.js';

/** A valid IMEI (15 digits, Luhn check digit) from a 14-digit body. */
export function imei(body14: string): string {
  for (let d = 0; d <= 9; d++) {
    if (luhnValid(body14 + d)) return `IMEI:${body14}${d}`;
  }
  throw new Error('unreachable');
}

export function imeiN(n: number): string {
  return imei(`35${String(n).padStart(12, '0')}`);
}

export function phoneN(n: number): string {
  return `+1555${String(n).padStart(7, '0')}`;
}

export const CAPABILITY = {
  oid: 'acme-x1-1.0',
  make: 'Acme',
  model: 'X1',
  firmwareVersion: '1.0',
  dmVersion: '1.2',
  sseRoot: './SSE',
  maxMsgSize: 16384,
  wbxml: false,
};
