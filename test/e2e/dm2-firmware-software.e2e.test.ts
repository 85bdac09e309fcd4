/**
 * FIRMWARE_UPDATE and SOFTWARE_INSTALL on DM 2.0 devices over SOAP: the
 * gateway plans the same FUMO/SCOMO requests as for DM 1.2; the device HGETs
 * the PkgURL (and SCOMO's PkgID/Name), the EXEC carries a ServerURI so it
 * answers 202 (IN_PROGRESS), downloads the package from the signed /dl link,
 * installs it, and reports the FUMO/SCOMO final alert (DM 1.x content in
 * `{"DM1x": …}`) to that ServerURI; the alert decides the task, as for DM 1.2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSimulatedPackage } from '../../src/simulator/mo/package.js';
import type { Dm2SimulatedDevice } from '../../src/simulator/dm2/dm2-device.js';
import { contentUploads } from '../support/content.js';
import { CAPABILITY_DM2, type Dm2Rig, startDm2Rig } from '../support/dm2-rig.js';
import { call, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

let rig: Dm2Rig;
let broker: SoapClient;
let bulk: SoapClient;
let session: string;
let firmware: string;
let maps: string;

const FIRMWARE = makeSimulatedPackage({ kind: 'firmware', name: 'acme-x2', version: '3.0', size: 32 * 1024 });
const MAPS = makeSimulatedPackage({ kind: 'component', name: 'maps', version: '1.4', size: 16 * 1024 });

beforeAll(async () => {
  rig = await startDm2Rig({ devices: 3, overrides: { longOperationSeconds: 60 }, fleet: { fumoRoot: './FUMO', scomoRoot: './SCOMO', installMs: 200 } });
  broker = await soapClient(rig.gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
  bulk = await soapClient(rig.gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
  session = await rig.gw.auth.login(ADMIN.username, ADMIN.password);
  const uploads = contentUploads(rig.gw.url, () => bulk, () => session);
  firmware = await uploads.upload(FIRMWARE, { name: 'acme-x2', version: '3.0', kind: 'firmware', capabilityOids: { oid: [CAPABILITY_DM2.oid] } });
  maps = await uploads.upload(MAPS, { name: 'maps', version: '1.4', kind: 'software' });
});
afterAll(() => rig?.stop());

const device = (i: number) => rig.fleet.devices[i] as Dm2SimulatedDevice;

async function run(i: number, operation: Record<string, unknown>) {
  const { taskId } = await call<{ taskId: string }>(broker, 'doOperation', {
    userSession: '',
    operation,
    phoneNumber: device(i).phoneNumber,
    bOptin: false,
    acceptDevicePolicy: 30,
    testCycle: false,
  });
  const t = await waitFor(async () => {
    const d = (await call<{ taskData: { status: string; resultCode?: number } }>(broker, 'getTaskById', { userSession: '', taskId })).taskData;
    return ['COMPLETED', 'FAILED', 'EXPIRED'].includes(d.status) ? d : undefined;
  }, 30_000, `task ${taskId} to end`);
  const h = await call<{ taskHistoryEntry?: { toStatus: string }[] }>(bulk, 'getTaskHistory', { userSession: '', taskId });
  const states = (h.taskHistoryEntry ?? []).map((x) => x.toStatus).filter((s, k, a) => s !== a[k - 1]);
  return { status: t.status, resultCode: t.resultCode === undefined ? undefined : Number(t.resultCode), states };
}

describe('DM 2.0 firmware and software delivery', () => {
  it('FIRMWARE_UPDATE: HGET PkgURL, asynchronous EXEC, download, install, FUMO alert → COMPLETED 200, new FwV', async () => {
    const r = await run(0, { name: 'FIRMWARE_UPDATE', contentId: firmware });
    expect(r).toEqual({ status: 'COMPLETED', resultCode: 200, states: ['QUEUED', 'NOTIFYING', 'IN_SESSION', 'IN_PROGRESS', 'COMPLETED'] });
    expect(device(0).tree.read('./DevDetail/FwV')?.data).toBe('3.0');
    const commands = device(0).sessions.flatMap((s) => s.commands);
    expect(commands).toEqual(expect.arrayContaining(['HGET', 'EXEC', 'CONT', 'END']));
  });

  it('SOFTWARE_INSTALL: the component is downloaded, installed and reported with a SCOMO alert → COMPLETED 1200', async () => {
    const r = await run(1, { name: 'SOFTWARE_INSTALL', contentId: maps });
    expect(r).toEqual({ status: 'COMPLETED', resultCode: 1200, states: ['QUEUED', 'NOTIFYING', 'IN_SESSION', 'IN_PROGRESS', 'COMPLETED'] });
  });
});
