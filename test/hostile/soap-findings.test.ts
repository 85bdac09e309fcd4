/**
 * Regressions for what the SOAP hostile-input suite (soap-fuzz.test.ts)
 * found: each test is a property the gateway once broke, kept so it never
 * breaks again. The comments say what went wrong.
 *
 * The prototype-pollution test runs last: were it to fail, it would leave
 * the SOAP service of this worker unable to answer (it cleans
 * Object.prototype up afterwards).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelope, passwordTextHeader, WSSE_NS } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';
import { firstNonXmlChar, NoAnswer, rawClient } from './hostile-kit.js';

let gw: TestGateway;
let client: ReturnType<typeof rawClient>;
const auth = passwordTextHeader(ADMIN.username, ADMIN.password);

beforeAll(async () => {
  gw = await startTestGateway();
  client = rawClient(gw.url, { timeoutMs: 5_000 });
});
afterAll(async () => {
  client?.close();
  await gw?.stop();
});

async function post(service: string, body: string | Buffer) {
  const a = await client.send({ path: `/dmwsi/${service}`, headers: { 'content-type': 'text/xml; charset=utf-8' }, body: Buffer.from(body) });
  const text = a.body.toString('utf8');
  return { status: a.status, text, code: /<tns:code>(\w+)<\/tns:code>/.exec(text)?.[1] };
}

describe('regression: an empty WS-Security header was answered Internal (src/wsi/ws-security.ts)', () => {
  // usernameToken() guards `security === undefined`, but the soap parser gives an empty element as
  // null: `(null).UsernameToken` throws a TypeError, logged as "SOAP call failed" and answered Internal.
  it('answers <wsse:Security/> with AuthenticationFailed', async () => {
    const r = await post(
      'DeviceManager',
      envelope('<t:getDeviceInstances><t:userSession/><t:offset>0</t:offset><t:limit>1</t:limit></t:getDeviceInstances>', `<wsse:Security xmlns:wsse="${WSSE_NS}"/>`),
    );
    expect(r.code).toBe('AuthenticationFailed');
  });
});

describe('regression: an xsd:dateTime with second 60 passed validation as an Invalid Date (src/wsi/message-codec.ts)', () => {
  // validParts() accepts s <= 60; new Date('…T23:59:60Z') is Invalid Date (NaN). getJobsByDate
  // then hands NaN to the query: "SqliteError: no such column: NaN", answered Internal.
  it('answers a leap-second dateTime with InvalidArgument, never Internal', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('from', 'to'), fc.constantFrom('2016-12-31T23:59:60Z', '2030-06-30T23:59:60', '2030-01-01T00:00:60+01:00'), async (which, leap) => {
        const from = which === 'from' ? leap : '2000-01-01T00:00:00Z';
        const to = which === 'to' ? leap : '2099-01-01T00:00:00Z';
        const r = await post(
          'BulkOperationsManager',
          envelope(`<t:getJobsByDate><t:userSession/><t:from>${from}</t:from><t:to>${to}</t:to><t:offset>0</t:offset><t:limit>10</t:limit></t:getJobsByDate>`, auth),
        );
        expect({ which, leap, code: r.code }).toEqual({ which, leap, code: 'InvalidArgument' });
      }),
      { seed: 60, numRuns: 6, endOnFailure: true },
    );
  });

  it('refuses a leap-second startAt/deadline in createDeployments and writes nothing', async () => {
    // Today: Internal, yet the job row (options {"startAt":null} / {"deadline":null}, status CREATED)
    // and an 'ok' audit row are already committed; with deadline the job says total 1 but has no
    // task at all. The caller sees a failure and retries; the orphan job stays.
    const ctx = { caller: 'seed', operation: 'seed' };
    await gw.deviceManager.createDeviceCapability(ctx, { oid: 'leap-cap', make: 'A', model: 'B', firmwareVersion: '1', dmVersion: '1.2' });
    await gw.deviceManager.createDeviceInstance(ctx, { deviceId: 'IMEI:490154203237518', phoneNumber: '+15559990001', capabilityOid: 'leap-cap' });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('startAt', 'deadline'), async (field) => {
        const jobsBefore = Number((await gw.dataSource.query('SELECT count(*) AS n FROM job'))[0].n);
        const r = await post(
          'BulkOperationsManager',
          envelope(
            `<t:createDeployments><t:userSession/><t:operation><t:name>QUERY</t:name><t:commands><t:command><t:verb>Get</t:verb><t:uri>./DevInfo/Man</t:uri></t:command></t:commands></t:operation>` +
              `<t:targets>IMEI:490154203237518</t:targets><t:options><t:${field}>2099-12-31T23:59:60Z</t:${field}></t:options></t:createDeployments>`,
            auth,
          ),
        );
        const jobsAfter = Number((await gw.dataSource.query('SELECT count(*) AS n FROM job'))[0].n);
        expect({ field, code: r.code, newJobs: jobsAfter - jobsBefore }).toEqual({ field, code: 'InvalidArgument', newJobs: 0 });
      }),
      { seed: 61, numRuns: 2, endOnFailure: true },
    );
  });
});

describe('regression: answers carried characters XML 1.0 forbids (src/wsi/faults.ts, src/wsi/xml-escape.ts, src/domain/registry-validation.ts)', () => {
  // The soap parser (sax) does not reject raw C0 controls or U+FFFE/U+FFFF in a request; the
  // gateway echoes them into fault messages (e.g. NotFound 'task "x\u0001y"') and stores them
  // (PRINTABLE only refuses \p{Cc}, and U+FFFF is Cn), so later answers are not well-formed XML:
  // a conforming client (JAX-WS, .NET, libxml2) cannot read the fault, or the stored record.
  const forbidden = fc.constantFrom(...[...Array(32).keys()].filter((c) => c !== 9 && c !== 10 && c !== 13), 0xfffe, 0xffff).map((c) => String.fromCharCode(c));

  it('keeps every fault well-formed whatever the request echoes', async () => {
    await fc.assert(
      fc.asyncProperty(forbidden, async (ch) => {
        const r = await post('DeploymentBroker', envelope(`<t:getTaskById><t:userSession/><t:taskId>x${ch}y</t:taskId></t:getTaskById>`, auth));
        expect(r.status).toBe(500);
        const bad = firstNonXmlChar(r.text);
        expect({ char: ch.charCodeAt(0), bad }).toEqual({ char: ch.charCodeAt(0), bad: undefined });
      }),
      { seed: 1, numRuns: 40, endOnFailure: true },
    );
  });

  it('refuses, or answers well-formed, a capability whose make is U+FFFF', async () => {
    const create = await post(
      'DeviceManager',
      envelope('<t:createDeviceCapability><t:userSession/><t:capability><t:oid>nonchar</t:oid><t:make>\uFFFF</t:make><t:model>X</t:model><t:firmwareVersion>1</t:firmwareVersion><t:dmVersion>1.2</t:dmVersion></t:capability></t:createDeviceCapability>', auth),
    );
    if (create.status !== 200) return; // refused: fine
    const get = await post('DeviceManager', envelope('<t:getDeviceCapabilities><t:userSession/><t:offset>0</t:offset><t:limit>100</t:limit></t:getDeviceCapabilities>', auth));
    // Stored: every page holding it is now ill-formed for every caller.
    expect(firstNonXmlChar(get.text)).toBeUndefined();
  });
});

describe('regression: a multiRef id naming an Object.prototype member mutated JavaScript builtins (soap package xmlToObject, reached from src/wsi/soap-endpoint.ts parseEnvelope)', () => {
  // xmlToObject keeps multiRef targets in a plain object, `refs`, and on the closing tag of an
  // element with an id does `refs[id].obj = obj`. With id="constructor" that writes Object.obj,
  // with id="toString" Object.prototype.toString.obj, ... and with id="__proto__" it writes
  // Object.prototype.obj: every object in the process inherits `obj`. It happens while parsing,
  // before any authentication.
  const builtins = () => [Object, Object.prototype.toString, Object.prototype.hasOwnProperty, Object.prototype.valueOf, Object.prototype.isPrototypeOf];

  it('leaves builtins alone whatever id an element carries', async () => {
    try {
      await fc.assert(
      fc.asyncProperty(fc.constantFrom('constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'), async (id) => {
        const r = await post('DeviceManager', `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><getDeviceInstances xmlns="urn:dmwsi-gateway:1.0" id="${id}"/></soapenv:Body></soapenv:Envelope>`);
        expect(r.status).toBe(500);
        expect({ id, mutated: builtins().filter((b) => Object.hasOwn(b, 'obj')).map((b) => b.name) }).toEqual({ id, mutated: [] });
      }),
        { seed: 2, numRuns: 5, endOnFailure: true },
      );
    } finally {
      for (const b of builtins()) delete (b as unknown as Record<string, unknown>).obj;
    }
  });

  it('answers id="__proto__" with a typed fault, keeps Object.prototype clean, and keeps serving', async () => {
    // Today, in this order: Object.prototype.obj is set; the fault path calls prom-client, whose
    // label loop (for..in) now sees `obj` and throws "Added label "obj" is not included in initial
    // labelset"; the rejection escapes `void answer(req, res)`, so no answer is ever sent and, in
    // the real process (no unhandledRejection handler, Node 20 default), the gateway exits with
    // code 1. Here (vitest keeps the worker alive) every later SOAP request hangs the same way.
    const evil =
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>' +
      '<getDeviceInstances xmlns="urn:dmwsi-gateway:1.0" id="__proto__"/></soapenv:Body></soapenv:Envelope>';
    try {
      const first = await post('DeviceManager', evil).catch((e: unknown) => ({ status: 0, code: e instanceof NoAnswer ? 'no answer' : String(e), text: '' }));
      // Unauthenticated: a typed refusal (the parser reads id as an inert attribute).
      expect(first.code).toBe('AuthenticationFailed');
      expect(Object.hasOwn(Object.prototype, 'obj')).toBe(false);
      const next = await post('DeviceManager', envelope('<t:getDeviceInstances><t:userSession/><t:offset>0</t:offset><t:limit>1</t:limit></t:getDeviceInstances>', auth));
      expect(next.status).toBe(200);
    } finally {
      delete (Object.prototype as Record<string, unknown>).obj;
      for (const b of builtins()) delete (b as unknown as Record<string, unknown>).obj;
    }
  });
});
