/**
 * Property-based hostile input against the three SOAP endpoints
 * (acceptance: "Reliability and security", item 2). Over 10,000 generated
 * requests, 32 in flight, from a fixed fast-check seed:
 *
 * - contract:   requests for every operation of every service, built from the
 *               contract (src/wsi/contract/schema.ts) with plausible, edge and
 *               hostile field values, several auth styles and envelope dialects;
 * - mutated:    those requests after 1-4 random byte edits (truncation, flips,
 *               inserted XML tokens, deleted/duplicated/swapped ranges);
 * - xml-tricks: DOCTYPE / ENTITY / XXE variants, CDATA (with nested XML),
 *               comments, PIs, xsi:nil / xsi:type, multiRef href/id, random
 *               element and attribute names;
 * - structure:  deep nesting (to 20,000 levels), huge element and attribute
 *               counts, huge names and values, many namespaces, over the limit;
 * - encoding:   random bytes, UTF-16, Latin-1, invalid UTF-8, NUL, BOMs;
 * - transport:  gzip/deflate/br bombs, broken compression, unknown
 *               Content-Encoding, wrong Content-Type, random SOAPAction;
 * - auth:       malformed WS-Security, PasswordDigest replay / skew / garbage,
 *               nonces re-encoded (padding dropped, junk after it, line
 *               breaks, base64url), unknown and logged-out userSessions;
 * - pathological: 10 KB to 900 KB runs of `<`, `=`, quotes, attributes,
 *               entity and markup openers (hostile-kit.ts PATHOLOGICAL_UNITS),
 *               alone, inside a tag or inside a field's text; these and the
 *               re-encoded nonces must be answered within
 *               PATHOLOGICAL_BUDGET_MS each.
 *
 * Every answer must be a 200 SOAP envelope or a SOAP 1.1 Fault (HTTP 500)
 * with a typed DmwsiFault code other than Internal, never a stack trace; the
 * gateway logs no error; afterwards it is up, the heap is back near its
 * baseline, and the registry holds nothing half-written (a shadow model of
 * the device ids the requests tried to create, plus domain validation of
 * every row, audit rows matching successful calls, job counters adding up).
 *
 * Memory: heapUsed after three forced full collections, before (after a
 * 256-request warm-up) and after the run; +64 MiB at most. The worker is not
 * started with --expose-gc, so hostile-kit.ts obtains V8's collector at run
 * time (v8.setFlagsFromString('--expose-gc') + vm.runInNewContext('gc')).
 *
 * Nothing is exempt: every generator may produce any input the gateway once
 * failed on (an empty Security header, a leap-second dateTime, U+FFFE/U+FFFF,
 * multiRef ids naming Object.prototype members), every Internal fails the run,
 * and so does an answer holding a character XML 1.0 forbids.
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/domain/errors.js';
import { deviceCapabilityProblems, deviceInstanceProblems } from '../../src/domain/registry-validation.js';
import { JOB_STATES, TASK_STATES } from '../../src/domain/tasks.js';
import {
  COMPLEX_TYPES,
  type ComplexTypeName,
  type FieldSpec,
  inputFields,
  type OperationSpec,
  SERVICES,
  type ServiceName,
} from '../../src/wsi/contract/schema.js';
import { imei, imeiN, phoneN } from '../support/fixtures.js';
import { WSSE_NS } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';
import {
  applyEdits,
  byteEdit,
  captureLogs,
  collector,
  errMessage,
  firstNonXmlChar,
  fmtMiB,
  type LogCapture,
  type MemoryFigure,
  NoAnswer,
  PATHOLOGICAL_BUDGET_MS,
  pathologicalRun,
  preview,
  type RawAnswer,
  type RawRequest,
  rawClient,
  STACK_TRACE,
  saveRepro,
  scaled,
  seedFrom,
  settledMemory,
  Tally,
} from './hostile-kit.js';

const SEED = seedFrom(0x50a9_f022);
const IN_FLIGHT = 32;
const RUNS = scaled(320); // x 32 requests a run = 10,240 requests
const BODY_LIMIT = 1024 * 1024;
/** Allowed heap growth (after three forced full collections) over the warmed-up baseline. */
const HEAP_GROWTH_LIMIT_MIB = 64;

const ENV_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
const TNS = 'urn:dmwsi-gateway:1.0';
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';
const TYPED_CODES = new Set<string>(ERROR_CODES.filter((c) => c !== 'Internal'));
const VICTIM = { username: 'wsse-victim', password: 'victim-password-1' };

// ---- the world the requests talk about ------------------------------------------------

interface World {
  token: string;
  /** A second session, the only one `logout` may end. */
  throwaway: string;
  devices: { id: string; phone: string }[];
  /** Seeded devices without tasks: valid deleteDeviceInstance targets. */
  deletable: string[];
  capOid: string;
  taskId: string;
  jobId: string;
}

let gw: TestGateway;
let logs: LogCapture;
let world: World;
let client: ReturnType<typeof rawClient>;
let gc: () => void;
let baseline: MemoryFigure;
/** Audit rows up to this id predate the measured run (seed data, warm-up). */
let auditFrom = 0;
const tally = new Tally();
const statuses = new Tally();
const codes = new Tally();

const okByOperation = new Tally();
/** Task and job ids answered by the idempotent creating operations (one audit row per distinct id). */
const createdIds = new Map<string, Set<string>>();
const answerMs: number[] = [];
/** Answer times of the requests with a time budget (pathological runs, re-encoded nonces). */
const budgetedMs: number[] = [];
const msByKind = new Tally();

/** Device ids (fresh IMEIs) that requests tried to create, and what became of them. */
const shadow = new Map<string, { anyOk: boolean; mustExist: boolean; carriers: string[] }>();

const seedCtx = { caller: 'seed', operation: 'seed' };

beforeAll(async () => {
  logs = captureLogs();
  gw = await startTestGateway({
    overrides: { soapMaxBodyBytes: BODY_LIMIT },
    gateway: {
      logger: logs.logger,
      // Tasks created by the fuzz wake nobody: no sockets to devices that do not exist.
      notificationSender: { send: async () => ({ delivered: true, channel: 'http', detail: 'HTTP 204', attempts: 1 }) },
    },
  });
  await gw.deviceManager.createDeviceCapability(seedCtx, {
    oid: 'fuzz-cap',
    make: 'Acme',
    model: 'X1',
    firmwareVersion: '1.0',
    dmVersion: '1.2',
    sseRoot: './SSE',
  });
  const devices = Array.from({ length: 8 }, (_, i) => ({ id: imeiN(i + 1), phone: phoneN(i + 1) }));
  for (const [i, d] of devices.entries()) {
    // Two of them can take a bootstrap (a notificationUrl and a PIN to sign it with).
    const bootstrap = i < 2 ? { notificationUrl: 'http://127.0.0.1:9/notify', attributes: { bootstrapPin: '1234' } } : {};
    await gw.deviceManager.createDeviceInstance(seedCtx, { deviceId: d.id, phoneNumber: d.phone, capabilityOid: 'fuzz-cap', ...bootstrap });
  }
  await gw.auth.createUser(VICTIM.username, VICTIM.password, 'admin');
  const op = { name: 'QUERY' as const, commands: [{ verb: 'Get' as const, uri: './DevInfo/Man' }] };
  const taskId = await gw.broker.doOperation(seedCtx, {
    operation: op,
    phoneNumber: devices[0]!.phone,
    bOptin: false,
    acceptDevicePolicy: 30,
    testCycle: false,
  });
  const jobId = await gw.bulk.createDeployments(seedCtx, op, [devices[1]!.id, devices[2]!.id], {});
  world = {
    token: await gw.auth.login(ADMIN.username, ADMIN.password),
    throwaway: await gw.auth.login(ADMIN.username, ADMIN.password),
    // The last four are only ever named by deleteDeviceInstance (no task is created for them).
    devices: devices.slice(0, 4),
    deletable: devices.slice(4).map((d) => d.id),
    capOid: 'fuzz-cap',
    taskId,
    jobId,
  };
  client = rawClient(gw.url, { maxSockets: IN_FLIGHT });
  gc = collector();
});

afterAll(async () => {
  client?.close();
  await gw?.stop();
});

// ---- value pools ----------------------------------------------------------------------

/** Element text: &, < and > escaped (other specials go through as themselves). */
const esc = (s: string) => s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
/** Strings with any code point, U+FFFE/U+FFFF and lone surrogates included. */
const anyText = (maxLength: number) => fc.string({ unit: 'binary', maxLength });

const HOSTILE_STRINGS = [
  '',
  ' ',
  '\t\n',
  '0',
  '-1',
  'null',
  'undefined',
  'NaN',
  'true',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  "' OR '1'='1",
  '"; DROP TABLE device_instance; --',
  '%s%s%s%n',
  '../../../../etc/passwd',
  'file:///etc/passwd',
  'http://169.254.169.254/latest/meta-data/',
  // A Log4Shell-style lookup (literal text, not a template).
  '$' + '{jndi:ldap://127.0.0.1:1/a}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  ']]>',
  '<![CDATA[x]]>',
  '&amp;lt;',
  '=cmd|\' /C calc\'!A0',
  '\u202Eevil',
  '😀😀😀',
  'e\u0301\u0301\u0301',
  'İıſK',
  'a'.repeat(64),
  'a'.repeat(65),
  'a'.repeat(128),
  'a'.repeat(129),
  'ä'.repeat(129),
  'x'.repeat(4096),
];

const hostileText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: anyText(40) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
);

const INTS = ['0', '1', '-1', '5', '10', '20', '30', '40', '100', '1000', '1001', '2147483647', '2147483648', '-2147483648', '-2147483649', '99999999999', ' 7 ', '+3', '007', '1e3', '0x10', '1.0', '١٢', 'NaN', '', 'abc'];
const BOOLS = ['true', 'false', '1', '0', 'TRUE', 'yes', ' true ', ''];
const DATES = [
  '2030-01-01T00:00:00Z',
  '2030-01-01T00:00:00',
  '2030-01-01T00:00:00.123456789+05:30',
  '2020-01-01T00:00:00Z',
  '1970-01-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '0000-01-01T00:00:00Z',
  '2024-02-30T00:00:00Z',
  '2024-13-01T00:00:00Z',
  '2024-01-01T24:00:00Z',
  '2016-12-31T23:59:60Z',
  '2030-01-01',
  '20300101T000000Z',
  'yesterday',
  '',
];

