/** Valid registry inputs for tests. */
import { luhnValid } from '../../src/domain/device-id.js';
import type { Task } from '../../src/domain/tasks.js';
import type { DeviceRecord } from '../../src/services/ports.js';

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

/** Test device n as a store inserts it: md5, REGISTERED, of CAPABILITY, with nonces of its own. */
export function deviceRecordN(n: number, at: number): DeviceRecord {
  return {
    deviceId: imeiN(n),
    phoneNumber: phoneN(n),
    capabilityOid: CAPABILITY.oid,
    authType: 'md5',
    state: 'REGISTERED',
    attributes: {},
    credentials: { clientUsername: `u${n}`, clientPassword: `c${n}`, serverPassword: `s${n}`, clientNonce: 'Y2xpZW50', serverNonce: 'c2VydmVy' },
    createdAt: new Date(at),
    updatedAt: new Date(at),
  };
}

/** A QUEUED QUERY task (Get ./DevInfo/Mod) of test device n, as a store inserts it; of a job when `job` is given. */
export function queryTaskN(n: number, taskId: string, at: number, job?: { jobId: string; jobSeq: number }): Task {
  return {
    taskId,
    ...job,
    deviceId: imeiN(n),
    phoneNumber: phoneN(n),
    operation: { name: 'QUERY', commands: [{ verb: 'Get', uri: './DevInfo/Mod' }] },
    status: 'QUEUED',
    results: [],
    bOptin: false,
    acceptDevicePolicy: 30,
    testCycle: false,
    createdBy: 'test',
    createdAt: new Date(at),
    updatedAt: new Date(at),
  };
}
