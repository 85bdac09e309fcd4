/**
 * Many SOAP calls at once against one SQLite file: every valid change lands,
 * every refused one leaves nothing behind, and no call fails for reasons of
 * its own making (SQLite has a single connection; units of work take turns).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { envelope, passwordTextHeader } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(() => gw?.stop());

const auth = passwordTextHeader(ADMIN.username, ADMIN.password);
const post = (body: string) =>
  fetch(`${gw.url}/dmwsi/DeviceManager`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8' },
    body: envelope(body, auth),
  }).then(async (r) => ({ status: r.status, text: await r.text() }));

it('serves 200 concurrent creates, duplicates and reads without an Internal fault', async () => {
  await post(
    `<t:createDeviceCapability><t:userSession/><t:capability><t:oid>${CAPABILITY.oid}</t:oid><t:make>A</t:make><t:model>B</t:model><t:firmwareVersion>1</t:firmwareVersion><t:dmVersion>1.2</t:dmVersion></t:capability></t:createDeviceCapability>`,
  );
  const create = (n: number) =>
    post(
      `<t:createDeviceInstance><t:userSession/><t:device><t:deviceId>${imeiN(n)}</t:deviceId><t:phoneNumber>${phoneN(n)}</t:phoneNumber><t:capabilityOid>${CAPABILITY.oid}</t:capabilityOid></t:device></t:createDeviceInstance>`,
    );
  const calls = [];
  for (let n = 0; n < 100; n++) {
    calls.push(create(n), create(n % 10), post(`<t:getDeviceInstances><t:userSession/><t:offset>0</t:offset><t:limit>5</t:limit></t:getDeviceInstances>`));
  }
  const results = await Promise.all(calls);
  expect(results.filter((r) => r.text.includes('Internal'))).toEqual([]);
  const created = results.filter((r) => r.status === 200 && r.text.includes('createDeviceInstanceResponse'));
  const refused = results.filter((r) => r.text.includes('<tns:code>AlreadyExists</tns:code>'));
  expect(created).toHaveLength(100);
  expect(refused).toHaveLength(100);
  const [row] = await gw.dataSource.query('SELECT count(*) AS n FROM device_instance');
  expect(Number(row.n)).toBe(100);
  const audits = await gw.dataSource.query("SELECT outcome, count(*) AS n FROM audit_log WHERE operation = 'createDeviceInstance' GROUP BY outcome ORDER BY outcome");
  expect(audits.map((a: { outcome: string; n: number }) => [a.outcome, Number(a.n)])).toEqual([
    ['AlreadyExists', 100],
    ['ok', 100],
  ]);
});