const intText = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...INTS) }, { weight: 1, arbitrary: fc.integer().map(String) });
const boolText = fc.constantFrom(...BOOLS);
const dateText = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...DATES) },
  { weight: 1, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) },
);

/** A fresh IMEI nobody registered (prefix 36; the seeded ones are 35). */
const freshImei = fc.integer({ min: 0, max: 999_999_999_999 }).map((n) => imei(`36${String(n).padStart(12, '0')}`));
const freshPhone = fc.integer({ min: 0, max: 9_999_999 }).map((n) => `+1999${String(n).padStart(7, '0')}`);
const deviceUri = fc.constantFrom('./DevInfo/Man', './DevInfo/Mod', './DevDetail/FwV', './Custom/A', './FUMO/fw1/Update', './SSE', '.', './', '/abs', './a//b', `./${'s/'.repeat(20)}x`, './DevInfo/Man?x=1');

/**
 * How a request is built: 'valid' draws every field from values the domain
 * accepts (so a good share of requests reach the handlers and succeed),
 * 'hostile' mixes plausible, edge and hostile values field by field.
 */
type Mode = 'valid' | 'hostile';

/** The text of one simple field, XML-ready (escaped), for a field in a given parent type. */
function simpleText(f: FieldSpec, parent: string, opName: string, w: World, mode: Mode): fc.Arbitrary<string> {
  if (mode === 'valid') {
    const v = validText(f, parent, opName, w);
    if (v) return v.map(esc);
  }
  const generic =
    f.type === 'int' || f.type === 'long'
      ? intText
      : f.type === 'boolean'
        ? boolText
        : f.type === 'dateTime' || f.type === 'dateTimeText'
          ? dateText
          : hostileText;
  const plausible = plausibleText(f, parent, opName, w);
  const mix = plausible
    ? fc.oneof({ weight: 8, arbitrary: plausible }, { weight: 2, arbitrary: generic }, { weight: 1, arbitrary: hostileText })
    : fc.oneof({ weight: 4, arbitrary: generic }, { weight: 1, arbitrary: hostileText });
  return mix.map(esc);
}

const isCreate = (opName: string) => opName === 'createDeviceInstance' || opName === 'importDeviceInstances';

/** Values the domain accepts, by field name (undefined: no opinion, use the hostile mix). */
function validText(f: FieldSpec, parent: string, opName: string, w: World): fc.Arbitrary<string> | undefined {
  const seededId = fc.constantFrom(...w.devices.map((d) => d.id));
  const seededPhone = fc.constantFrom(...w.devices.map((d) => d.phone));
  switch (f.name) {
    case 'userSession':
      return fc.constant(opName === 'logout' ? w.throwaway : w.token);
    case 'deviceId':
      if (parent === 'DeviceInstance' && isCreate(opName)) return freshImei;
      if (opName === 'deleteDeviceInstance') return fc.constantFrom(...w.deletable);
      return seededId;
    case 'phoneNumber':
    case 'smsAddress':
      return parent === 'DeviceInstance' && isCreate(opName) ? freshPhone : seededPhone;
    case 'capabilityOid':
      return fc.constant(w.capOid);
    case 'oid':
      return opName === 'createDeviceCapability' ? fc.integer({ min: 0, max: 1e9 }).map((n) => `cap-${n}`) : fc.constant(w.capOid);
    case 'notificationUrl':
      return fc.constant('http://127.0.0.1:9/notify');
    case 'clientUsername':
      return fc.constant('dev-user');
    case 'clientPassword':
    case 'serverPassword':
      return fc.constant('secret-pw-123');
    case 'authType':
      return fc.constantFrom('md5', 'basic', 'hmac');
    case 'state':
      return fc.constant('ACTIVE');
    case 'lastContact':
    case 'startAt':
    case 'from':
      return fc.constant('2020-01-01T00:00:00Z');
    case 'deadline':
    case 'to':
      return fc.constant('2099-01-01T00:00:00Z');
    case 'name':
      return parent === 'Attribute' ? fc.constantFrom('colour', 'site', 'rack.row-1') : undefined;
    case 'value':
      return parent === 'Attribute' ? fc.constantFrom('red', 'b', '') : undefined;
    case 'taskId':
      return fc.constant(w.taskId);
    case 'jobId':
      return fc.constant(w.jobId);
    case 'status':
      return fc.constantFrom(...(opName === 'getJobs' ? JOB_STATES : TASK_STATES));
    case 'targets':
      return seededId;
    case 'offset':
      return fc.constantFrom('0', '1');
    case 'limit':
      return fc.constantFrom('1', '10', '100');
    case 'make':
    case 'model':
    case 'firmwareVersion':
      return fc.constantFrom('Acme', 'X1', '1.0', 'Ünïcode ✓');
    case 'dmVersion':
      return fc.constantFrom('1.2', '2.0');
    case 'sseRoot':
      return fc.constant('./SSE');
    case 'maxMsgSize':
      return fc.constantFrom('512', '16384');
    case 'wbxml':
    case 'bOptin':
      return fc.constantFrom('true', 'false');
    case 'testCycle':
      return fc.constant('false');
    case 'acceptDevicePolicy':
      return fc.constantFrom('10', '20', '30');
    case 'firstWaveSize':
    case 'waveSize':
    case 'notificationsPerSecond':
    case 'maxConcurrentSessions':
      return fc.constantFrom('1', '10');
    case 'errorThresholdPercent':
      return fc.constantFrom('0', '50', '100');
    case 'csv':
      return fc
        .array(fc.tuple(freshImei, freshPhone), { minLength: 1, maxLength: 5 })
        .map((rows) => ['deviceId,phoneNumber,capabilityOid', ...rows.map(([id, ph]) => `${id},${ph},${w.capOid}`)].join('\n'));
    case 'username':
      return fc.constant(VICTIM.username);
    case 'password':
      return fc.constant(VICTIM.password);
    default:
      return undefined;
  }
}

