/**
 * DM 2.0 sessions count among the open DM sessions (DM_MAX_SESSIONS, shared
 * with DM 1.2): a Package#1 that would open one more gets 503 with
 * Retry-After and changes nothing; one that opens and ends in one package
 * (nothing queued) is served at the cap; an ended session gives its place back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA_PACKAGE1, MEDIA_PACKAGE3 } from '../../../src/dm2/constants.js';
import { imeiN, phoneN } from '../../support/fixtures.js';
import { CAPABILITY_DM2 } from '../../support/dm2-rig.js';
import { startTestGateway, type TestGateway } from '../../support/test-gateway.js';

let gw: TestGateway;
const devices = [0, 1].map((i) => ({ deviceId: imeiN(401 + i), user: `cap-${i}`, password: `password-cap-${i}` }));

beforeAll(async () => {
  gw = await startTestGateway({ overrides: { dm2AllowPlainHttp: true, dmMaxSessions: 1 } });
  const ctx = { caller: 'test', operation: 'setup' };
  await gw.deviceManager.createDeviceCapability(ctx, CAPABILITY_DM2);
  for (const [i, d] of devices.entries()) {
    await gw.deviceManager.createDeviceInstance(ctx, {
      deviceId: d.deviceId,
      phoneNumber: phoneN(401 + i),
      capabilityOid: CAPABILITY_DM2.oid,
      clientUsername: d.user,
      clientPassword: d.password,
      serverPassword: 'server-pw-1',
      authType: 'basic',
    });
  }
});
afterAll(() => gw?.stop());

const headers = (d: (typeof devices)[number], type = MEDIA_PACKAGE1) => ({
  'content-type': type,
  'omadm-devid': d.deviceId,
  authorization: `Basic ${Buffer.from(`${d.user}:${d.password}`).toString('base64')}`,
});
const pkg1 = JSON.stringify({ Alert: [{ AlertType: 'urn:oma:at:dm:2.0:ClientInitiatedMgmt' }] });
const open = (d: (typeof devices)[number]) => fetch(`${gw.url}/dm2`, { method: 'POST', headers: headers(d), body: pkg1 });

describe('DM_MAX_SESSIONS on /dm2', () => {
  it('refuses a session beyond the cap with 503, serves one-package sessions at the cap, and frees the place when a session ends', async () => {
    // Device 0's first session stays open (its DevInfo/DevDetail are asked for).
    const first = await open(devices[0]!);
    expect(first.status).toBe(200);
    const commands = ((await first.json()) as { CMD: string[][] }).CMD;
    expect(commands.at(-1)?.[0]).toBe('CONT');
    // Device 1 would open a second one: refused, nothing changed.
    const refused = await open(devices[1]!);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(10);
    // Device 0 ends its session: the place is free again.
    const statuses = JSON.stringify({ Status: commands.map((c) => (c[0] === 'GET' ? { sc: 200, Data: 'v' } : { sc: 200 })) });
    const end = await fetch(commands.at(-1)![1]!, { method: 'POST', headers: headers(devices[0]!, MEDIA_PACKAGE3), body: statuses });
    expect(await end.json()).toEqual({ CMD: [['END']] });
    const again = await open(devices[1]!);
    expect(again.status).toBe(200);
    // Device 1's session is open now; device 0 checking in (nothing to send, model known) is served at the cap.
    const checkIn = await open(devices[0]!);
    expect([checkIn.status, await checkIn.json()]).toEqual([200, { CMD: [['END']] }]);
  });
});
