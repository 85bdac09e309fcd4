/** A caller over its request budget gets Overloaded faults; other callers are unaffected. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { envelope, passwordTextHeader } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ overrides: { soapRatePerCaller: 5 } });
  await gw.auth.createUser('calm', 'calm-password-1', 'readonly');
});
afterAll(() => gw?.stop());

const get = (user: string, pw: string) =>
  fetch(`${gw.url}/dmwsi/DeviceManager`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    body: envelope('<t:getDeviceCapabilities><t:userSession/><t:offset>0</t:offset><t:limit>1</t:limit></t:getDeviceCapabilities>', passwordTextHeader(user, pw)),
  }).then(async (r) => /<tns:code>(\w+)</.exec(await r.text())?.[1] ?? 'ok');

it('answers Overloaded beyond the per-caller budget, and serves other callers meanwhile', async () => {
  const started = Date.now();
  const codes = await Promise.all(Array.from({ length: 30 }, () => get(ADMIN.username, ADMIN.password)));
  const seconds = (Date.now() - started) / 1000;
  // A burst of 10 (twice the rate), plus what refills at 5/s while the requests were answered.
  expect(codes.filter((c) => c === 'ok').length).toBeLessThanOrEqual(10 + Math.ceil(5 * seconds));
  expect(codes).toContain('Overloaded');
  expect(await get('calm', 'calm-password-1')).toBe('ok');
});
