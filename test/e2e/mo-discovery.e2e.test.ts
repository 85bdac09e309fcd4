/**
 * Where the FUMO and SCOMO MOs are when the device capability names neither:
 * found once on the device by the MO's Type and remembered; not found, the
 * task fails saying where the gateway looked.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSimulatedPackage } from '../../src/simulator/mo/package.js';
import type { SimulatedDevice } from '../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { call, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

const FIRMWARE = makeSimulatedPackage({ kind: 'firmware', name: 'acme-x1', version: '3.1', size: 8 * 1024 });

let rig: DmRig;
let broker: SoapClient;
let bulk: SoapClient;
let server: http.Server;
let contentId: string;

beforeAll(async () => {
  // FUMO at a root other than the first candidate; no SCOMO at all.
  rig = await startDmRig({ devices: 1, fleet: { fumoRoot: './FwUpdate', scomoRoot: false, delivery: { installMs: 100 } } });
  broker = await soapClient(rig.gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
  bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
  server = http.createServer((_req, res) => res.end(FIRMWARE));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fw.pkg`;
  const sha256 = crypto.createHash('sha256').update(FIRMWARE).digest('hex');
  contentId = (
    await call<{ contentId: string }>(bulk, 'createContent', {
      userSession: '',
      content: { name: 'acme-x1', version: '3.1', kind: 'firmware', sha256, size: FIRMWARE.length, url },
    })
  ).contentId;
});
afterAll(async () => {
  server?.close();
  await rig?.stop();
});

const device = () => rig.fleet.devices[0] as SimulatedDevice;

async function run(operation: Record<string, unknown>) {
  const { taskId } = await call<{ taskId: string }>(broker, 'doOperation', {
    userSession: '',
    operation,
    phoneNumber: device().phoneNumber,
    bOptin: false,
    acceptDevicePolicy: 30,
    testCycle: false,
  });
  const t = await waitFor(async () => {
    const d = (await call<{ taskData: { status: string; resultCode?: number } }>(broker, 'getTaskById', { userSession: '', taskId })).taskData;
    return ['COMPLETED', 'FAILED', 'EXPIRED'].includes(d.status) ? d : undefined;
  }, 20_000, `task ${taskId} to end`);
  const h = await call<{ taskHistoryEntry?: { event: string; detail?: string }[] }>(bulk, 'getTaskHistory', { userSession: '', taskId });
  return { status: t.status, events: (h.taskHistoryEntry ?? []).map((x) => ({ event: x.event, detail: x.detail })) };
}

describe('MO discovery', () => {
  it('finds the FUMO node by its Type once, remembers it, and uses it for later tasks without looking again', async () => {
    const first = await run({ name: 'FIRMWARE_UPDATE', contentId });
    expect(first.status).toBe('COMPLETED');
    expect(first.events.find((e) => e.event === 'mo-found')?.detail).toBe('FUMO MO at ./FwUpdate');
    const second = await run({ name: 'FIRMWARE_UPDATE', contentId });
    expect(second.status).toBe('COMPLETED');
    expect(second.events.map((e) => e.event)).not.toContain('mo-found');
    expect(device().firmwareVersion).toBe('3.1');
  });

  it('fails the task, saying where it looked, when the device has no MO of the operation', async () => {
    const r = await run({ name: 'SOFTWARE_INVENTORY' });
    expect(r.status).toBe('FAILED');
    const why = r.events.find((e) => e.event === 'mo-not-found')?.detail;
    expect(why).toMatch(/no SCOMO MO found on the device/);
    expect(why).toMatch(/\.\/SCOMO, \.\/SCM/);
  });
});