/** An OperationDefinition whose verbs, URIs and schedule agree (valid mode). */
const coherentOperation: fc.Arbitrary<string> = fc.oneof(
  fc.array(deviceUri.filter((u) => /^\.(\/[^/\s?#]{1,64}){1,16}$/.test(u)), { minLength: 1, maxLength: 3 }).map(
    (uris) => `<t:name>QUERY</t:name><t:commands>${uris.map((u) => `<t:command><t:verb>Get</t:verb><t:uri>${u}</t:uri></t:command>`).join('')}</t:commands>`,
  ),
  fc.constant('<t:name>UPDATE</t:name><t:commands><t:command><t:verb>Replace</t:verb><t:uri>./Custom/A</t:uri><t:value>1</t:value><t:format>int</t:format></t:command></t:commands>'),
  fc.constant('<t:name>DELETE</t:name><t:commands><t:command><t:verb>Delete</t:verb><t:uri>./Custom/A</t:uri></t:command></t:commands>'),
  fc.constant('<t:name>EXEC</t:name><t:commands><t:command><t:verb>Exec</t:verb><t:uri>./FUMO/fw1/Update</t:uri></t:command></t:commands>'),
  fc.constant('<t:name>SCHEDULED_EXEC</t:name><t:targetUri>./FUMO/fw1/Update</t:targetUri><t:atTime>2099-01-01T02:00:00Z</t:atTime>'),
  fc.constant('<t:name>CUSTOM</t:name><t:commands><t:command><t:verb>Add</t:verb><t:uri>./Custom/B</t:uri><t:value>x</t:value></t:command><t:command><t:verb>Get</t:verb><t:uri>./Custom/B</t:uri></t:command></t:commands>'),
);

function plausibleText(f: FieldSpec, parent: string, opName: string, w: World): fc.Arbitrary<string> | undefined {
  const seededId = fc.constantFrom(...w.devices.map((d) => d.id));
  const seededPhone = fc.constantFrom(...w.devices.map((d) => d.phone));
  switch (f.name) {
    case 'userSession':
      return opName === 'logout'
        ? fc.constantFrom(w.throwaway, '', 'not-a-session')
        : fc.oneof({ weight: 20, arbitrary: fc.constant(w.token) }, { weight: 1, arbitrary: fc.constantFrom('', 'x', w.throwaway) });
    case 'deviceId':
      if (parent === 'DeviceInstance' && (opName === 'createDeviceInstance' || opName === 'importDeviceInstances')) {
        return fc.oneof({ weight: 6, arbitrary: freshImei }, { weight: 1, arbitrary: seededId });
      }
      if (opName === 'deleteDeviceInstance') return fc.oneof(fc.constantFrom(...w.deletable), seededId, freshImei);
      return fc.oneof(
        { weight: 4, arbitrary: seededId },
        { weight: 1, arbitrary: seededId.map((s) => s.toLowerCase()) },
        { weight: 1, arbitrary: fc.constantFrom('MEID:A1000000000001', 'urn:uuid:0000', 'IMEI:350000000000000', 'IMEI:1') },
      );
    case 'phoneNumber':
    case 'smsAddress':
      return parent === 'DeviceInstance' && (opName === 'createDeviceInstance' || opName === 'importDeviceInstances')
        ? fc.oneof({ weight: 4, arbitrary: freshPhone }, { weight: 1, arbitrary: seededPhone })
        : fc.oneof({ weight: 4, arbitrary: seededPhone }, { weight: 1, arbitrary: fc.constantFrom('+0123', '+1', '+1234567890123456', '5551234') });
    case 'capabilityOid':
    case 'oid':
      return fc.oneof(
        { weight: 4, arbitrary: fc.constant(w.capOid) },
        { weight: 2, arbitrary: fc.integer({ min: 0, max: 1e6 }).map((n) => `cap-${n}`) },
        { weight: 1, arbitrary: fc.constantFrom('-x', 'a b', `c${'x'.repeat(130)}`) },
      );
    case 'notificationUrl':
      return fc.constantFrom('http://127.0.0.1:9/notify', 'https://example.invalid/p', 'javascript:alert(1)', 'file:///etc/passwd', `http://h/${'p'.repeat(600)}`, 'not a url');
    case 'clientUsername':
      return fc.constantFrom('dev-user', 'u', 'x'.repeat(70));
    case 'clientPassword':
    case 'serverPassword':
      return fc.constantFrom('secret-pw-123', 'short', 'p'.repeat(129), 'tab\tin');
    case 'authType':
      return fc.constantFrom('md5', 'basic', 'hmac', 'MD5', 'digest', '');
    case 'state':
      return fc.constantFrom('ACTIVE', 'x');
    case 'name':
      if (parent === 'OperationDefinition') return fc.constantFrom('QUERY', 'UPDATE', 'DELETE', 'EXEC', 'SCHEDULED_EXEC', 'CUSTOM', 'BOOTSTRAP', 'query');
      if (parent === 'Attribute') return fc.constantFrom('colour', 'site', 'a', '9bad', 'x'.repeat(65), 'a.b-c_d');
      return undefined;
    case 'value':
      return fc.constantFrom('red', '1', '', 'v'.repeat(1025), '<b>x</b>');
    case 'verb':
      return fc.constantFrom('Get', 'Replace', 'Add', 'Delete', 'Exec', 'Copy', 'get', 'Sequence');
    case 'uri':
    case 'targetUri':
      return deviceUri;
    case 'format':
      return fc.constantFrom('chr', 'int', 'b64', 'node', 'bool', 'xml', 'exe');
    case 'type':
      return fc.constantFrom('text/plain', 'application/vnd.syncml.dmtnds+xml');
    case 'atTime':
      return fc.constantFrom('2099-01-01T02:00:00Z', '2099-01-01T02:00:00', '20990101T020000Z', '2000-01-01T00:00:00Z', '2099-02-30T00:00:00Z');
    case 'acceptDevicePolicy':
      return fc.constantFrom('10', '20', '30', '40', '0');
    case 'taskId':
      return fc.oneof({ weight: 3, arbitrary: fc.constant(w.taskId) }, { weight: 1, arbitrary: fc.uuid() });
    case 'jobId':
      return fc.oneof({ weight: 3, arbitrary: fc.constant(w.jobId) }, { weight: 1, arbitrary: fc.uuid() });
    case 'status':
      return fc.constantFrom(...TASK_STATES, ...JOB_STATES, 'queued', 'ANY');
    case 'targets':
      return fc.oneof(seededId, seededPhone, freshImei);
    case 'offset':
      return fc.constantFrom('0', '1', '5', '-1', '1000000');
    case 'limit':
      return fc.constantFrom('1', '10', '1000', '0', '1001');
    case 'make':
    case 'model':
    case 'firmwareVersion':
      return fc.constantFrom('Acme', 'X1', '1.0', 'x'.repeat(129));
    case 'dmVersion':
      return fc.constantFrom('1.2', '2.0', '1.1', '');
    case 'sseRoot':
      return fc.constantFrom('./SSE', './A/B', 'SSE', './');
    case 'maxMsgSize':
      return fc.constantFrom('512', '16384', '511', '16777217');
    case 'csv':
      return csvText;
    case 'username':
      return fc.oneof({ weight: 12, arbitrary: fc.constant(VICTIM.username) }, { weight: 1, arbitrary: fc.constantFrom('nobody', 'x'.repeat(65)) });
    case 'password':
      return fc.constantFrom(VICTIM.password, 'wrong-password', '', 'p'.repeat(257));
    default:
      return undefined;
  }
}

const csvText: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('deviceId,phoneNumber,capabilityOid', 'deviceId,phoneNumber,capabilityOid,authType', 'deviceId,phone', 'deviceId,phoneNumber,capabilityOid,evil', ''),
    fc.array(
      fc.tuple(freshImei, freshPhone, fc.constantFrom('fuzz-cap', 'nope', '=HYPERLINK("x")', '"quoted, comma"', '"unterminated')),
      { maxLength: 6 },
    ),
    fc.constantFrom('\n', '\r\n', '\r', '\n\n'),
  )
  .map(([header, rows, nl]) => [header, ...rows.map((r) => r.join(','))].join(nl));

/** fresh IMEIs in a piece of request text (the shadow model reads them back from the request). */
const FRESH_ID = /IMEI:36\d{13}/g;

// ---- request bodies from the contract ------------------------------------------------------

interface OpRef {
  service: ServiceName;
  op: OperationSpec;
}

const OPS: OpRef[] = SERVICES.flatMap((s) => s.operations.map((op) => ({ service: s.name, op })));

/** Zero or more occurrences of a field, as XML (prefix `t:`). */
function fieldXml(f: FieldSpec, parent: string, opName: string, w: World, depth: number, mode: Mode): fc.Arbitrary<string> {
  const isComplex = f.type in COMPLEX_TYPES;
  const content: fc.Arbitrary<string> = isComplex
    ? depth > 3
      ? fc.constant('')
      : mode === 'valid' && f.type === 'OperationDefinition'
        ? coherentOperation
        : complexXml(f.type as ComplexTypeName, opName, w, depth + 1, mode)
    : simpleText(f, parent, opName, w, mode);
  const element = content.map((c) => `<t:${f.name}>${c}</t:${f.name}>`);
  const one =
    mode === 'valid'
      ? element
      : fc.oneof(
          { weight: 20, arbitrary: element },
          { weight: 1, arbitrary: fc.constant(`<t:${f.name}/>`) },
          { weight: 1, arbitrary: fc.constant(`<t:${f.name} xsi:nil="true"/>`) },
        );
  const count =
    mode === 'valid'
      ? f.repeated
        ? fc.integer({ min: f.optional ? 0 : 1, max: 2 })
        : f.optional
          ? fc.constantFrom(0, 1)
          : fc.constant(1)
      : f.repeated
        ? fc.oneof({ weight: 10, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 4, max: 12 }) })
        : f.optional
          ? fc.oneof({ weight: 10, arbitrary: fc.constantFrom(0, 1) }, { weight: 1, arbitrary: fc.constant(2) })
          : fc.oneof({ weight: 25, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constantFrom(0, 2) });
  return count.chain((n) => fc.array(one, { minLength: n, maxLength: n }).map((xs) => xs.join('')));
}

function complexXml(type: ComplexTypeName, opName: string, w: World, depth: number, mode: Mode): fc.Arbitrary<string> {
  const fields = COMPLEX_TYPES[type];
  return fc.tuple(...fields.map((f) => fieldXml(f, type, opName, w, depth, mode))).map((parts) => parts.join(''));
}

function operationXml(ref: OpRef, w: World, mode: Mode): fc.Arbitrary<string> {
  const fields = inputFields(ref.op);
  return fc
    .tuple(...fields.map((f) => fieldXml(f, ref.op.name, ref.op.name, w, 0, mode)))
    .map((parts) => `<t:${ref.op.name}>${parts.join('')}</t:${ref.op.name}>`);
}

// ---- envelopes and auth -------------------------------------------------------------------

type AuthStyle = 'session' | 'wsse-text' | 'wsse-digest' | 'wsse-digest-replay' | 'none';

/** WS-Security headers for the victim user (never the admin: a wrong admin password would lock it). */
function securityHeader(style: AuthStyle, nonce: Uint8Array): string {
  if (style === 'wsse-text') {
    return (
      `<wsse:Security xmlns:wsse="${WSSE_NS}"><wsse:UsernameToken><wsse:Username>${VICTIM.username}</wsse:Username>` +
      `<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">${VICTIM.password}</wsse:Password>` +
      '</wsse:UsernameToken></wsse:Security>'
    );
  }
  if (style === 'wsse-digest' || style === 'wsse-digest-replay') {
    // Created is now: values are generated right before their batch is sent.
    const created = new Date().toISOString();
    const n = Buffer.from(nonce);
    const digest = crypto.createHash('sha1').update(Buffer.concat([n, Buffer.from(created), Buffer.from(VICTIM.password)])).digest('base64');
    return (
      `<wsse:Security xmlns:wsse="${WSSE_NS}" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">` +
      `<wsse:UsernameToken><wsse:Username>${VICTIM.username}</wsse:Username>` +
      `<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">${digest}</wsse:Password>` +
      `<wsse:Nonce>${n.toString('base64')}</wsse:Nonce><wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>`
    );
  }
  return '';
}

const authStyle: fc.Arbitrary<AuthStyle> = fc.oneof(
  { weight: 30, arbitrary: fc.constant('session' as const) },
  { weight: 4, arbitrary: fc.constant('wsse-text' as const) },
  { weight: 3, arbitrary: fc.constant('wsse-digest' as const) },
  { weight: 1, arbitrary: fc.constant('wsse-digest-replay' as const) },
  { weight: 1, arbitrary: fc.constant('none' as const) },
);

interface Dialect {
  envPrefix: string;
  envNs: string;
  decl: string;
  opNs: 'prefixed' | 'default' | 'none' | 'foreign';
  headerAlways: boolean;
  leading: string;
}

const dialect: fc.Arbitrary<Dialect> = fc.record({
  envPrefix: fc.constantFrom('soapenv', 'soapenv', 'soap', 'S', 'e'),
  envNs: fc.oneof({ weight: 12, arbitrary: fc.constant(ENV_NS) }, { weight: 1, arbitrary: fc.constantFrom('http://www.w3.org/2003/05/soap-envelope', 'urn:not-soap') }),
  decl: fc.constantFrom(
    '<?xml version="1.0" encoding="utf-8"?>',
    '',
    '<?xml version="1.0"?>',
    '<?xml version="1.0" encoding="ISO-8859-1"?>',
    '<?xml version="1.1" encoding="UTF-8" standalone="yes"?>',
  ),
  opNs: fc.oneof({ weight: 12, arbitrary: fc.constant('prefixed' as const) }, { weight: 1, arbitrary: fc.constantFrom('default' as const, 'none' as const, 'foreign' as const) }),
  headerAlways: fc.boolean(),
  leading: fc.constantFrom('', '', '', '\n  ', '<!-- hello -->', '\uFEFF'),
});

function wrap(opXml: string, headerXml: string, d: Dialect): string {
  let op = opXml;
  if (d.opNs === 'default') op = op.replace(/<t:(\w+)/, `<$1 xmlns="${TNS}"`).replace(/<(\/?)t:/g, '<$1');
  else if (d.opNs === 'none') op = op.replace(/<(\/?)t:/g, '<$1');
  const tDecl = d.opNs === 'foreign' ? 'urn:someone-else' : TNS;
  const p = d.envPrefix;
  const header = headerXml || d.headerAlways ? `<${p}:Header>${headerXml}</${p}:Header>` : '';
  return (
    `${d.leading}${d.decl}<${p}:Envelope xmlns:${p}="${d.envNs}" xmlns:t="${tDecl}" xmlns:xsi="${XSI}">` +
    `${header}<${p}:Body>${op}</${p}:Body></${p}:Envelope>`
  );
}

