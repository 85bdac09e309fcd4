/**
 * Who may call what: WS-Security UsernameToken (PasswordText and
 * PasswordDigest with replay protection), userSession from login, lock-out,
 * and each role's boundary on IDeviceManagerServices.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { call, faultOf, soapClient } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';

let gw: TestGateway;
const pw = 'role-password-1';

beforeAll(async () => {
  gw = await startTestGateway();
  for (const role of ['bulk', 'care', 'readonly'] as const) await gw.auth.createUser(role, pw, role);
  await gw.auth.createUser('victim', pw, 'care');
  const admin = await soapClient(gw.url, 'DeviceManager', { kind: 'text', ...ADMIN });
  await call(admin, 'createDeviceCapability', { userSession: '', capability: CAPABILITY });
});
afterAll(() => gw?.stop());

describe('callers', () => {
  it('refuses a call without credentials with AuthenticationFailed (soap:Client, HTTP 500)', async () => {
    const c = await soapClient(gw.url, 'DeviceManager', { kind: 'none' });
    const f = await faultOf(call(c, 'getDeviceInstances', { userSession: '', offset: 0, limit: 10 }));
    expect(f).toMatchObject({ code: 'AuthenticationFailed', faultcode: 'soap:Client', status: 500 });
  });

  it('refuses a wrong password and an unknown user alike', async () => {
    const wrong = await soapClient(gw.url, 'DeviceManager', { kind: 'text', username: 'admin', password: 'nope-nope' });
    const unknown = await soapClient(gw.url, 'DeviceManager', { kind: 'text', username: 'ghost', password: 'x' });
    for (const c of [wrong, unknown]) {
      expect((await faultOf(call(c, 'getDeviceInstances', { userSession: '', offset: 0, limit: 1 }))).code).toBe(
        'AuthenticationFailed',
      );
    }
  });

  it('accepts a PasswordDigest token and refuses the same token replayed', async () => {
    const c = await soapClient(gw.url, 'DeviceManager', { kind: 'digest', ...ADMIN });
    await call(c, 'getDeviceInstances', { userSession: '', offset: 0, limit: 1 });
    const replay = await fetch(`${gw.url}/dmwsi/DeviceManager`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml; charset=utf-8' },
      body: c.lastRequest,
    });
    const text = await replay.text();
    expect(replay.status).toBe(500);
    expect(text).toContain('<tns:code>AuthenticationFailed</tns:code>');
    expect(text).toContain('replay');
  });

  it('refuses a PasswordDigest with a wrong password', async () => {
    const c = await soapClient(gw.url, 'DeviceManager', { kind: 'digest', username: 'admin', password: 'wrong-one' });
    expect((await faultOf(call(c, 'getDeviceInstances', { userSession: '', offset: 0, limit: 1 }))).code).toBe(
      'AuthenticationFailed',
    );
  });

  it('signs in with login, honours the userSession, and ends it with logout', async () => {
    const anon = await soapClient(gw.url, 'DeviceManager', { kind: 'none' });
    const { userSession } = await call<{ userSession: string }>(anon, 'login', { username: 'readonly', password: pw });
    expect(userSession.length).toBeGreaterThan(30);
    await call(anon, 'getDeviceInstances', { userSession, offset: 0, limit: 1 });
    // The same session works on the other two services.
    const broker = await soapClient(gw.url, 'DeploymentBroker', { kind: 'none' });
    await call(broker, 'logout', { userSession });
    const f = await faultOf(call(anon, 'getDeviceInstances', { userSession, offset: 0, limit: 1 }));
    expect(f.code).toBe('AuthenticationFailed');
  });

  it('refuses login with a wrong password and audits it', async () => {
    const anon = await soapClient(gw.url, 'BulkOperationsManager', { kind: 'none' });
    expect((await faultOf(call(anon, 'login', { username: 'bulk', password: 'bad-password' }))).code).toBe(
      'AuthenticationFailed',
    );
    const rows = await gw.dataSource.query("SELECT outcome FROM audit_log WHERE operation = 'login'");
    expect(rows.map((r: { outcome: string }) => r.outcome)).toContain('AuthenticationFailed');
  });

  it('locks a user out after repeated failures, even for the right password', async () => {
    const anon = await soapClient(gw.url, 'DeviceManager', { kind: 'none' });
    for (let i = 0; i < 5; i++) {
      await faultOf(call(anon, 'login', { username: 'victim', password: `wrong-${i}-xxxx` }));
    }
    const f = await faultOf(call(anon, 'login', { username: 'victim', password: pw }));
    expect(f.code).toBe('AuthenticationFailed');
  });
});

describe('roles on IDeviceManagerServices', () => {
  const writes: [string, (n: number) => Record<string, unknown>][] = [
    ['createDeviceInstance', (n) => ({ device: { deviceId: imeiN(n), phoneNumber: phoneN(n), capabilityOid: CAPABILITY.oid } })],
    ['updateDeviceInstance', (n) => ({ device: { deviceId: imeiN(n), phoneNumber: phoneN(n), capabilityOid: CAPABILITY.oid } })],
    ['deleteDeviceInstance', (n) => ({ deviceId: imeiN(n) })],
    ['importDeviceInstances', (n) => ({ csv: `deviceId,phoneNumber,capabilityOid\n${imeiN(n)},${phoneN(n)},${CAPABILITY.oid}` })],
    ['createDeviceCapability', (n) => ({ capability: { ...CAPABILITY, oid: `cap-${n}`, model: `M${n}` } })],
    ['updateDeviceCapability', () => ({ capability: CAPABILITY })],
  ];
  const reads: [string, Record<string, unknown>][] = [
    ['getDeviceInstances', { offset: 0, limit: 5 }],
    ['getDeviceCapabilities', { offset: 0, limit: 5 }],
    ['getDeviceCapabilityByOid', { oid: CAPABILITY.oid }],
  ];

  it.each(['care', 'readonly'])('lets %s read but refuses every registry write with NotAuthorized', async (role) => {
    const c = await soapClient(gw.url, 'DeviceManager', { kind: 'text', username: role, password: pw });
    for (const [op, args] of reads) await call(c, op, { userSession: '', ...args });
    for (const [op, args] of writes) {
      const f = await faultOf(call(c, op, { userSession: '', ...args(700) }));
      expect([op, f.code]).toEqual([op, 'NotAuthorized']);
    }
    const n = await gw.dataSource.query('SELECT count(*) AS n FROM device_instance');
    expect(Number(n[0].n)).toBe(0);
  });

  it('lets bulk write the registry', async () => {
    const c = await soapClient(gw.url, 'DeviceManager', { kind: 'text', username: 'bulk', password: pw });
    for (const [op, args] of writes) await call(c, op, { userSession: '', ...args(800) });
  });
});
