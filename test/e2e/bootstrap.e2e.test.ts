/**
 * doBootstrap end to end: a device whose factory account names another
 * server gets the gateway's DM account as a signed WBXML bootstrap at its
 * notification URL, then opens its first session to the gateway with the new
 * credentials, which completes the task.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet } from '../../src/simulator/fleet.js';
import { CAPABILITY } from '../support/fixtures.js';
import { call, faultOf, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

const IMSI = '001010123456789';
let gw: TestGateway;
let fleet: Fleet;
let broker: SoapClient;

beforeAll(async () => {
  gw = await startTestGateway();
  fleet = new Fleet({
    devices: 2,
    serverUrl: 'http://127.0.0.1:9/factory-dm',
    serverId: 'factory-server',
    bootstrapSecrets: { imsiOrNetworkId: IMSI },
    capabilityOid: CAPABILITY.oid,
    listen: { host: '127.0.0.1', port: 0 },
    profile: { bootstrapSessionDelayMs: 0 },
  });
  await fleet.start();
  const dm = await soapClient(gw.url, 'DeviceManager', { kind: 'text', ...ADMIN });
  await call(dm, 'createDeviceCapability', { userSession: '', capability: CAPABILITY });
  for (const [i, d] of fleet.devices.entries()) {
    await call(dm, 'createDeviceInstance', {
      userSession: '',
      device: {
        deviceId: d.devId,
        phoneNumber: d.phoneNumber,
        capabilityOid: CAPABILITY.oid,
        notificationUrl: fleet.notificationUrlFor(d.devId),
        ...(i === 0 ? { attribute: [{ name: 'imsi', value: IMSI }] } : {}),
      },
    });
  }
  broker = await soapClient(gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
});
afterAll(async () => {
  await fleet?.stop();
  await gw?.stop();
});

describe('doBootstrap', () => {
  it('delivers the DM account; the device adopts it and its first session completes the task', async () => {
    const d = fleet.devices[0]!;
    const { taskId } = await call<{ taskId: string }>(broker, 'doBootstrap', { userSession: '', phoneNumber: d.phoneNumber });
    const done = await waitFor(async () => {
      const r = await call<{ taskData: { status: string } }>(broker, 'getTaskById', { userSession: '', taskId });
      return r.taskData.status === 'COMPLETED' ? r.taskData : undefined;
    }, 20_000, 'bootstrap completion');
    expect(done.status).toBe('COMPLETED');
    expect(d.account).toMatchObject({ serverId: gw.config.dmServerId, serverUrl: `${gw.url}/dm` });
    const stored = await gw.deviceManager.getDeviceInstanceByDeviceID(d.devId);
    expect(stored.state).toBe('ACTIVE');
    const events = (await gw.broker.getTaskHistory(taskId)).map((h) => h.event);
    // The device may open its session before the delivery call returns: both orders are true histories.
    expect([
      ['created', 'bootstrap-delivered', 'session-started', 'bootstrapped'],
      ['created', 'session-started', 'bootstrapped', 'bootstrap-delivered'],
    ]).toContainEqual(events);
  });

  it('answers InvalidState for a device without bootstrap key material, and NotFound for an unknown phone', async () => {
    expect((await faultOf(call(broker, 'doBootstrap', { userSession: '', phoneNumber: fleet.devices[1]!.phoneNumber }))).code).toBe(
      'InvalidState',
    );
    expect((await faultOf(call(broker, 'doBootstrap', { userSession: '', phoneNumber: '+19990000000' }))).code).toBe('NotFound');
  });

  it('answers InvalidArgument when the deviceId does not match the phone number', async () => {
    const f = await faultOf(
      call(broker, 'doBootstrap', { userSession: '', phoneNumber: fleet.devices[0]!.phoneNumber, deviceId: fleet.devices[1]!.devId }),
    );
    expect(f.code).toBe('InvalidArgument');
  });
});