// ---- cases -----------------------------------------------------------------------------

interface SoapCase {
  kind: string;
  req: RawRequest;
  /** The answer must be a Fault with one of these codes. */
  expectFault?: readonly string[];
  /** An unmutated createDeviceInstance: a 200 means the fresh id must now exist. */
  pristineCreate?: boolean;
  /** Sent twice at the same time (races between identical writes). */
  twin?: boolean;
  /** The answer must come within this many ms. */
  budgetMs?: number;
}

const xmlHeaders = (extra: Record<string, string> = {}) => ({ 'content-type': 'text/xml; charset=utf-8', ...extra });

function contractRequest(w: World) {
  return fc
    .record({
      ref: fc.constantFrom(...OPS),
      wrongService: fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      otherService: fc.constantFrom(...SERVICES.map((s) => s.name)),
      auth: authStyle,
      nonce: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      dialect,
      soapAction: fc.constantFrom(undefined, '""', '"urn:x"'),
      mode: fc.constantFrom<Mode>('valid', 'valid', 'hostile', 'hostile', 'hostile'),
    })
    .chain((r) => operationXml(r.ref, w, r.mode).map((xml) => ({ ...r, xml })))
    .map((r) => {
      // Replays reuse one of four nonces: the first use of each passes, the rest are replays.
      const nonce = r.auth === 'wsse-digest-replay' ? new Uint8Array(16).fill(r.nonce[0]! % 4) : r.nonce;
      const header = securityHeader(r.auth, nonce);
      const service = r.wrongService ? r.otherService : r.ref.service;
      const body = Buffer.from(wrap(r.xml, header, r.dialect), 'utf8');
      return {
        op: r.ref.op.name,
        mode: r.mode,
        auth: r.auth,
        service,
        body,
        headers: xmlHeaders(r.soapAction ? { soapaction: r.soapAction } : {}),
      };
    });
}

const XML_TOKENS = [
  '<',
  '>',
  '/>',
  '</',
  '"',
  "'",
  '=',
  '&',
  ';',
  '&amp;',
  '&lt;',
  '&#0;',
  '&#x10FFFF;',
  '&#xD800;',
  '&bogus;',
  '<!--',
  '-->',
  '<![CDATA[',
  ']]>',
  '<?',
  '?>',
  ' xmlns="urn:x"',
  ' xmlns:t="urn:evil"',
  ' xsi:nil="true"',
  ' xsi:type="t:DeviceInstance"',
  ' href="#r"',
  ' id="r"',
  '<t:userSession>',
  '</t:userSession>',
  '<t:device>',
  '<t:offset>1</t:offset>',
  '<soapenv:Fault>',
  '<t:getTaskById>',
  '</soapenv:Body>',
  '\u0000',
  '\uFEFF',
].map((s) => new Uint8Array(Buffer.from(s, 'utf8')));
const RAW_BYTES = [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xff, 0xfe], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]].map((b) => new Uint8Array(b));

function soapCases(w: World): fc.Arbitrary<SoapCase> {
  const contract = contractRequest(w);
  const path = (service: ServiceName) => `/dmwsi/${service}`;

  const pristine = contract.map(
    (c): SoapCase => ({
      kind: `contract:${c.op}`,
      req: { path: path(c.service), headers: c.headers, body: c.body },
      pristineCreate: c.op === 'createDeviceInstance',
    }),
  );

  const mutated = fc
    .tuple(contract, fc.array(byteEdit([...XML_TOKENS, ...RAW_BYTES]), { minLength: 1, maxLength: 4 }))
    .map(([c, edits]): SoapCase => ({ kind: `mutated:${edits.map((e) => e.op).join('+')}`, req: { path: path(c.service), headers: c.headers, body: applyEdits(c.body, edits) } }));

  const twins = contract
    // (Not with a PasswordDigest: the second copy would rightly be refused as a nonce replay.)
    .filter((c) => c.mode === 'valid' && !c.auth.startsWith('wsse-digest') && /^(create|update|delete|import|do|cancel|pause|restart)/.test(c.op))
    .map((c): SoapCase => ({ kind: `twin:${c.op}`, req: { path: path(c.service), headers: c.headers, body: c.body }, twin: true }));

  return fc.oneof(
    { weight: 3, arbitrary: twins },
    { weight: 25, arbitrary: pristine },
    { weight: 35, arbitrary: mutated },
    { weight: 9, arbitrary: xmlTricks(contract) },
    { weight: 8, arbitrary: structure(contract, w) },
    { weight: 8, arbitrary: encodings(contract) },
    { weight: 8, arbitrary: transport(contract) },
    { weight: 7, arbitrary: authTricks(w) },
    { weight: 6, arbitrary: pathological(contract) },
    { weight: 3, arbitrary: reencodedNonces() },
  );
}

/** Runs that make backtracking scanners quadratic: the whole body, inside a tag, or inside a field's text. */
function pathological(contract: ContractArb): fc.Arbitrary<SoapCase> {
  return fc.tuple(contract, pathologicalRun(900_000), fc.constantFrom('alone', 'in-tag', 'in-text'), fc.nat()).map(([c, run, where, n]): SoapCase => {
    const xml = c.body.toString('utf8');
    let body: string;
    if (where === 'alone') body = run.text;
    else if (where === 'in-text') body = atText(xml, n, (t) => t + run.text);
    else {
      const tags = [...xml.matchAll(/<[A-Za-z][\w:.-]*/g)];
      const t = tags[n % tags.length]!;
      const at = t.index + t[0].length;
      body = `${xml.slice(0, at)} ${run.text}${xml.slice(at)}`;
    }
    return {
      kind: `pathological:${JSON.stringify(run.unit)}-${where}`,
      req: { path: `/dmwsi/${c.service}`, headers: c.headers, body: Buffer.from(body) },
      budgetMs: PATHOLOGICAL_BUDGET_MS,
    };
  });
}

/**
 * PasswordDigest tokens whose Nonce is the same bytes written another way
 * (padding dropped, junk after it, line breaks, base64url). Only a typed answer
 * in time is judged here, not whether the gateway counts them as replays.
 */
