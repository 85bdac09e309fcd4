/**
 * A handset that sends every node value as WBXML OPAQUE (clients built on
 * the SyncML reference toolkit, issue 13) against the gateway, next to the
 * same handset speaking XML: its QUERY results are the XML device's, its
 * DevDetail is stored once, and its SingleShotExec report completes the task.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet } from '../../src/simulator/fleet.js';
import type { SimulatedDevice } from '../../src/simulator/simulated-device.js';
import { type DmRig, startDmRig } from '../support/dm-rig.js';
import { CAPABILITY } from '../support/fixtures.js';
import { call, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

let rig: DmRig;
let xmlFleet: Fleet;
let broker: SoapClient;

beforeAll(async () => {
  rig = await startDmRig({ devices: 3, encoding: 'wbxml', fleet: { profile: { opaqueItemData: true } } });
  xmlFleet = new Fleet({
    devices: 1,
    serverUrl: rig.dmUrl,
    serverId: rig.gw.config.dmServerId,
    capabilityOid: CAPABILITY.oid,
    authType: 'md5',
    encoding: 'xml',
    imeiStart: '35100000000000',
    phonePrefix: '+1666',
    listen: { host: '127.0.0.1', port: 0 },
  });
  await xmlFleet.start();
  const imported = await rig.gw.deviceManager.importDeviceInstances(
    { caller: 'test', operation: 'setup' },
    { csv: xmlFleet.credentialsCsv() },
  );
  expect(imported.rejected).toEqual([]);
  broker = await soapClient(rig.gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
});
afterAll(async () => {
  await xmlFleet?.stop();
  await rig?.stop();
});

const opaqueDevice = (i: number) => rig.fleet.devices[i] as SimulatedDevice;

interface TaskData {
  status: string;
  resultCode?: number;
  results?: { uri: string; value: string; format?: string }[];
}

async function doOperation(phoneNumber: string, operation: unknown): Promise<string> {
  const r = await call<{ taskId: string }>(broker, 'doOperation', {
    userSession: '',
    operation,
    phoneNumber,
    bOptin: false,
    acceptDevicePolicy: 30,
    testCycle: false,
  });
  return r.taskId;
}

const until = (taskId: string, statuses: string[]) =>
  waitFor(async () => {
    const r = await call<{ taskData: TaskData }>(broker, 'getTaskById', { userSession: '', taskId });
    return statuses.includes(r.taskData.status) ? r.taskData : undefined;
  }, 20_000, `task ${taskId} to reach ${statuses.join('/')}`);

describe('a device sending every node value as WBXML OPAQUE', () => {
  it('has its DevDetail stored in the first session, so the next session fetches nothing', async () => {
    const d = opaqueDevice(0);
    expect(await d.runSession()).toMatchObject({ outcome: 'ok', messages: 3 }); // challenge, resend, DevDetail
    const stored = await rig.gw.deviceManager.getDeviceInstanceByDeviceID(d.devId);
    expect(stored.devInfo).toMatchObject({ man: 'DmwsiSim', mod: 'SimPhone-1', dmV: '1.2' });
    expect(stored.devInfo?.detail).toMatchObject({ fwV: '1.0.0', swV: '1.0.0', hwV: 'rev-a', devTyp: 'phone', oem: 'DmwsiSim', lrgObj: true });
    expect(await d.runSession()).toMatchObject({ outcome: 'ok', messages: 1 });
  });

  it('returns QUERY results equal to the same device speaking XML', async () => {
    const query = {
      name: 'QUERY',
      commands: {
        command: ['./DevInfo/Mod', './DevDetail/FwV', './DevDetail/LrgObj', './DevInfo/DmV'].map((uri) => ({ verb: 'Get', uri })),
      },
    };
    const fromOpaque = await until(await doOperation(opaqueDevice(1).phoneNumber!, query), ['COMPLETED', 'FAILED']);
    const fromXml = await until(await doOperation(xmlFleet.devices[0]!.phoneNumber!, query), ['COMPLETED', 'FAILED']);
    expect(fromOpaque.status).toBe('COMPLETED');
    expect(fromOpaque.results?.map((r) => [r.uri, r.value])).toEqual([
      ['./DevInfo/Mod', 'SimPhone-1'],
      ['./DevDetail/FwV', '1.0.0'],
      ['./DevDetail/LrgObj', 'true'],
      ['./DevInfo/DmV', '1.2'],
    ]);
    expect(fromOpaque.results).toEqual(fromXml.results);
  });

  it('completes a SCHEDULED_EXEC whose report carries result code 200 as OPAQUE', async () => {
    const atTime = new Date(Date.now() + 2000).toISOString().replace(/\.\d+Z$/, 'Z');
    const taskId = await doOperation(opaqueDevice(2).phoneNumber!, { name: 'SCHEDULED_EXEC', targetUri: './FUMO/fw1/Update', atTime });
    await until(taskId, ['SCHEDULED']);
    const done = await until(taskId, ['COMPLETED', 'FAILED', 'MISSED']);
    expect(done).toMatchObject({ status: 'COMPLETED' });
    expect(Number(done.resultCode)).toBe(200);
    expect(opaqueDevice(2).executionCount('./FUMO/fw1/Update')).toBe(1);
  });
});
