/**
 * importDeviceInstances streams: the rows of one call are committed batch
 * by batch while the call is still running (another connection sees the
 * registry grow before the answer), never held for one transaction at the
 * end, so a large import in parts of 50,000-100,000 rows holds no more than
 * a batch at a time (README: Device registry, large imports).
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CAPABILITY } from '../support/fixtures.js';
import { deviceCsv } from '../support/csv.js';
import { call, soapClient } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const ROWS = 50_000;
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(() => gw?.stop());

it('commits the rows of one call batch by batch while the call runs', { timeout: 120_000 }, async () => {
  const dm = await soapClient(gw.url, 'DeviceManager', { kind: 'text', ...ADMIN });
  await call(dm, 'createDeviceCapability', { userSession: '', capability: CAPABILITY });
  const reader = new Database(path.join(gw.dir, 'gateway.sqlite'), { readonly: true });
  const count = () => (reader.prepare('SELECT COUNT(*) AS n FROM device_instance').get() as { n: number }).n;
  const seen: number[] = [];
  let answered = false;
  const importing = call<{ importResult: { imported: number } }>(dm, 'importDeviceInstances', {
    userSession: '',
    csv: deviceCsv(ROWS, CAPABILITY.oid),
  }).finally(() => {
    answered = true;
  });
  while (!answered) {
    seen.push(count());
    await new Promise((r) => setTimeout(r, 25));
  }
  const r = await importing;
  expect(Number(r.importResult.imported)).toBe(ROWS);
  expect(count()).toBe(ROWS);
  reader.close();
  // Before the answer the registry was seen part-written, more than once, in whole batches of 1,000.
  const partial = [...new Set(seen.filter((n) => n > 0 && n < ROWS))];
  expect(partial.length).toBeGreaterThan(1);
  expect(partial.every((n) => n % 1000 === 0)).toBe(true);
});