function reencodedNonces(): fc.Arbitrary<SoapCase> {
  const getOp = '<t:getDeviceInstances><t:userSession/><t:offset>0</t:offset><t:limit>1</t:limit></t:getDeviceInstances>';
  const reencode = [
    (b64: string) => b64.replace(/=+$/, ''),
    (b64: string) => `${b64}==`,
    (b64: string) => `${b64}!!`,
    (b64: string) => `${b64}AA`,
    (b64: string) => ` ${b64}\n`,
    (b64: string) => b64.replace(/(.{4})/g, '$1\r\n'),
    (b64: string) => b64.replace(/\+/g, '-').replace(/\//g, '_'),
    (b64: string) => `${b64}${'='.repeat(10_000)}`,
    (b64: string) => `${b64}${'A'.repeat(100_000)}`,
  ];
  return fc.tuple(fc.uint8Array({ minLength: 15, maxLength: 17 }), fc.nat({ max: reencode.length - 1 }), fc.nat({ max: 3 })).map(([raw, k, pick]): SoapCase => {
    // A few nonces only, so re-encodings of one nonce meet each other and its plain form.
    const nonce = Buffer.from(raw).fill(pick, 0, 4);
    const created = new Date().toISOString();
    const digest = crypto.createHash('sha1').update(Buffer.concat([nonce, Buffer.from(created), Buffer.from(VICTIM.password)])).digest('base64');
    const text = reencode[k]!(nonce.toString('base64'));
    const h =
      `<wsse:Security xmlns:wsse="${WSSE_NS}" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><wsse:UsernameToken>` +
      `<wsse:Username>${VICTIM.username}</wsse:Username><wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">${digest}</wsse:Password>` +
      `<wsse:Nonce>${text}</wsse:Nonce><wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>`;
    return {
      kind: `auth:nonce-reencoded#${k}`,
      req: { path: '/dmwsi/DeviceManager', headers: xmlHeaders(), body: Buffer.from(wrap(getOp, h, plainDialect)) },
      budgetMs: PATHOLOGICAL_BUDGET_MS,
    };
  });
}

/** Inserts `snippet` just before the n-th '<' of the text (n taken modulo their count). */
function atTag(xml: string, n: number, snippet: string): string {
  const idx: number[] = [];
  for (let i = xml.indexOf('<'); i >= 0; i = xml.indexOf('<', i + 1)) idx.push(i);
  const at = idx.length ? idx[n % idx.length]! : 0;
  return xml.slice(0, at) + snippet + xml.slice(at);
}

/** Replaces the text of the n-th simple element (one with text and no child) by `text`. */
function atText(xml: string, n: number, f: (text: string) => string): string {
  const re = />([^<>]+)</g;
  const hits: RegExpExecArray[] = [];
  for (let m = re.exec(xml); m; m = re.exec(xml)) hits.push(m);
  if (!hits.length) return xml;
  const m = hits[n % hits.length]!;
  return xml.slice(0, m.index + 1) + f(m[1]!) + xml.slice(m.index + 1 + m[1]!.length);
}

type ContractArb = ReturnType<typeof contractRequest>;

const DECLARATIONS = [
  '<!DOCTYPE x [<!ENTITY a "b">]>',
  '<!doctype x>',
  '<!DOCTYPE\nx SYSTEM "file:///etc/passwd">',
  '<!DOCTYPE x PUBLIC "-//X//EN" "http://127.0.0.1:9/x.dtd">',
  '<!ENTITY xxe SYSTEM "file:///etc/passwd">',
  '<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>',
  `<!DOCTYPE lolz [<!ENTITY l0 "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`).join('')}]>`,
  '<![CDATA[<!DOCTYPE x>]]>',
  '<!-- <!ENTITY in a comment> -->',
];

function xmlTricks(contract: ContractArb): fc.Arbitrary<SoapCase> {
  const decl = fc.tuple(contract, fc.constantFrom(...DECLARATIONS), fc.nat(), fc.boolean()).map(([c, d, n, prolog]): SoapCase => {
    const xml = c.body.toString('utf8');
    const body = prolog ? xml.replace(/(<\?xml[^>]*\?>)?/, (m) => m + d) : atTag(xml, n, d);
    return { kind: 'xml-tricks:declaration', req: { path: `/dmwsi/${c.service}`, headers: c.headers, body: Buffer.from(body) }, expectFault: ['InvalidArgument'] };
  });
  const textTricks = [
    (t: string) => `<![CDATA[${t}]]>`,
    (t: string) => `<![CDATA[${t.slice(0, 2)}]]><![CDATA[${t.slice(2)}]]>`,
    (t: string) => `<![CDATA[<?xml version="1.0"?><t:x xmlns:t="${TNS}">${t}</t:x>]]>`,
    (t: string) => `<![CDATA[<?xml version="1.0"?><a><b href="#q"/><c id="q">${t}</c></a>]]>`,
    (t: string) => `${t.slice(0, 1)}<!-- c -->${t.slice(1)}`,
    (t: string) => `${t}<?pi data?>`,
    (t: string) => [...t].map((ch) => `&#x${ch.codePointAt(0)!.toString(16)};`).join(''),
    (t: string) => `&amp;${t}&gt;`,
    (t: string) => `  ${t}\r\n\t`,
    (t: string) => `${t}]]]]><![CDATA[>`,
  ];
  const text = fc.tuple(contract, fc.nat(), fc.nat({ max: textTricks.length - 1 })).map(([c, n, k]): SoapCase => {
    const body = atText(c.body.toString('utf8'), n, textTricks[k]!);
    return { kind: `xml-tricks:text#${k}`, req: { path: `/dmwsi/${c.service}`, headers: c.headers, body: Buffer.from(body) } };
  });
  const attrTricks = [
    ' xsi:nil="true"',
    ' xsi:type="t:DeviceInstance"',
    ' xsi:type="xsd:int" xmlns:xsd="http://www.w3.org/2001/XMLSchema"',
    ' xsi:type="t:toString"',
    ' xsi:type="t:nope"',
    ' href="#r1"',
    ' id="r1"',
    ' id="r1" href="#r1"',
    ' id="__proto__"',
    ' id="constructor" href="#__proto__"',
    ' soapenv:mustUnderstand="1"',
    ' xmlns:t="urn:evil"',
    ' xmlns="urn:evil"',
    ' a="1" a="2"',
    ' attributes="x"',
    ' $value="x"',
  ];
  const attr = fc.tuple(contract, fc.nat(), fc.constantFrom(...attrTricks)).map(([c, n, a]): SoapCase => {
    const xml = c.body.toString('utf8');
    const re = /<([A-Za-z_][\w.-]*:)?[A-Za-z_][\w.-]*(?=[\s/>])/g;
    const hits: number[] = [];
    for (let m = re.exec(xml); m; m = re.exec(xml)) hits.push(m.index + m[0].length);
    const at = hits.length ? hits[n % hits.length]! : 0;
    return { kind: 'xml-tricks:attribute', req: { path: `/dmwsi/${c.service}`, headers: c.headers, body: Buffer.from(xml.slice(0, at) + a + xml.slice(at)) } };
  });
  // Random element and attribute names and values (names of Object.prototype members included).
  const randomName = fc.oneof(
    { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z_][\w.-]{0,24}(:[A-Za-z_][\w.-]{0,12})?$/) },
    { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf', 'attributes', '$value', 'Fault', 'Body', 'Header', 'Envelope', 'userSession', 'xmlns', 'ñame', 'имя', '名前') },
  );
  const attrValue = fc.oneof(
    { weight: 4, arbitrary: fc.stringMatching(/^[\w .:#/-]{0,40}$/) },
    { weight: 1, arbitrary: fc.constantFrom(...[...Object.getOwnPropertyNames(Object.prototype), 'prototype'].flatMap((n) => [n, `#${n}`])) },
  );
  const randomElement = fc.tuple(contract, fc.nat(), randomName, hostileText).map(([c, n, name, t]): SoapCase => {
    const body = atTag(c.body.toString('utf8'), n, `<${name}>${esc(t)}</${name}>`);
    return { kind: 'xml-tricks:random-element', req: { path: `/dmwsi/${c.service}`, headers: c.headers, body: Buffer.from(body) } };
  });
  const randomAttribute = fc.tuple(contract, fc.nat(), fc.array(fc.tuple(randomName, attrValue), { minLength: 1, maxLength: 4 })).map(([c, n, attrs]): SoapCase => {
    const xml = c.body.toString('utf8');
    const tags = [...xml.matchAll(/<[A-Za-z][\w:.-]*/g)];
    const t = tags[n % tags.length]!;
    const at = t.index + t[0].length;
    const text = attrs.map(([k, v]) => ` ${k}="${v}"`).join('');
    return { kind: 'xml-tricks:random-attribute', req: { path: `/dmwsi/${c.service}`, headers: c.headers, body: Buffer.from(xml.slice(0, at) + text + xml.slice(at)) } };
  });
  return fc.oneof(
    { weight: 3, arbitrary: decl },
    { weight: 4, arbitrary: text },
    { weight: 3, arbitrary: attr },
    { weight: 2, arbitrary: randomElement },
    { weight: 2, arbitrary: randomAttribute },
  );
}

function structure(contract: ContractArb, w: World): fc.Arbitrary<SoapCase> {
  const case_ = (kind: string, service: ServiceName, body: string, expectFault?: readonly string[]): SoapCase => ({
    kind: `structure:${kind}`,
    req: { path: `/dmwsi/${service}`, headers: xmlHeaders(), body: Buffer.from(body) },
    ...(expectFault ? { expectFault } : {}),
  });
  const name = fc.constantFrom('a', 't:device', 't:attribute', 't:command', 'x:y', 'soapenv:Body');
  // Mostly thousands of levels, now and then twenty thousand (each costs the parser ~10 ms per 1,000).
  const depth = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 200, max: 5_000 }) }, { weight: 1, arbitrary: fc.integer({ min: 5_000, max: 20_000 }) });
  const deep = fc.tuple(contract, depth, name, fc.nat()).map(([c, depth, n, at]) =>
    case_(`deep-nesting`, c.service, atTag(c.body.toString('utf8'), at, `${`<${n}>`.repeat(depth)}v${`</${n}>`.repeat(depth)}`)),
  );
  const manyElements = fc
    .tuple(
      fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 100, max: 5_000 }) }, { weight: 1, arbitrary: fc.integer({ min: 5_000, max: 40_000 }) }),
      fc.constantFrom(
        '<t:attribute><t:name>a</t:name><t:value>b</t:value></t:attribute>',
        '<t:targets>IMEI:350000000000000</t:targets>',
        '<t:command><t:verb>Get</t:verb><t:uri>./A</t:uri></t:command>',
        '<t:unknown/>',
        '<t:offset>0</t:offset>',
      ),
    )
    .map(([n, el]) => {
      const [op, service, wrapIn] = el.includes('attribute')
        ? (['createDeviceInstance', 'DeviceManager', (x: string) => `<t:device><t:deviceId>${imeiN(900)}</t:deviceId><t:phoneNumber>+15550000900</t:phoneNumber><t:capabilityOid>${w.capOid}</t:capabilityOid>${x}</t:device>`] as const)
        : el.includes('targets')
          ? (['createDeployments', 'BulkOperationsManager', (x: string) => `<t:operation><t:name>QUERY</t:name><t:commands><t:command><t:verb>Get</t:verb><t:uri>./A</t:uri></t:command></t:commands></t:operation>${x}`] as const)
          : el.includes('command')
            ? (['doOperation', 'DeploymentBroker', (x: string) => `<t:operation><t:name>QUERY</t:name><t:commands>${x}</t:commands></t:operation><t:phoneNumber>${w.devices[0]!.phone}</t:phoneNumber><t:bOptin>false</t:bOptin><t:acceptDevicePolicy>30</t:acceptDevicePolicy><t:testCycle>false</t:testCycle>`] as const)
            : (['getDeviceInstances', 'DeviceManager', (x: string) => `<t:offset>0</t:offset><t:limit>1</t:limit>${x}`] as const);
      const body = wrap(`<t:${op}><t:userSession>${w.token}</t:userSession>${wrapIn(el.repeat(n))}</t:${op}>`, '', plainDialect);
      return case_(`many-elements`, service, body);
    });
  const attributeCount = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 100, max: 5_000 }) }, { weight: 1, arbitrary: fc.integer({ min: 5_000, max: 20_000 }) });
  const manyAttributes = fc.tuple(contract, attributeCount, fc.nat(), fc.boolean()).map(([c, n, at, ns]) => {
    const attrs = Array.from({ length: n }, (_, i) => (ns ? ` xmlns:n${i}="urn:n${i}"` : ` a${i}="${i}"`)).join('');
    const xml = c.body.toString('utf8');
    const tags = [...xml.matchAll(/<[A-Za-z][\w:.-]*/g)];
    const t = tags[at % tags.length]!;
    const pos = t.index + t[0].length;
    return case_(ns ? 'many-namespaces' : 'many-attributes', c.service, xml.slice(0, pos) + attrs + xml.slice(pos));
  });
  const size = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 10_000, max: 200_000 }) }, { weight: 1, arbitrary: fc.integer({ min: 200_000, max: 900_000 }) });
  const huge = fc.tuple(contract, size, fc.constantFrom('text', 'attr', 'name'), fc.nat()).map(([c, n, where, at]) => {
    const xml = c.body.toString('utf8');
    if (where === 'text') return case_('huge-text', c.service, atText(xml, at, (t) => t + 'x'.repeat(n)));
    if (where === 'attr') return case_('huge-attribute', c.service, xml.replace(/<t:(\w+)/, (m) => `${m} big="${'y'.repeat(n)}"`));
    const nm = `t:${'n'.repeat(Math.min(n, 100_000))}`;
    return case_('huge-name', c.service, atTag(xml, at, `<${nm}>v</${nm}>`));
  });
  const overLimit = contract.map((c) => {
    const xml = c.body.toString('utf8');
    const at = Math.max(0, xml.lastIndexOf('</'));
    return case_('over-the-limit', c.service, `${xml.slice(0, at)}${' '.repeat(BODY_LIMIT)}${xml.slice(at)}`, ['InvalidArgument']);
  });
  const siblings = fc.tuple(fc.array(contract, { minLength: 2, maxLength: 6 }), fc.integer({ min: 1, max: 500 })).map(([cs, k]) => {
    const ops = cs.map((c) => /<soapenv:Body>([\s\S]*)<\/soapenv:Body>/.exec(c.body.toString('utf8'))?.[1] ?? '').join('');
    return case_('many-operations', cs[0]!.service, wrap(ops.repeat(Math.max(1, Math.floor(k / cs.length))), '', plainDialect));
  });
  return fc.oneof(deep, manyElements, manyAttributes, huge, overLimit, siblings);
}

