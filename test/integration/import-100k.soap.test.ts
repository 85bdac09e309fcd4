/**
 * importDeviceInstances with 100,000 CSV rows in one SOAP call: streamed
 * into batched inserts, every row stored, a few bad rows reported.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CAPABILITY } from '../support/fixtures.js';
import { deviceCsv } from '../support/csv.js';
import { call, soapClient } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(() => gw?.stop());

it('imports 100,000 CSV rows in one call and reports the bad ones', { timeout: 180_000 }, async () => {
  const dm = await soapClient(gw.url, 'DeviceManager', { kind: 'text', ...ADMIN });
  await call(dm, 'createDeviceCapability', { userSession: '', capability: CAPABILITY });
  const lines = deviceCsv(100_000, CAPABILITY.oid).split('\n');
  lines[500] = 'IMEI:1,+1,acme,,,,';
  lines[99_999] = lines[99_999]!.replace('+1555', '1555');
  const started = Date.now();
  const r = await call<{ importResult: { imported: number; rejected: { row: number; reason: string }[] } }>(
    dm,
    'importDeviceInstances',
    { userSession: '', csv: lines.join('\n') },
  );
  const seconds = (Date.now() - started) / 1000;
  console.info(`100k-row import over SOAP took ${seconds.toFixed(1)} s`);
  expect(Number(r.importResult.imported)).toBe(99_998);
  expect(r.importResult.rejected.map((x) => Number(x.row))).toEqual([501, 100_000]);
  const [count] = await gw.dataSource.query('SELECT count(*) AS n FROM device_instance');
  expect(Number(count.n)).toBe(99_998);
});
