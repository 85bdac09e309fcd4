/**
 * Malformed and hostile requests to the SOAP endpoints: each gets a typed
 * SOAP 1.1 Fault (HTTP 500, namespaced DmwsiFault detail, no stack trace),
 * nothing is written, and the gateway keeps serving.
 */
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPABILITY, imeiN, phoneN } from '../support/fixtures.js';
import { envelope, passwordTextHeader } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const LIMIT = 256 * 1024;
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ overrides: { soapMaxBodyBytes: LIMIT } });
});
afterAll(() => gw?.stop());

const auth = passwordTextHeader(ADMIN.username, ADMIN.password);

async function post(body: string | Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}/dmwsi/DeviceManager`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8', ...headers },
    body,
  });
  return { status: res.status, text: await res.text() };
}

function expectFault(r: { status: number; text: string }, code: string) {
  expect(r.status).toBe(500);
  expect(r.text).toContain('<soap:Fault>');
  expect(r.text).toContain(`<tns:code>${code}</tns:code>`);
  expect(r.text).toContain('xmlns:tns="urn:dmwsi-gateway:1.0"');
  expect(r.text).not.toMatch(/\bat [\w.<>]+ \(|node_modules|\.js:\d+/);
}

const createDevice = (fields: string) =>
  envelope(`<t:createDeviceInstance><t:userSession/><t:device>${fields}</t:device></t:createDeviceInstance>`, auth);

describe('hostile SOAP input', () => {
  it('rejects a DOCTYPE with an internal entity (billion laughs) with a Client fault', async () => {
    const laughs =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>' +
      envelope('<t:getDeviceInstances><t:userSession/><t:offset>0</t:offset><t:limit>1</t:limit></t:getDeviceInstances>', auth).replace(
        /^<\?xml[^>]*\?>/,
        '',
      );
    const r = await post(laughs);
    expectFault(r, 'InvalidArgument');
    expect(r.text).toContain('soap:Client');
    expect(r.text).toContain('DOCTYPE');
  });

  it('rejects an external entity (XXE) attempt', async () => {
    const xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>';
    expectFault(await post(xxe), 'InvalidArgument');
  });

  it('rejects a body over the limit', async () => {
    const big = createDevice(`<t:deviceId>${'A'.repeat(LIMIT)}</t:deviceId>`);
    const r = await post(big);
    expectFault(r, 'InvalidArgument');
    expect(r.text).toContain('exceeds');
  });

  it('stops a gzip bomb at the limit, without inflating the rest, and stays up', async () => {
    // 64 MiB of spaces whose gzip trailer (CRC-32 and length) is wrong: only a gateway that
    // inflated past the limit would reach it and answer "could not be read"; one that stops at
    // the limit answers that the body exceeds it.
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    bomb.writeUInt32LE((bomb.readUInt32LE(bomb.length - 8) ^ 0xffffffff) >>> 0, bomb.length - 8);
    expect(bomb.length).toBeLessThan(LIMIT);
    expect(() => zlib.gunzipSync(bomb)).toThrow(/check/);
    const r = await post(bomb, { 'content-encoding': 'gzip' });
    expectFault(r, 'InvalidArgument');
    expect(r.text).toContain(`exceeds ${LIMIT} bytes (after decompression)`);
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });

  it('accepts a gzip-compressed request within the limit', async () => {
    const body = envelope('<t:getDeviceInstances><t:userSession/><t:offset>0</t:offset><t:limit>1</t:limit></t:getDeviceInstances>', auth);
    const r = await post(zlib.gzipSync(body), { 'content-encoding': 'gzip' });
    expect(r.status).toBe(200);
  });

  it.each([
    ['an empty body', ''],
    ['text that is not XML', 'hello'],
    ['truncated XML', envelope('<t:getDeviceInstances><t:userSession/>', auth).slice(0, 200)],
    ['an envelope without a body', '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"/>'],
  ])('answers %s with InvalidArgument', async (_what, body) => {
    expectFault(await post(body), 'InvalidArgument');
  });

  it('answers an unknown operation with InvalidArgument', async () => {
    expectFault(await post(envelope('<t:formatAllDevices><t:userSession/></t:formatAllDevices>', auth)), 'InvalidArgument');
  });

  it.each([
    ['a non-numeric int', `<t:deviceId>${imeiN(1)}</t:deviceId><t:phoneNumber>${phoneN(1)}</t:phoneNumber><t:capabilityOid>c</t:capabilityOid><t:lastContact>yesterday</t:lastContact>`],
    ['an unknown element', `<t:deviceId>${imeiN(1)}</t:deviceId><t:phoneNumber>${phoneN(1)}</t:phoneNumber><t:capabilityOid>c</t:capabilityOid><t:colour>red</t:colour>`],
    ['a missing required element', `<t:deviceId>${imeiN(1)}</t:deviceId><t:capabilityOid>c</t:capabilityOid>`],
    ['a repeated single element', `<t:deviceId>${imeiN(1)}</t:deviceId><t:deviceId>${imeiN(2)}</t:deviceId><t:phoneNumber>${phoneN(1)}</t:phoneNumber><t:capabilityOid>c</t:capabilityOid>`],
    ['an overlong string', `<t:deviceId>IMEI:${'1'.repeat(200)}</t:deviceId><t:phoneNumber>${phoneN(1)}</t:phoneNumber><t:capabilityOid>c</t:capabilityOid>`],
  ])('answers %s with InvalidArgument and writes nothing', async (_what, fields) => {
    expectFault(await post(createDevice(fields)), 'InvalidArgument');
    const n = await gw.dataSource.query('SELECT count(*) AS n FROM device_instance');
    expect(Number(n[0].n)).toBe(0);
  });

  it('answers "yes" for a boolean and "abc" for an int with InvalidArgument', async () => {
    const cap = (patch: string) =>
      envelope(
        `<t:createDeviceCapability><t:userSession/><t:capability><t:oid>x</t:oid><t:make>M</t:make><t:model>X</t:model><t:firmwareVersion>1</t:firmwareVersion><t:dmVersion>1.2</t:dmVersion>${patch}</t:capability></t:createDeviceCapability>`,
        auth,
      );
    expectFault(await post(cap('<t:maxMsgSize>abc</t:maxMsgSize>')), 'InvalidArgument');
    expectFault(await post(cap('<t:wbxml>yes</t:wbxml>')), 'InvalidArgument');
    expectFault(await post(cap('<t:maxMsgSize>99999999999</t:maxMsgSize>')), 'InvalidArgument');
  });

  it('answers a malformed WS-Security header with AuthenticationFailed', async () => {
    const header = '<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken/></wsse:Security>';
    const r = await post(envelope('<t:getDeviceInstances><t:userSession/><t:offset>0</t:offset><t:limit>1</t:limit></t:getDeviceInstances>', header));
    expectFault(r, 'AuthenticationFailed');
  });

  it('serves a WSDL naming the address it was fetched from, and 404 without ?wsdl', async () => {
    const wsdl = await (await fetch(`${gw.url}/dmwsi/DeviceManager?wsdl`)).text();
    expect(wsdl).toContain(`<soap:address location="${gw.url}/dmwsi/DeviceManager"/>`);
    expect((await fetch(`${gw.url}/dmwsi/DeviceManager`)).status).toBe(404);
  });

  it('still serves good requests after all of the above', async () => {
    const ok = await post(
      envelope(
        `<t:createDeviceCapability><t:userSession/><t:capability><t:oid>${CAPABILITY.oid}</t:oid><t:make>Acme</t:make><t:model>X1</t:model><t:firmwareVersion>1.0</t:firmwareVersion><t:dmVersion>1.2</t:dmVersion></t:capability></t:createDeviceCapability>`,
        auth,
      ),
    );
    expect(ok.status).toBe(200);
    expect(ok.text).toContain(`<oid>${CAPABILITY.oid}</oid>`);
  });
});

describe('findings of the property-based suite, fixed', () => {
  it('reads id/href attributes as inert attributes: id="__proto__" pollutes nothing and the call is answered (it once crashed the process)', async () => {
    const evil = envelope('<t:getDeviceInstances id="__proto__" href="#constructor"><t:userSession/><t:offset>0</t:offset><t:limit>1</t:limit></t:getDeviceInstances>', auth);
    const r = await post(evil);
    expect(r.status).toBe(200);
    expect(r.text).toContain('<getDeviceInstancesResponse');
    expect(({} as Record<string, unknown>).obj).toBeUndefined();
    expect(Object.hasOwn(Object.prototype, 'obj') || Object.hasOwn(Object, 'obj')).toBe(false);
  });

  it('still accepts wsu:Id attributes on WS-Security elements', async () => {
    const header = passwordTextHeader(ADMIN.username, ADMIN.password).replace(
      '<wsse:UsernameToken>',
      '<wsse:UsernameToken xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" wsu:Id="UsernameToken-1">',
    );
    const r = await post(envelope('<t:getDeviceInstances><t:userSession/><t:offset>0</t:offset><t:limit>1</t:limit></t:getDeviceInstances>', header));
    expect(r.status).toBe(200);
  });

  it('answers an empty Security header with AuthenticationFailed, not Internal', async () => {
    const header = '<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"/>';
    expectFault(await post(envelope('<t:getDeviceInstances><t:userSession/><t:offset>0</t:offset><t:limit>1</t:limit></t:getDeviceInstances>', header)), 'AuthenticationFailed');
  });

  it('refuses a leap second and a day the month does not have', async () => {
    const byDate = (from: string) =>
      `<t:getJobsByDate><t:userSession/><t:from>${from}</t:from><t:to>2099-01-01T00:00:00Z</t:to><t:offset>0</t:offset><t:limit>1</t:limit></t:getJobsByDate>`;
    const bulkPost = (b: string) =>
      fetch(`${gw.url}/dmwsi/BulkOperationsManager`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: envelope(b, auth) }).then(
        async (r) => ({ status: r.status, text: await r.text() }),
      );
    expectFault(await bulkPost(byDate('2016-12-31T23:59:60Z')), 'InvalidArgument');
    expectFault(await bulkPost(byDate('2024-02-30T00:00:00Z')), 'InvalidArgument');
  });

  it('refuses characters XML 1.0 forbids, so no answer echoes or stores them', async () => {
    const r = await post(
      createDevice(`<t:deviceId>IMEI:490154203237518</t:deviceId><t:phoneNumber>+15550001</t:phoneNumber><t:capabilityOid>c\uFFFF</t:capabilityOid>`),
    );
    expectFault(r, 'InvalidArgument');
    expect(r.text).not.toMatch(/[\uFFFE\uFFFF]/);
  });
});