const plainDialect: Dialect = { envPrefix: 'soapenv', envNs: ENV_NS, decl: '<?xml version="1.0" encoding="utf-8"?>', opNs: 'prefixed', headerAlways: false, leading: '' };

function encodings(contract: ContractArb): fc.Arbitrary<SoapCase> {
  const c_ = (kind: string, service: ServiceName, body: Buffer, headers = xmlHeaders()): SoapCase => ({ kind: `encoding:${kind}`, req: { path: `/dmwsi/${service}`, headers, body } });
  const services = fc.constantFrom(...SERVICES.map((s) => s.name));
  return fc.oneof(
    fc.tuple(services, fc.uint8Array({ maxLength: 4096 })).map(([s, b]) => c_('random-bytes', s, Buffer.from(b))),
    fc.tuple(contract, fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat()).map(([c, b, at]) => {
      const p = at % (c.body.length + 1);
      return c_('random-bytes-inside', c.service, Buffer.concat([c.body.subarray(0, p), Buffer.from(b), c.body.subarray(p)]));
    }),
    fc.tuple(contract, fc.boolean()).map(([c, le]) => {
      const text = c.body.toString('utf8').replace(/encoding="[^"]*"/, 'encoding="UTF-16"');
      const u16 = Buffer.from(text, 'utf16le');
      if (!le) u16.swap16();
      return c_(le ? 'utf-16le' : 'utf-16be', c.service, Buffer.concat([Buffer.from(le ? [0xff, 0xfe] : [0xfe, 0xff]), u16]));
    }),
    fc.tuple(contract, fc.nat()).map(([c, n]) => {
      const xml = atText(c.body.toString('utf8'), n, (t) => `${t}é€ÿ`).replace(/^(\uFEFF)?(<\?xml[^>]*\?>)?/, '<?xml version="1.0" encoding="ISO-8859-1"?>');
      return c_('latin1', c.service, Buffer.from(xml, 'latin1'));
    }),
    fc.tuple(contract, fc.constantFrom(...RAW_BYTES), fc.nat()).map(([c, b, n]) => {
      const marker = '\u0001MARK\u0001';
      const xml = atText(c.body.toString('utf8'), n, (t) => t + marker);
      const [a, z] = xml.split(marker) as [string, string];
      return c_('invalid-utf8', c.service, Buffer.concat([Buffer.from(a), Buffer.from(b), Buffer.from(z ?? '')]));
    }),
    contract.map((c) => c_('nul-bytes', c.service, Buffer.from(c.body.toString('latin1').replace(/></g, '>\u0000<'), 'latin1'))),
    contract.map((c) => c_('declared-ebcdic', c.service, Buffer.from(c.body.toString('utf8').replace(/^(\uFEFF)?(<\?xml[^>]*\?>)?/, '<?xml version="1.0" encoding="EBCDIC-CP-US"?>')))),
    contract.map((c) => c_('truncated-multibyte', c.service, Buffer.concat([c.body, Buffer.from([0xe2, 0x82])]))),
  );
}

// Bombs are built once: compressing 64 MiB for every case would dominate the run.
const BOMBS = {
  gzip: [2, 16, 64].map((m) => zlib.gzipSync(Buffer.alloc(m * 1024 * 1024, 0x20), { level: 9 })),
  deflate: [zlib.deflateSync(Buffer.alloc(32 * 1024 * 1024, 0x20), { level: 9 })],
  br: [zlib.brotliCompressSync(Buffer.alloc(64 * 1024 * 1024, 0x20), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } })],
};

function transport(contract: ContractArb): fc.Arbitrary<SoapCase> {
  const c_ = (kind: string, service: ServiceName, body: Buffer, headers: Record<string, string>, expectFault?: readonly string[]): SoapCase => ({
    kind: `transport:${kind}`,
    req: { path: `/dmwsi/${service}`, headers, body },
    ...(expectFault ? { expectFault } : {}),
  });
  const services = fc.constantFrom(...SERVICES.map((s) => s.name));
  const headerText = fc.string({ unit: fc.constantFrom(...' !"#$%&\'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~\t\u00a0\u00ff'.split('')), maxLength: 200 });
  return fc.oneof(
    fc.tuple(contract, fc.constantFrom('gzip', 'deflate', 'br')).map(([c, enc]) => {
      const z = enc === 'gzip' ? zlib.gzipSync(c.body) : enc === 'deflate' ? zlib.deflateSync(c.body) : zlib.brotliCompressSync(c.body);
      return c_(`compressed-${enc}`, c.service, z, { ...c.headers, 'content-encoding': enc });
    }),
    fc.tuple(services, fc.constantFrom(...BOMBS.gzip.map((_b, i) => ['gzip', i] as const), ['deflate', 0] as const, ['br', 0] as const)).map(([s, [enc, i]]) =>
      c_(`bomb-${enc}`, s, BOMBS[enc][i]!, { ...xmlHeaders(), 'content-encoding': enc }, ['InvalidArgument']),
    ),
    fc.tuple(contract, fc.array(byteEdit(), { minLength: 1, maxLength: 3 })).map(([c, edits]) =>
      c_('broken-gzip', c.service, applyEdits(zlib.gzipSync(c.body), edits), { ...c.headers, 'content-encoding': 'gzip' }),
    ),
    contract.map((c) => c_('gzip-declared-plain-sent', c.service, c.body, { ...c.headers, 'content-encoding': 'gzip' }, ['InvalidArgument'])),
    fc.tuple(contract, fc.constantFrom('compress', 'x-evil', 'gzip, gzip', 'identity, gzip', 'GZIP', 'zstd', '*')).map(([c, enc]) =>
      c_(`content-encoding:${enc}`, c.service, enc === 'gzip, gzip' ? zlib.gzipSync(zlib.gzipSync(c.body)) : c.body, { ...c.headers, 'content-encoding': enc }),
    ),
    fc.tuple(contract, fc.constantFrom('application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/soap+xml; charset=utf-16', 'text/xml; charset=EBCDIC', 'x'.repeat(4000), '')).map(([c, ct]) => {
      const h: Record<string, string> = { ...c.headers };
      if (ct === '') delete h['content-type'];
      else h['content-type'] = ct;
      return c_('content-type', c.service, c.body, h);
    }),
    fc.tuple(contract, headerText).map(([c, action]) => c_('soapaction', c.service, c.body, { ...c.headers, soapaction: action })),
    fc.tuple(services, fc.constantFrom(0, 1, 2)).map(([s, k]) =>
      c_('empty-body', s, Buffer.alloc(0), k === 0 ? xmlHeaders() : k === 1 ? { ...xmlHeaders(), 'content-encoding': 'gzip' } : {}, ['InvalidArgument']),
    ),
  );
}

const MALFORMED_SECURITY = [
  `<wsse:Security xmlns:wsse="${WSSE_NS}"/>`,
  `<wsse:Security xmlns:wsse="${WSSE_NS}"><wsse:Timestamp/></wsse:Security>`,
  `<wsse:Security xmlns:wsse="${WSSE_NS}"><wsse:UsernameToken/></wsse:Security>`,
  `<wsse:Security xmlns:wsse="${WSSE_NS}"><wsse:UsernameToken><wsse:Username></wsse:Username><wsse:Password>x</wsse:Password></wsse:UsernameToken></wsse:Security>`,
  `<wsse:Security xmlns:wsse="${WSSE_NS}"><wsse:UsernameToken><wsse:Username>${VICTIM.username}</wsse:Username></wsse:UsernameToken></wsse:Security>`,
  `<wsse:Security xmlns:wsse="${WSSE_NS}"><wsse:UsernameToken><wsse:Username>a</wsse:Username><wsse:Password>b</wsse:Password></wsse:UsernameToken><wsse:UsernameToken><wsse:Username>c</wsse:Username><wsse:Password>d</wsse:Password></wsse:UsernameToken></wsse:Security>`,
  `<wsse:Security xmlns:wsse="${WSSE_NS}"><wsse:UsernameToken><wsse:Username>${VICTIM.username}</wsse:Username><wsse:Password Type="#PasswordDigest">AAAA</wsse:Password></wsse:UsernameToken></wsse:Security>`,
  `<wsse:Security xmlns:wsse="${WSSE_NS}"><wsse:UsernameToken><wsse:Username>${VICTIM.username}</wsse:Username><wsse:Password Type="#PasswordDigest">AAAA</wsse:Password><wsse:Nonce>AA==</wsse:Nonce><wsse:Created>2030-01-01T00:00:00Z</wsse:Created></wsse:UsernameToken></wsse:Security>`,
  `<wsse:Security xmlns:wsse="${WSSE_NS}"><wsse:UsernameToken><wsse:Username>${VICTIM.username}</wsse:Username><wsse:Password Type="#PasswordDigest">!!!not-base64</wsse:Password><wsse:Nonce>AAAAAAAAAAAAAAAAAAAAAA==</wsse:Nonce><wsse:Created>${'9'.repeat(40)}</wsse:Created></wsse:UsernameToken></wsse:Security>`,
  `<wsse:Security xmlns:wsse="${WSSE_NS}"><wsse:UsernameToken><wsse:Username>ghost</wsse:Username><wsse:Password Type="#PasswordDigest">AAAA</wsse:Password><wsse:Nonce>AAAAAAAAAAAAAAAAAAAAAA==</wsse:Nonce><wsse:Created>NOW</wsse:Created></wsse:UsernameToken></wsse:Security>`,
  `<wsse:Security xmlns:wsse="${WSSE_NS}"><wsse:UsernameToken><wsse:Username><x>nested</x></wsse:Username><wsse:Password>p</wsse:Password></wsse:UsernameToken></wsse:Security>`,
  '<Security><UsernameToken>text</UsernameToken></Security>',
  `<wsse:Security xmlns:wsse="${WSSE_NS}">${'<wsse:UsernameToken>'.repeat(300)}${'</wsse:UsernameToken>'.repeat(300)}</wsse:Security>`,
];

