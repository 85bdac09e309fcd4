/**
 * doBootstrap routes by capability too: a device whose capability is DM 2.0
 * gets a DMAcc whose address is the gateway's `/dm2`, a DM 1.2 one `/dm`
 * (the bootstrap bytes captured at the device's notification URL).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataText, parseSyncMl } from '../../../src/dm/codec/index.js';
import type { Command } from '../../../src/dm/codec/types.js';
import { CAPABILITY, imeiN, phoneN } from '../../support/fixtures.js';
import { CAPABILITY_DM2 } from '../../support/dm2-rig.js';
import { call, soapClient } from '../../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../../support/test-gateway.js';
import { waitFor } from '../../support/wait.js';

let gw: TestGateway;
let stub: http.Server;
const received = new Map<string, { body: Buffer; type: string }>();

beforeAll(async () => {
  stub = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.set(decodeURIComponent(req.url!.slice(1)), { body: Buffer.concat(chunks), type: String(req.headers['content-type']) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  gw = await startTestGateway({ overrides: { dm2AllowPlainHttp: true } });
  const ctx = { caller: 'test', operation: 'setup' };
  await gw.deviceManager.createDeviceCapability(ctx, CAPABILITY_DM2);
  await gw.deviceManager.createDeviceCapability(ctx, { ...CAPABILITY, dmVersion: '1.2' });
  for (const [i, oid] of [CAPABILITY_DM2.oid, CAPABILITY.oid].entries()) {
    const deviceId = imeiN(501 + i);
    await gw.deviceManager.createDeviceInstance(ctx, {
      deviceId,
      phoneNumber: phoneN(501 + i),
      capabilityOid: oid,
      notificationUrl: `${base}/${encodeURIComponent(deviceId)}`,
      attributes: { imsi: '310150123456789' },
    });
  }
});
afterAll(async () => {
  stub?.close();
  await gw?.stop();
});

function addressIn(bytes: Buffer, contentType: string): string | undefined {
  const { message } = parseSyncMl(bytes, contentType.split(';')[0]!);
  const visit = (cmds: Command[]): string | undefined => {
    for (const c of cmds) {
      if ('items' in c) {
        for (const item of c.items) if (item.target?.locUri.endsWith('/AppAddr/1/Addr') && item.data !== undefined) return dataText(item.data);
      }
      if ('commands' in c) {
        const inner = visit(c.commands as Command[]);
        if (inner) return inner;
      }
    }
    return undefined;
  };
  return visit(message.body);
}

describe('doBootstrap by capability', () => {
  it.each([
    [0, '/dm2'],
    [1, '/dm'],
  ])('device %i gets the address ending %s', async (i, suffix) => {
    const broker = await soapClient(gw.url, 'DeploymentBroker', { kind: 'text', ...ADMIN });
    await call(broker, 'doBootstrap', { userSession: '', phoneNumber: phoneN(501 + i) });
    const got = await waitFor(() => received.get(imeiN(501 + i)), 10_000, 'the bootstrap');
    expect(addressIn(got.body, got.type)).toBe(`${gw.url}${suffix}`);
  });
});
