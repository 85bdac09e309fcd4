/**
 * IDeviceManagerServices through a real SOAP client built from the served
 * WSDL, against a real gateway (SQLite file, Redis).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { call, faultOf, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';

let gw: TestGateway;
let dm: SoapClient;

beforeAll(async () => {
  gw = await startTestGateway();
  dm = await soapClient(gw.url, 'DeviceManager', { kind: 'text', ...ADMIN });
});
afterAll(() => gw?.stop());

const device = (n: number, extra: Record<string, unknown> = {}) => ({
  deviceId: imeiN(n),
  phoneNumber: phoneN(n),
  capabilityOid: CAPABILITY.oid,
  ...extra,
});

describe('device capabilities', () => {
  it('creates a capability and reads it back by oid', async () => {
    const r = await call(dm, 'createDeviceCapability', { userSession: '', capability: CAPABILITY });
    expect(r.oid).toBe(CAPABILITY.oid);
    const got = await call<{ deviceCapability: Record<string, unknown> }>(dm, 'getDeviceCapabilityByOid', {
      userSession: '',
      oid: CAPABILITY.oid,
    });
    expect(got.deviceCapability).toMatchObject({
      oid: CAPABILITY.oid,
      make: 'Acme',
      model: 'X1',
      firmwareVersion: '1.0',
      dmVersion: '1.2',
      sseRoot: './SSE',
    });
    expect(Number(got.deviceCapability.maxMsgSize)).toBe(16384);
  });

  it('generates an oid when none is given', async () => {
    const r = await call<{ oid: string }>(dm, 'createDeviceCapability', {
      userSession: '',
      capability: { make: 'Acme', model: 'X2', firmwareVersion: '2.0', dmVersion: '2.0' },
    });
    expect(r.oid).toMatch(/^cap-/);
  });

  it('answers AlreadyExists for a duplicate oid and for a duplicate make/model/firmware', async () => {
    expect((await faultOf(call(dm, 'createDeviceCapability', { userSession: '', capability: CAPABILITY }))).code).toBe(
      'AlreadyExists',
    );
    const sameLine = { ...CAPABILITY, oid: 'other-oid' };
    expect((await faultOf(call(dm, 'createDeviceCapability', { userSession: '', capability: sameLine }))).code).toBe(
      'AlreadyExists',
    );
  });

  it('updates a capability and answers NotFound for an unknown oid', async () => {
    await call(dm, 'updateDeviceCapability', { userSession: '', capability: { ...CAPABILITY, sseRoot: './Sched' } });
    const got = await call<{ deviceCapability: { sseRoot: string } }>(dm, 'getDeviceCapabilityByOid', {
      userSession: '',
      oid: CAPABILITY.oid,
    });
    expect(got.deviceCapability.sseRoot).toBe('./Sched');
    await call(dm, 'updateDeviceCapability', { userSession: '', capability: CAPABILITY });
    const f = await faultOf(call(dm, 'updateDeviceCapability', { userSession: '', capability: { ...CAPABILITY, oid: 'nope' } }));
    expect(f.code).toBe('NotFound');
    expect((await faultOf(call(dm, 'getDeviceCapabilityByOid', { userSession: '', oid: 'nope' }))).code).toBe('NotFound');
  });

  it('rejects a bad dmVersion and a bad sseRoot with InvalidArgument', async () => {
    const bad1 = { ...CAPABILITY, oid: 'b1', model: 'B1', dmVersion: '3.0' };
    expect((await faultOf(call(dm, 'createDeviceCapability', { userSession: '', capability: bad1 }))).code).toBe(
      'InvalidArgument',
    );
    const bad2 = { ...CAPABILITY, oid: 'b2', model: 'B2', sseRoot: 'SSE/' };
    expect((await faultOf(call(dm, 'createDeviceCapability', { userSession: '', capability: bad2 }))).code).toBe(
      'InvalidArgument',
    );
  });

  it('keeps a capability’s FUMO and SCOMO roots, and refuses one that is not a device URI', async () => {
    const withRoots = { ...CAPABILITY, oid: 'roots', model: 'R1', fumoRoot: './FUMO', scomoRoot: './SCOMO' };
    await call(dm, 'createDeviceCapability', { userSession: '', capability: withRoots });
    const got = await call<{ deviceCapability: Record<string, unknown> }>(dm, 'getDeviceCapabilityByOid', { userSession: '', oid: 'roots' });
    expect(got.deviceCapability).toMatchObject({ fumoRoot: './FUMO', scomoRoot: './SCOMO' });
    const bad = { ...CAPABILITY, oid: 'b3', model: 'B3', fumoRoot: 'FUMO x' };
    const f = await faultOf(call(dm, 'createDeviceCapability', { userSession: '', capability: bad }));
    expect(f.code).toBe('InvalidArgument');
  });

  it('pages through capabilities ordered by oid', async () => {
    const all = await call<{ deviceCapability: { oid: string }[] }>(dm, 'getDeviceCapabilities', {
      userSession: '',
      offset: 0,
      limit: 10,
    });
    const oids = all.deviceCapability.map((c) => c.oid);
    expect(oids).toEqual([...oids].sort());
    const second = await call<{ deviceCapability: { oid: string } | { oid: string }[] }>(dm, 'getDeviceCapabilities', {
      userSession: '',
      offset: 1,
      limit: 1,
    });
    const list = Array.isArray(second.deviceCapability) ? second.deviceCapability : [second.deviceCapability];
    expect(list.map((c) => c.oid)).toEqual([oids[1]]);
  });
});

describe('device instances', () => {
  it('creates a device, reads it by id and by phone number, and never returns secrets', async () => {
    const r = await call(dm, 'createDeviceInstance', {
      userSession: '',
      device: device(1, {
        notificationUrl: 'http://127.0.0.1:9/notify/1',
        clientPassword: 'client-secret-1',
        serverPassword: 'server-secret-1',
        attribute: [{ name: 'region', value: 'north' }],
      }),
    });
    expect(r.deviceId).toBe(imeiN(1));
    const byId = await call<{ deviceInstance: Record<string, unknown> }>(dm, 'getDeviceInstanceByDeviceID', {
      userSession: '',
      deviceId: imeiN(1),
    });
    expect(byId.deviceInstance).toMatchObject({
      deviceId: imeiN(1),
      phoneNumber: phoneN(1),
      capabilityOid: CAPABILITY.oid,
      notificationUrl: 'http://127.0.0.1:9/notify/1',
      authType: 'md5',
      state: 'REGISTERED',
      clientUsername: imeiN(1),
    });
    expect(byId.deviceInstance.clientPassword).toBeUndefined();
    expect(byId.deviceInstance.serverPassword).toBeUndefined();
    const byPhone = await call<{ deviceInstance: { deviceId: string } }>(dm, 'getDeviceInstanceByPhoneNumber', {
      userSession: '',
      phoneNumber: phoneN(1),
    });
    expect(byPhone.deviceInstance.deviceId).toBe(imeiN(1));
    // The secrets given are the ones stored (sealed), for the DM engine to use.
    const stored = await gw.dataSource.query('SELECT secrets FROM device_instance WHERE device_id = ?', [imeiN(1)]);
    expect(stored[0].secrets).not.toContain('client-secret-1');
  });

  it('generates DM credentials and nonces when none are given', async () => {
    await call(dm, 'createDeviceInstance', { userSession: '', device: device(2) });
    const rows = await gw.dataSource.query(
      'SELECT client_username, client_nonce, server_nonce FROM device_instance WHERE device_id = ?',
      [imeiN(2)],
    );
    expect(rows[0].client_username).toBe(imeiN(2));
    expect(Buffer.from(rows[0].client_nonce, 'base64')).toHaveLength(16);
    expect(rows[0].server_nonce).not.toBe(rows[0].client_nonce);
  });

  it('answers AlreadyExists for a duplicate device id and for a phone number in use', async () => {
    expect((await faultOf(call(dm, 'createDeviceInstance', { userSession: '', device: device(1) }))).code).toBe(
      'AlreadyExists',
    );
    const samePhone = { ...device(3), phoneNumber: phoneN(1) };
    expect((await faultOf(call(dm, 'createDeviceInstance', { userSession: '', device: samePhone }))).code).toBe(
      'AlreadyExists',
    );
  });

  it('answers NotFound for an unknown capability, device id and phone number', async () => {
    const unknownCap = { ...device(4), capabilityOid: 'no-such-cap' };
    expect((await faultOf(call(dm, 'createDeviceInstance', { userSession: '', device: unknownCap }))).code).toBe(
      'NotFound',
    );
    expect((await faultOf(call(dm, 'getDeviceInstanceByDeviceID', { userSession: '', deviceId: imeiN(999) }))).code).toBe(
      'NotFound',
    );
    const f = await faultOf(call(dm, 'getDeviceInstanceByPhoneNumber', { userSession: '', phoneNumber: '+19999999999' }));
    expect(f.code).toBe('NotFound');
  });

  it.each([
    ['a wrong IMEI check digit', { deviceId: 'IMEI:490154203237519' }],
    ['a short IMEI', { deviceId: 'IMEI:4901542' }],
    ['a phone number without +', { phoneNumber: '15551234567' }],
    ['a notification URL that is not http', { notificationUrl: 'ftp://x/y' }],
    ['an unknown authType', { authType: 'kerberos' }],
    ['a short client password', { clientPassword: 'short' }],
  ])('rejects %s with InvalidArgument and stores nothing', async (_what, patch) => {
    const f = await faultOf(call(dm, 'createDeviceInstance', { userSession: '', device: { ...device(5), ...patch } }));
    expect(f.code).toBe('InvalidArgument');
    expect(f.faultcode).toBe('soap:Client');
    const rows = await gw.dataSource.query('SELECT count(*) AS n FROM device_instance WHERE phone_number = ?', [
      phoneN(5),
    ]);
    expect(Number(rows[0].n)).toBe(0);
  });

  it('accepts MEID and other URN device id forms', async () => {
    await call(dm, 'createDeviceInstance', {
      userSession: '',
      device: { deviceId: 'MEID:A0000000002329', phoneNumber: phoneN(6), capabilityOid: CAPABILITY.oid },
    });
    await call(dm, 'createDeviceInstance', {
      userSession: '',
      device: { deviceId: 'MAC:00-11-22-33-44-55', phoneNumber: phoneN(7), capabilityOid: CAPABILITY.oid },
    });
    const r = await call<{ deviceInstance: { deviceId: string } }>(dm, 'getDeviceInstanceByDeviceID', {
      userSession: '',
      deviceId: 'meid:a0000000002329',
    });
    expect(r.deviceInstance.deviceId).toBe('MEID:A0000000002329');
  });

  it('updates given fields, keeps omitted ones and the secrets, and answers NotFound for an unknown device', async () => {
    const before = await gw.dataSource.query('SELECT secrets FROM device_instance WHERE device_id = ?', [imeiN(1)]);
    await call(dm, 'updateDeviceInstance', {
      userSession: '',
      device: { deviceId: imeiN(1), phoneNumber: phoneN(101), capabilityOid: CAPABILITY.oid, smsAddress: '+15550000001' },
    });
    const got = await call<{ deviceInstance: Record<string, unknown> }>(dm, 'getDeviceInstanceByDeviceID', {
      userSession: '',
      deviceId: imeiN(1),
    });
    expect(got.deviceInstance).toMatchObject({
      phoneNumber: phoneN(101),
      smsAddress: '+15550000001',
      notificationUrl: 'http://127.0.0.1:9/notify/1',
    });
    const after = await gw.dataSource.query('SELECT secrets FROM device_instance WHERE device_id = ?', [imeiN(1)]);
    const sealer = (s: string) => s.length;
    expect(sealer(after[0].secrets)).toBe(sealer(before[0].secrets));
    const f = await faultOf(call(dm, 'updateDeviceInstance', { userSession: '', device: device(998) }));
    expect(f.code).toBe('NotFound');
  });

  it('pages through devices ordered by id', async () => {
    const r = await call<{ deviceInstance: { deviceId: string }[] }>(dm, 'getDeviceInstances', {
      userSession: '',
      offset: 0,
      limit: 100,
    });
    const ids = r.deviceInstance.map((d) => d.deviceId);
    expect(ids.length).toBeGreaterThanOrEqual(4);
    expect(ids).toEqual([...ids].sort());
    const f = await faultOf(call(dm, 'getDeviceInstances', { userSession: '', offset: 0, limit: 100000 }));
    expect(f.code).toBe('InvalidArgument');
  });

  it('deletes a device, then answers NotFound for it', async () => {
    await call(dm, 'deleteDeviceInstance', { userSession: '', deviceId: imeiN(2) });
    expect((await faultOf(call(dm, 'getDeviceInstanceByDeviceID', { userSession: '', deviceId: imeiN(2) }))).code).toBe(
      'NotFound',
    );
    expect((await faultOf(call(dm, 'deleteDeviceInstance', { userSession: '', deviceId: imeiN(2) }))).code).toBe(
      'NotFound',
    );
  });

  it('refuses to delete a device with an open task (InvalidState)', async () => {
    const now = Date.now();
    await gw.dataSource.query(
      `INSERT INTO task (task_id, device_id, operation_name, operation, status, created_by, created_at, updated_at)
       VALUES ('t-open', ?, 'QUERY', '{}', 'QUEUED', 'admin', ?, ?)`,
      [imeiN(1), now, now],
    );
    expect((await faultOf(call(dm, 'deleteDeviceInstance', { userSession: '', deviceId: imeiN(1) }))).code).toBe(
      'InvalidState',
    );
  });

  it('writes an audit row for each change and for each refused change', async () => {
    const rows: { operation: string; outcome: string; target: string | null; caller: string }[] =
      await gw.dataSource.query('SELECT caller, operation, target, outcome FROM audit_log ORDER BY id');
    expect(rows).toContainEqual({ caller: 'admin', operation: 'createDeviceInstance', target: imeiN(1), outcome: 'ok' });
    expect(rows).toContainEqual({ caller: 'admin', operation: 'deleteDeviceInstance', target: imeiN(2), outcome: 'ok' });
    expect(rows.some((r) => r.operation === 'createDeviceInstance' && r.outcome === 'AlreadyExists')).toBe(true);
    expect(rows.some((r) => r.operation.startsWith('get'))).toBe(false);
  });
});

describe('import', () => {
  it('imports records and CSV, keeps valid rows, reports each rejected row, and is idempotent by deviceId', async () => {
    const csv = [
      'deviceId,phoneNumber,capabilityOid,notificationUrl,clientUsername,clientPassword,serverPassword',
      `${imeiN(200)},${phoneN(200)},${CAPABILITY.oid},http://127.0.0.1:9/n/200,,,`,
      `${imeiN(201)},${phoneN(201)},${CAPABILITY.oid},,user201,pass-201-x,srv-201-x`,
      `IMEI:123,${phoneN(202)},${CAPABILITY.oid},,,,`,
      `${imeiN(203)},${phoneN(203)},unknown-cap,,,,`,
      `${imeiN(200)},${phoneN(204)},${CAPABILITY.oid},,,,`,
      `${imeiN(205)},${phoneN(205)}`,
    ].join('\n');
    const records = [device(210), { ...device(211), phoneNumber: 'bad' }];
    const r = await call<{ importResult: { imported: number; rejected: { row: number; reason: string }[] } }>(
      dm,
      'importDeviceInstances',
      { userSession: '', devices: records, csv },
    );
    expect(Number(r.importResult.imported)).toBe(3);
    const rejected = r.importResult.rejected.map((x) => [Number(x.row), x.reason]);
    expect(rejected).toEqual([
      [2, expect.stringMatching(/^record 2: phoneNumber/)],
      [4, expect.stringMatching(/^csv line 4: deviceId IMEI must be 15 digits/)],
      [5, expect.stringMatching(/^csv line 5: capabilityOid "unknown-cap" does not exist/)],
      [6, expect.stringMatching(/^csv line 6: deviceId repeats csv line 2/)],
      [7, expect.stringMatching(/^csv line 7: has 2 fields/)],
    ]);
    const again = await call<{ importResult: { imported: number } }>(dm, 'importDeviceInstances', {
      userSession: '',
      csv,
    });
    expect(Number(again.importResult.imported)).toBe(2);
    const n = await gw.dataSource.query(
      'SELECT count(*) AS n FROM device_instance WHERE device_id IN (?, ?, ?)',
      [imeiN(200), imeiN(201), imeiN(210)],
    );
    expect(Number(n[0].n)).toBe(3);
  });

  it('rejects a CSV with an unknown header column before writing anything', async () => {
    const csv = `deviceId,phoneNumber,capabilityOid,colour\n${imeiN(300)},${phoneN(300)},${CAPABILITY.oid},red`;
    const f = await faultOf(call(dm, 'importDeviceInstances', { userSession: '', devices: [device(301)], csv }));
    expect(f.code).toBe('InvalidArgument');
    const n = await gw.dataSource.query('SELECT count(*) AS n FROM device_instance WHERE device_id = ?', [imeiN(301)]);
    expect(Number(n[0].n)).toBe(0);
  });

  it('reports a phone number owned by another device instead of moving it', async () => {
    const csv = `deviceId,phoneNumber,capabilityOid\n${imeiN(400)},${phoneN(200)},${CAPABILITY.oid}`;
    const r = await call<{ importResult: { imported: number; rejected: { reason: string }[] } }>(
      dm,
      'importDeviceInstances',
      { userSession: '', csv },
    );
    expect(Number(r.importResult.imported)).toBe(0);
    expect(r.importResult.rejected.map((x) => x.reason)).toEqual([expect.stringMatching(/belongs to device/)]);
  });
});