function authTricks(w: World): fc.Arbitrary<SoapCase> {
  const getOp = '<t:getDeviceInstances><t:userSession>SESSION</t:userSession><t:offset>0</t:offset><t:limit>1</t:limit></t:getDeviceInstances>';
  const withSession = (s: string) => getOp.replace('SESSION', esc(s));
  return fc.oneof(
    fc.constantFrom(...MALFORMED_SECURITY).map(
      (h): SoapCase => ({
        kind: 'auth:malformed-security',
        req: { path: '/dmwsi/DeviceManager', headers: xmlHeaders(), body: Buffer.from(wrap(withSession(''), h, plainDialect)) },
        // 300 nested UsernameTokens are deeper than the envelope reader allows: refused before authentication.
        expectFault: h.includes('<wsse:UsernameToken><wsse:UsernameToken>') ? ['InvalidArgument'] : ['AuthenticationFailed'],
      }),
    ),
    fc
      .oneof(fc.constantFrom('', 'x', w.throwaway.slice(0, -1), `${w.token}x`, 'A'.repeat(256), 'A'.repeat(257), '\u00e9t\u00e9', '*', '../../'), fc.base64String({ maxLength: 64 }))
      .map((s): SoapCase => ({ kind: 'auth:bad-session', req: { path: '/dmwsi/DeviceManager', headers: xmlHeaders(), body: Buffer.from(wrap(withSession(s), '', plainDialect)) } })),
    fc.tuple(fc.constantFrom(-3600, -301, 301, 86400 * 365), fc.uint8Array({ minLength: 8, maxLength: 32 })).map(([skew, nonce]): SoapCase => {
      const created = new Date(Date.now() + skew * 1000).toISOString();
      const n = Buffer.from(nonce);
      const digest = crypto.createHash('sha1').update(Buffer.concat([n, Buffer.from(created), Buffer.from(VICTIM.password)])).digest('base64');
      const h = `<wsse:Security xmlns:wsse="${WSSE_NS}"><wsse:UsernameToken><wsse:Username>${VICTIM.username}</wsse:Username><wsse:Password Type="#PasswordDigest">${digest}</wsse:Password><wsse:Nonce>${n.toString('base64')}</wsse:Nonce><wsse:Created>${created}</wsse:Created></wsse:UsernameToken></wsse:Security>`;
      return { kind: 'auth:digest-clock-skew', req: { path: '/dmwsi/DeviceManager', headers: xmlHeaders(), body: Buffer.from(wrap(withSession(''), h, plainDialect)) }, expectFault: ['AuthenticationFailed'] };
    }),
  );
}

// ---- judging answers ------------------------------------------------------------------------

const OK_SHAPE = new RegExp(
  `^<\\?xml version="1\\.0" encoding="utf-8"\\?><soap:Envelope xmlns:soap="${ENV_NS.replace(/[./]/g, '\\$&')}"><soap:Body><(\\w+)Response xmlns="${TNS}"[ >/]`,
);
const FAULT_SHAPE =
  /^<\?xml version="1\.0" encoding="utf-8"\?><soap:Envelope xmlns:soap="http:\/\/schemas\.xmlsoap\.org\/soap\/envelope\/"><soap:Body><soap:Fault><faultcode>soap:(Client|Server)<\/faultcode><faultstring>[^<]*<\/faultstring><detail><tns:DmwsiFault xmlns:tns="urn:dmwsi-gateway:1\.0"><tns:code>(\w+)<\/tns:code><tns:message>[^<]*<\/tns:message>(<tns:field>[^<]*<\/tns:field>)?<\/tns:DmwsiFault><\/detail><\/soap:Fault><\/soap:Body><\/soap:Envelope>$/;

/** What is wrong with an answer (empty: nothing). */
function judge(c: SoapCase, a: RawAnswer): string[] {
  const problems: string[] = [];
  const text = a.body.toString('utf8');
  const type = String(a.headers['content-type'] ?? '');
  if (!type.startsWith('text/xml')) problems.push(`content-type "${type}"`);
  if (STACK_TRACE.test(text)) problems.push('the answer carries a stack trace');
  const bad = firstNonXmlChar(text);
  if (bad !== undefined) problems.push(`the answer holds U+${bad.toString(16).padStart(4, '0')}, which XML 1.0 forbids`);
  if (c.budgetMs !== undefined && a.ms > c.budgetMs) problems.push(`answered in ${a.ms.toFixed(0)} ms, over its ${c.budgetMs} ms budget`);
  const wellFormed = XMLValidator.validate(text);
  if (wellFormed !== true) problems.push(`not well-formed XML: ${JSON.stringify(wellFormed).slice(0, 200)}`);
  if (a.status === 200) {
    const m = OK_SHAPE.exec(text);
    if (!m || !text.endsWith('</soap:Body></soap:Envelope>')) problems.push('HTTP 200 without a result envelope');
    else {
      const op = m[1]!;
      okByOperation.add(op);
      const id = /<(?:taskId|jobId)>([^<]+)<\/(?:taskId|jobId)>/.exec(text)?.[1];
      if (id && (op === 'doOperation' || op === 'createDeployments' || op === 'doBulkOperation' || op === 'doBootstrap')) {
        const set = createdIds.get(op) ?? new Set<string>();
        set.add(id);
        createdIds.set(op, set);
      }
    }
    if (c.expectFault) problems.push(`expected a ${c.expectFault.join('/')} fault, got HTTP 200`);
  } else if (a.status === 500) {
    const m = FAULT_SHAPE.exec(text);
    if (!m) problems.push('HTTP 500 that is not a SOAP 1.1 DmwsiFault');
    else {
      const code = m[2]!;
      codes.add(code);
      const side = m[1];
      if (!TYPED_CODES.has(code)) problems.push(`fault code ${code} (Internal means the gateway failed)`);
      if (c.expectFault && !c.expectFault.includes(code)) problems.push(`expected ${c.expectFault.join('/')}, got ${code}`);
      if ((code === 'NotImplemented' || code === 'Overloaded') !== (side === 'Server')) problems.push(`faultcode soap:${side} for ${code}`);
    }
  } else {
    problems.push(`HTTP ${a.status} (only 200 and SOAP Faults are expected)`);
  }
  return problems;
}

/** `s` without the spans from each `open` to its `close` (an unterminated one runs to the end). Linear: every search moves forward. */
function dropSpans(s: string, open: string, close: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const a = s.indexOf(open, i);
    if (a < 0) return out + s.slice(i);
    out += s.slice(i, a);
    const b = s.indexOf(close, a + open.length);
    if (b < 0) return out;
    i = b + close.length;
  }
}

/**
 * The request text as the parser sees it, near enough to find device ids in
 * it. Linear on any body (lazy `<!--[\s\S]*?-->`-style expressions are
 * quadratic on a run of unterminated openers, which the pathological cases send).
 */
function idText(body: Buffer): string {
  const text = dropSpans(dropSpans(body.toString('utf8'), '<!--', '-->'), '<?', '?>').split('<![CDATA[').join('').split(']]>').join('');
  return text.replace(/&#x([0-9a-fA-F]{1,6});|&#([0-9]{1,7});/g, (m, h: string | undefined, d: string | undefined) => {
    const cp = h !== undefined ? Number.parseInt(h, 16) : Number(d);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
  });
}

/**
 * The body as the gateway reads it: compressed cases carry their device ids
 * inside gzip/deflate/br (a 200 for one of them is a write the model must
 * see). Undecodable or bomb-sized bodies are taken as sent.
 */
function plainBody(c: SoapCase): Buffer {
  const encodings = String(c.req.headers['content-encoding'] ?? '')
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean)
    .reverse();
  const maxOutputLength = 4 * 1024 * 1024;
  try {
    let body = c.req.body;
    for (const e of encodings) {
      if (e === 'gzip') body = zlib.gunzipSync(body, { maxOutputLength });
      else if (e === 'deflate') body = zlib.inflateSync(body, { maxOutputLength });
      else if (e === 'br') body = zlib.brotliDecompressSync(body, { maxOutputLength });
    }
    return body;
  } catch {
    return c.req.body;
  }
}

function recordShadow(c: SoapCase, a: RawAnswer | undefined): void {
  const ids = idText(plainBody(c)).match(FRESH_ID) ?? [];
  for (const id of new Set(ids)) {
    const s = shadow.get(id) ?? { anyOk: false, mustExist: false, carriers: [] };
    if (s.carriers.length < 5) s.carriers.push(`${c.kind} -> ${a?.status ?? 'no answer'}`);
    if (a?.status === 200) {
      s.anyOk = true;
      if (c.pristineCreate) s.mustExist = true;
    }
    shadow.set(id, s);
  }
}

const twinAnswers = new WeakMap<SoapCase, RawAnswer[]>();

/**
 * Twins (the same request twice at once): they carry no WS-Addressing MessageID, so
 * the creating operations treat each copy as new work: both get the same answer, with
 * two different ids; a create may win once.
 */
function judgeTwin(c: SoapCase): string | undefined {
  const [a, b] = twinAnswers.get(c) ?? [];
  if (!a || !b) return undefined;
  const op = c.kind.replace(/^twin:/, '');
  const codeOf = (x: RawAnswer) => (x.status === 200 ? 'ok' : (/<tns:code>(\w+)</.exec(x.body.toString())?.[1] ?? String(x.status)));
  const idOf = (x: RawAnswer) => /<(?:taskId|jobId)>([^<]+)</.exec(x.body.toString())?.[1];
  const [ca, cb] = [codeOf(a), codeOf(b)];
  if (op === 'doOperation' || op === 'createDeployments' || op === 'doBulkOperation') {
    if (ca !== cb || (ca === 'ok' && idOf(a) === idOf(b))) return `[${c.kind}] the same request sent twice at once got ${ca} ${idOf(a) ?? ''} and ${cb} ${idOf(b) ?? ''}\n    input: ${preview(c.req.body, 2000)}`;
  }
  return undefined;
}

