/**
 * Route by capability: a device whose capability says dmVersion 2.0 is
 * never served as DM 1.2 (its SyncML at /dm is refused), and an operation
 * DM 2.0 cannot carry (bOptin: a user-interaction alert) is refused before
 * any task exists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet } from '../../../src/simulator/fleet.js';
import { CAPABILITY_DM2, type Dm2Rig, startDm2Rig } from '../../support/dm2-rig.js';
import { call, faultOf, type SoapClient, soapClient } from '../../support/soap.js';
import { ADMIN } from '../../support/test-gateway.js';

let rig: Dm2Rig;
let fleet12As20: Fleet;
let broker: SoapClient;

beforeAll(async () => {
  rig = await startDm2Rig({ devices: 1 });
  // DM 1.2 simulated devices registered under the DM 2.0 capability.
  fleet12As20 = new Fleet({
    devices: 1,
    serverUrl: `${rig.gw.url}/dm`,
    serverId: rig.gw.config.dmServerId,
    capabilityOid: CAPABILITY_DM2.oid,
    authType: 'md5',
    encoding: 'xml',
    imeiStart: '35300000000000',
    listen: { host: '127.0.0.1', port: 0 },
  });
  await fleet12As20.start();
  const r = await rig.gw.deviceManager.importDeviceInstances({ caller: 'test', operation: 'setup' }, { csv: fleet12As20.credentialsCsv() });
  expect(r.rejected).toEqual([]);
  broker = await soapClient(rig.gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
});
afterAll(async () => {
  await fleet12As20?.stop();
  await rig?.stop();
});

describe('routing by capability', () => {
  it('refuses SyncML at /dm from a device whose capability is DM 2.0 (403, no session)', async () => {
    const report = await fleet12As20.devices[0]!.runSession();
    expect(report.outcome).toBe('error');
    expect(report.error).toMatch(/403/);
  });

  it('refuses bOptin for a DM 2.0 device with InvalidArgument, before any task exists', async () => {
    const fault = await faultOf(
      call(broker, 'doOperation', {
        userSession: '',
        operation: { name: 'QUERY', commands: { command: [{ verb: 'Get', uri: './DevInfo/Mod' }] } },
        phoneNumber: rig.fleet.devices[0]!.phoneNumber,
        bOptin: true,
        acceptDevicePolicy: 30,
        testCycle: false,
      }),
    );
    expect(fault.code).toBe('InvalidArgument');
  });
});
