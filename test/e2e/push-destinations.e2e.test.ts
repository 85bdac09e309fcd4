/**
 * What the gateway's outbound pushes (Package#0 over HTTP, bootstraps) may
 * reach and what of the answer they keep: NOTIFICATION_ALLOWED_NETWORKS is
 * checked before anything is sent, and task history keeps a device's status
 * code, never its words.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AllowedNetworks } from '../../src/security/allowed-networks.js';
import { type RecordingServer, recordingServer } from '../integration/notification/helpers.js';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { call, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { waitFor } from '../support/wait.js';

const MARKER = 'device-said-XYZZY';
const IMSI = '001010123456789';
const gateways: TestGateway[] = [];
let server: RecordingServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});
afterAll(async () => {
  for (const g of gateways.splice(0)) await g.stop();
});

function networks(text: string): AllowedNetworks {
  const n = AllowedNetworks.parse(text);
  if (!(n instanceof AllowedNetworks)) throw new Error(n.problems.join('; '));
  return n;
}

let nextDevice = 1;
/** A gateway allowing `allowed`, with one device whose notificationUrl is `notificationUrl`. */
async function setUp(allowed: string, notificationUrl: string) {
  const gw = await startTestGateway({ overrides: { notificationAllowedNetworks: networks(allowed) } });
  gateways.push(gw);
  const dm = await soapClient(gw.url, 'DeviceManager', { kind: 'text', ...ADMIN });
  await call(dm, 'createDeviceCapability', { userSession: '', capability: CAPABILITY });
  const n = nextDevice++;
  const device = { deviceId: imeiN(9000 + n), phoneNumber: phoneN(9000 + n) };
  await call(dm, 'createDeviceInstance', {
    userSession: '',
    device: { ...device, capabilityOid: CAPABILITY.oid, notificationUrl, attribute: [{ name: 'imsi', value: IMSI }] },
  });
  const broker = await soapClient(gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
  return { gw, broker, device };
}

async function doBootstrap(broker: SoapClient, phoneNumber: string): Promise<string> {
  return (await call<{ taskId: string }>(broker, 'doBootstrap', { userSession: '', phoneNumber })).taskId;
}

async function doOperation(broker: SoapClient, phoneNumber: string): Promise<string> {
  const atTime = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const r = await call<{ taskId: string }>(broker, 'doOperation', {
    userSession: '',
    operation: { name: 'SCHEDULED_EXEC', targetUri: './FUMO/fw1/Update', atTime },
    phoneNumber,
    bOptin: false,
    acceptDevicePolicy: 30,
    testCycle: false,
  });
  return r.taskId;
}

/** The task's history once an entry with `event` is in it. */
function historyWith(gw: TestGateway, taskId: string, event: string) {
  return waitFor(async () => {
    const h = await gw.broker.getTaskHistory(taskId);
    return h.some((e) => e.event === event) ? h : undefined;
  }, 15_000, `${event} in the history of ${taskId}`);
}

describe('NOTIFICATION_ALLOWED_NETWORKS', () => {
  it('sends nothing to a device outside the allowed networks and records the refusal in task history', async () => {
    server = await recordingServer((_req, res) => res.writeHead(204).end());
    const { gw, broker, device } = await setUp('10.0.0.0/8, fd00::/8', `${server.url}/notify`);

    const notifyTask = await doOperation(broker, device.phoneNumber);
    const notified = await historyWith(gw, notifyTask, 'notification-failed');
    expect(notified.find((e) => e.event === 'notification-failed')?.detail).toBe(
      'http: destination 127.0.0.1 not in NOTIFICATION_ALLOWED_NETWORKS (after 0 attempt(s))',
    );

    const bootstrapTask = await doBootstrap(broker, device.phoneNumber);
    const refused = await historyWith(gw, bootstrapTask, 'bootstrap-refused');
    expect(refused.at(-1)).toMatchObject({ toStatus: 'FAILED', detail: 'destination 127.0.0.1 not in NOTIFICATION_ALLOWED_NETWORKS' });
    expect(server.connections).toBe(0);
    expect(server.requests).toEqual([]);
  });

  it('delivers to a device inside the allowed networks', async () => {
    server = await recordingServer((_req, res) => res.writeHead(204).end());
    const { gw, broker, device } = await setUp('127.0.0.0/8', `${server.url}/notify`);
    const notifyTask = await doOperation(broker, device.phoneNumber);
    const h = await historyWith(gw, notifyTask, 'notification-delivered');
    expect(h.find((e) => e.event === 'notification-delivered')?.detail).toBe('http: HTTP 204');
    const bootstrapTask = await doBootstrap(broker, device.phoneNumber);
    await historyWith(gw, bootstrapTask, 'bootstrap-delivered');
    expect(server.requests.map((r) => r.headers['content-type'])).toEqual([
      'application/vnd.syncml.notification',
      expect.stringMatching(/^application\/vnd\.syncml\.dm\+wbxml/),
    ]);
  });
});

describe('task history of a refused push', () => {
  it('keeps the status code of a device that refuses a bootstrap, not the text it answered with', async () => {
    server = await recordingServer((_req, res) => {
      res.writeHead(403, MARKER, { 'content-type': 'text/plain', location: `http://${MARKER}/` }).end(`${MARKER}\n`);
    });
    const { gw, broker, device } = await setUp('127.0.0.0/8', `${server.url}/notify`);
    const taskId = await doBootstrap(broker, device.phoneNumber);
    const h = await historyWith(gw, taskId, 'bootstrap-refused');
    expect(h.at(-1)).toMatchObject({ toStatus: 'FAILED', detail: 'HTTP 403' });
    expect(h.find((e) => e.event === 'bootstrap-failed')?.detail).toMatch(/^HTTP 403 /);
    expect(JSON.stringify(h)).not.toContain(MARKER);
  });
});