async function sendAndJudge(c: SoapCase): Promise<string | undefined> {
  tally.add(c.kind.replace(/:.*$/, ''));
  let a: RawAnswer;
  try {
    a = await client.send(c.req);
  } catch (err) {
    recordShadow(c, undefined);
    const file = saveRepro('soap-no-answer', c.req);
    return `[${c.kind}] ${err instanceof NoAnswer ? err.message : String(err)}; input saved to ${file}: ${preview(c.req.body)}`;
  }
  answerMs.push(a.ms);
  if (c.budgetMs !== undefined) budgetedMs.push(a.ms);
  if (c.twin) twinAnswers.set(c, [...(twinAnswers.get(c) ?? []), a]);
  msByKind.add(c.kind.split(':').slice(0, 2).join(':').replace(/#\d+$/, ''), Math.round(a.ms));
  statuses.add(String(a.status));
  recordShadow(c, a);
  const problems = judge(c, a);
  if (problems.length === 0) return undefined;
  const file = saveRepro('soap', c.req);
  return `[${c.kind}] ${problems.join('; ')}\n    input (${file}): ${preview(c.req.body)}\n    answer ${a.status}: ${preview(a.body, 600)}`;
}

// ---- the properties ---------------------------------------------------------------------------

describe('SOAP endpoints under 10,000 generated hostile requests', () => {
  it('answer every one with a result envelope or a typed SOAP Fault, never Internal, never a stack trace', async () => {
    // Warm up (JIT, pools, caches) before the baseline, so the figure measures the fuzz, not start-up.
    const warm = fc.sample(soapCases(world), { seed: SEED ^ 0xffff, numRuns: 256 });
    // (Their device ids stay in the shadow model: a warm-up create may own an id a later request repeats.)
    await Promise.all(warm.map((c) => client.send(c.req).then((a) => recordShadow(c, a), () => recordShadow(c, undefined))));
    tally.counts.clear();
    statuses.counts.clear();
    codes.counts.clear();
    okByOperation.counts.clear();
    createdIds.clear();
    answerMs.length = 0;
    budgetedMs.length = 0;
    auditFrom = Number((await gw.dataSource.query('SELECT max(id) AS m FROM audit_log'))[0]?.m ?? 0);
    baseline = await settledMemory(gc);

    const started = performance.now();
    const cpu = process.cpuUsage();
    await fc.assert(
      fc.asyncProperty(fc.array(soapCases(world), { minLength: IN_FLIGHT, maxLength: IN_FLIGHT }), async (batch) => {
        const sends = batch.flatMap((c) => (c.twin ? [c, c] : [c]));
        const problems = (await Promise.all(sends.map(sendAndJudge))).filter((p): p is string => p !== undefined);
        for (const c of batch) {
          const p = c.twin ? judgeTwin(c) : undefined;
          if (p) problems.push(p);
        }
        if (problems.length) throw new Error(`${problems.length} of ${sends.length} answers are wrong:\n  ${problems.slice(0, 5).join('\n  ')}`);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const cpuSeconds = (used.user + used.system) / 1e6;
    answerMs.sort((x, y) => x - y);
    const pct = (p: number) => answerMs[Math.min(answerMs.length - 1, Math.floor(answerMs.length * p))]?.toFixed(1);
    console.log(
      [
        `SOAP fuzz: ${tally.total} requests in ${seconds.toFixed(1)} s, ${cpuSeconds.toFixed(1)} s CPU of this process (gateway and client; seed ${SEED}, ${RUNS} runs x ${IN_FLIGHT} in flight); answer ms p50 ${pct(0.5)} p99 ${pct(0.99)} max ${pct(1)}`,
        'by kind:',
        tally.table(),
        'by HTTP status:',
        statuses.table(),
        'faults by code:',
        codes.table(),
        'answer time by kind (ms, summed over requests in flight):',
        msByKind.table().split('\n').slice(0, 12).join('\n'),
        'results by operation (HTTP 200):',
        okByOperation.table(),
        `requests with a ${PATHOLOGICAL_BUDGET_MS} ms budget (pathological runs, re-encoded nonces): ${budgetedMs.length}, slowest answer ${Math.max(0, ...budgetedMs).toFixed(0)} ms`,
      ].join('\n'),
    );
    expect(tally.total).toBeGreaterThanOrEqual(RUNS * IN_FLIGHT);
  }, 300_000);

  it('logs no gateway error (an error line means an input reached an unexpected failure)', () => {
    expect(logs.errors.map((e) => ({ msg: e.msg, err: errMessage(e), operation: e.operation }))).toEqual([]);
    expect(logs.errorCount).toBe(logs.errors.length);
  });

  it('is still up and serving valid requests afterwards', async () => {
    expect((await client.send({ method: 'GET', path: '/healthz', headers: {}, body: Buffer.alloc(0) })).status).toBe(200);
    const a = await client.send({
      path: '/dmwsi/DeviceManager',
      headers: xmlHeaders(),
      body: Buffer.from(wrap(`<t:getDeviceInstances><t:userSession>${world.token}</t:userSession><t:offset>0</t:offset><t:limit>5</t:limit></t:getDeviceInstances>`, '', plainDialect)),
    });
    expect(a.status).toBe(200);
    expect(a.body.toString()).toContain('<getDeviceInstancesResponse');
  });

  it('returns the heap to near its baseline', async () => {
    // Let queued background work (task jobs of accepted operations) drain first.
    await new Promise((r) => setTimeout(r, 1000));
    const after = await settledMemory(gc);
    const growth = after.heapUsedMiB - baseline.heapUsedMiB;
    console.log(
      `SOAP fuzz memory (forced full GC): heapUsed ${fmtMiB(baseline.heapUsedMiB)} -> ${fmtMiB(after.heapUsedMiB)} (${growth >= 0 ? '+' : ''}${fmtMiB(growth)}, limit +${HEAP_GROWTH_LIMIT_MIB} MiB); ` +
        `rss ${fmtMiB(baseline.rssMiB)} -> ${fmtMiB(after.rssMiB)}; external+arrayBuffers ${fmtMiB(baseline.externalMiB)} -> ${fmtMiB(after.externalMiB)}`,
    );
    expect(growth).toBeLessThan(HEAP_GROWTH_LIMIT_MIB);
  });

  it('keeps the registry whole: no half-written device, every row valid, audit rows match the successful writes', async () => {
    const ds = gw.dataSource;
    // The shadow model: a fresh id no request got a 200 for must not exist; one an unmutated create got a 200 for must.
    const rows: { device_id: string }[] = await ds.query('SELECT device_id FROM device_instance');
    const present = new Set(rows.map((r) => r.device_id));
    const ghosts = [...shadow.entries()].filter(([id, s]) => !s.anyOk && present.has(id)).map(([id, s]) => `${id} (${s.carriers.join(', ')})`);
    const lost = [...shadow.entries()].filter(([id, s]) => s.mustExist && !present.has(id)).map(([id]) => id);
    expect({ ghosts, lost }).toEqual({ ghosts: [], lost: [] });
    expect([...shadow.values()].filter((s) => s.mustExist).length).toBeGreaterThan(0);

    // Every row passes the domain's own validation and points at a capability that exists.
    const caps = await gw.deviceManager.getDeviceCapabilities({ offset: 0, limit: 1000 });
    const capProblems = caps.flatMap((c) => deviceCapabilityProblems(c).map((p) => `${c.oid}: ${p.field} ${p.message}`));
    const oids = new Set(caps.map((c) => c.oid));
    const devProblems: string[] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = await gw.deviceManager.getDeviceInstances({ offset, limit: 1000 });
      for (const d of page) {
        for (const p of deviceInstanceProblems(d)) devProblems.push(`${d.deviceId}: ${p.field} ${p.message}`);
        if (!oids.has(d.capabilityOid)) devProblems.push(`${d.deviceId}: capability ${d.capabilityOid} does not exist`);
      }
      if (page.length < 1000) break;
    }
    expect({ capProblems, devProblems }).toEqual({ capProblems: [], devProblems: [] });

    // One audit row per successful write, no more, no less (the creating operations are
    // idempotent by content: a repeat answers the first task/job id and writes nothing).
    const audited: { operation: string; n: number }[] = await ds.query(
      "SELECT operation, count(*) AS n FROM audit_log WHERE outcome = 'ok' AND id > ? GROUP BY operation",
      [auditFrom],
    );
    const auditOk = Object.fromEntries(audited.map((r) => [r.operation, Number(r.n)]));
    const counted = ['createDeviceInstance', 'updateDeviceInstance', 'deleteDeviceInstance', 'createDeviceCapability', 'updateDeviceCapability', 'importDeviceInstances'];
    expect(counted.map((op) => ({ op, audited: auditOk[op] ?? 0 }))).toEqual(counted.map((op) => ({ op, audited: okByOperation.counts.get(op) ?? 0 })));
    // Each task/job id answered has exactly one audit row (written by its first request, maybe in the warm-up),
    // and every audit row of the run names an id that was answered.
    const rowsOf = async (op: string): Promise<{ id: number; target: string }[]> =>
      ds.query("SELECT id, target FROM audit_log WHERE outcome = 'ok' AND operation = ?", [op]);
    for (const op of ['doOperation', 'doBootstrap', 'createDeployments', 'doBulkOperation']) {
      const rows = await rowsOf(op);
      const answered = createdIds.get(op) ?? new Set<string>();
      const idOf = (target: string) => /(?:task|job) ([\w-]+)/.exec(target)?.[1] ?? target;
      const unaudited = [...answered].filter((id) => rows.filter((r) => idOf(r.target) === id).length !== 1);
      const unanswered = rows.filter((r) => r.id > auditFrom && !answered.has(idOf(r.target))).map((r) => r.target);
      expect({ op, unaudited, unanswered }).toEqual({ op, unaudited: [], unanswered: [] });
    }

    // Tasks and jobs: known states, and job counters that add up.
    const tasks: { status: string }[] = await ds.query('SELECT status FROM task');
    expect(tasks.filter((t) => !(TASK_STATES as readonly string[]).includes(t.status))).toEqual([]);
    const jobs: Record<string, number | string>[] = await ds.query('SELECT * FROM job');
    const broken = jobs.filter((j) => {
      const sum = ['queued', 'notifying', 'in_session', 'scheduled', 'completed', 'failed', 'missed', 'cancelled', 'expired'].reduce((s, k) => s + Number(j[k]), 0);
      return sum !== Number(j.total) || !(JOB_STATES as readonly string[]).includes(String(j.status));
    });
    expect(broken).toEqual([]);
    const integrity: { integrity_check: string }[] = await ds.query('PRAGMA integrity_check');
    expect(integrity[0]?.integrity_check).toBe('ok');
    console.log(
      `SOAP fuzz registry: ${present.size} devices, ${caps.length} capabilities, ${tasks.length} tasks, ${jobs.length} jobs; shadow model ${shadow.size} fresh ids (${[...shadow.values()].filter((s) => s.anyOk).length} with a 200, ${[...shadow.values()].filter((s) => s.mustExist).length} that must exist)`,
    );
  });
});
