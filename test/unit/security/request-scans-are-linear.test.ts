/**
 * Every scan of request input (SOAP envelopes and fields, DM messages, headers
 * and LocURIs) on the input shapes that make backtracking expressions
 * quadratic or worse: long runs of one character that almost match. Each
 * call gets 200 KB to 1 MB and must return within a time budget a linear scan
 * meets with a wide margin even on a loaded machine, and a quadratic one
 * misses by orders of magnitude (the old `MULTI_REF` pre-filter: 80 KB of `<`
 * took 4.5 s; the old sameUri: 40,000 slashes 1.6 s).
 */
import { describe, expect, it } from 'vitest';
import { parseHmacHeader, parseBasicCredential, decodeNonce } from '../../../src/dm/auth/credentials.js';
import { parseBootstrapContentType } from '../../../src/dm/bootstrap/security.js';
import { decodeXml } from '../../../src/dm/codec/xml-codec.js';
import { normalizeAlertType } from '../../../src/dm/session/generic-alert.js';
import { sameUri } from '../../../src/dm/session/tracking.js';
import { canonicalDeviceId, deviceIdProblem, phoneNumberProblem, typeAllocationCode } from '../../../src/domain/device-id.js';
import { parseScheduleTime } from '../../../src/domain/operation-validation.js';
import { deviceCapabilityProblems, deviceInstanceProblems } from '../../../src/domain/registry-validation.js';
import type { FieldSpec } from '../../../src/wsi/contract/schema.js';
import { decodeFields, escapeText } from '../../../src/wsi/message-codec.js';
import { readSoapEnvelope } from '../../../src/wsi/soap-envelope.js';
import { parseScomoResultData } from '../../../src/dm/mo/scomo.js';
import { usernameToken } from '../../../src/wsi/ws-security.js';
import { escapeXml } from '../../../src/wsi/xml-escape.js';

const KB = 1024;
const MB = 1024 * KB;
/** Per call. A linear scan of 1 MB takes a few ms; a quadratic one of 200 KB takes seconds. */
const BUDGET_MS = 400;

function within(what: string, f: () => unknown): void {
  const started = performance.now();
  try {
    f();
  } catch {
    // Refusing the input is fine; only the time matters here.
  }
  const ms = performance.now() - started;
  expect({ what, slow: ms > BUDGET_MS }, `${what}: ${ms.toFixed(0)} ms`).toEqual({ what, slow: false });
}

const run = (unit: string, bytes: number) => unit.repeat(Math.ceil(bytes / unit.length));

/** Pathological XML shapes: runs of '<', '=', quotes, attributes, entity starts, markup openers. */
const XML_SHAPES: Record<string, string> = {
  '<': run('<', MB),
  '<a': run('<a', MB),
  '</': `<a>${run('</', MB)}`,
  '= in a tag': `<a ${run('=', MB)}>`,
  '" in a tag': `<a b=${run('"', MB)}>`,
  "b=' in a tag": `<a ${run("b='", MB)}>`,
  'attributes': `<a ${run('b="c" ', MB)}/>`,
  'distinct attributes': `<a ${Array.from({ length: 60_000 }, (_, i) => `a${i}="${i}"`).join(' ')}/>`,
  'namespace declarations': `<a ${Array.from({ length: 40_000 }, (_, i) => `xmlns:p${i}="urn:${i}"`).join(' ')}/>`,
  '&': `<a>${run('&', MB)}</a>`,
  '&#x': `<a>${run('&#x', MB)}</a>`,
  '<!': run('<!', MB),
  '<!--': `<a>${run('<!--', MB)}`,
  '<?': run('<?', MB),
  '<![CDATA[': `<a>${run('<![CDATA[', MB)}`,
  'CR': `<a>${run('\r', MB)}</a>`,
  'nested': run('<a>', MB),
};

const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
const inBody = (xml: string) => `<e:Envelope xmlns:e="${SOAP_ENV}"><e:Body>${xml}</e:Body></e:Envelope>`;

describe('SOAP envelope reading (soap-envelope.ts over xml-scanner.ts)', () => {
  it.each(Object.entries(XML_SHAPES))('reads or refuses 1 MB of %s in linear time', (shape, xml) => {
    within(`envelope: ${shape}`, () => readSoapEnvelope(xml));
    within(`envelope body: ${shape}`, () => readSoapEnvelope(inBody(xml)));
  });

  it('reads a Body element with 60,000 attributes and 100,000 children in linear time', () => {
    const attrs = Array.from({ length: 60_000 }, (_, i) => ` a${i}="v"`).join('');
    within('attributes', () => readSoapEnvelope(inBody(`<t:op xmlns:t="urn:dmwsi-gateway:1.0"${attrs}/>`)));
    within('children', () => readSoapEnvelope(inBody(`<t:op xmlns:t="urn:dmwsi-gateway:1.0">${run('<t:x>1</t:x>', MB)}</t:op>`)));
  });
});

describe('SOAP field validation (message-codec.ts, ws-security.ts)', () => {
  const fields: FieldSpec[] = [{ name: 'v', type: 'string' }];
  const typed = (type: FieldSpec['type']): FieldSpec[] => [{ name: 'v', type }];
  it.each([
    ['int', `${run('1', 256 * KB)}x`],
    ['long', `+${run('1', 256 * KB)}x`],
    ['dateTime', `2030-01-01T00:00:00.${run('1', 256 * KB)}x`],
    ['dateTime', `${run('2030-01-01T', 256 * KB)}`],
    ['boolean', run(' ', 256 * KB)],
  ] as const)('checks a 256 KB %s in linear time', (type, text) => {
    within(type, () => decodeFields(typed(type), { v: text }));
  });

  it('checks and escapes 1 MB strings in linear time', () => {
    within('surrogate pairs', () => decodeFields(fields, { v: `${run('\uD800\uDC00', MB)}\uD800` }));
    within('lone low surrogates', () => decodeFields(fields, { v: run('a\uDC00', MB) }));
    within('escape', () => escapeText(run('<&"\'\t\r\n', MB)));
    within('fault text escape', () => escapeXml(run('<&"\'\u0001\uFFFF', MB)));
  });

  it('reads a 300 KB Password Type in linear time', () => {
    const type = `${run('#PasswordDigest', 300 * KB)}x`;
    within('Password Type', () => usernameToken({ Security: { UsernameToken: { Username: 'u', Password: { $value: 'p', attributes: { Type: type } } } } }));
  });
});

describe('registry and operation validation (src/domain)', () => {
  it.each([
    ['IMEI with a line break', `IMEI:${run('1', 256 * KB)}\nx`],
    ['MEID with a line break', `MEID:${run('A', 256 * KB)}\nx`],
    ['scheme:value', `a:${run('!', 256 * KB)} `],
    ['scheme run', `${run('a', 256 * KB)}:x`],
  ])('checks a device id (%s) in linear time', (_what, id) => {
    within('deviceIdProblem', () => deviceIdProblem(id));
    within('canonicalDeviceId', () => canonicalDeviceId(id));
    within('typeAllocationCode', () => typeAllocationCode(id));
  });

  it('checks phone numbers, oids, sseRoots, attribute names and printable text in linear time', () => {
    within('phone', () => phoneNumberProblem(`+${run('1', 256 * KB)}x`));
    const device = { deviceId: 'IMEI:490154203237518', phoneNumber: '+15550001', capabilityOid: `${run('a', 256 * KB)} ` };
    within('oid', () => deviceInstanceProblems(device));
    within('attribute name', () => deviceInstanceProblems({ ...device, capabilityOid: 'c', attributes: { [`${run('a', 256 * KB)} `]: 'v' } }));
    within('printable', () => deviceInstanceProblems({ ...device, capabilityOid: 'c', clientPassword: `${run('p', MB)}\u0001` }));
    const cap = { make: 'm', model: 'x', firmwareVersion: '1', dmVersion: '1.2' as const };
    within('sseRoot', () => deviceCapabilityProblems({ ...cap, sseRoot: `.${run('/a', 256 * KB)}/ ` }));
  });

  it('reads a schedule time with a 256 KB fraction in linear time', () => {
    within('atTime', () => parseScheduleTime(`2030-01-01T00:00:00.${run('1', 256 * KB)}x`));
  });
});

describe('DM message and header scans (src/dm)', () => {
  it.each(Object.entries(XML_SHAPES))('decodes or refuses 1 MB of %s in linear time', (shape, xml) => {
    within(`SyncML: ${shape}`, () => decodeXml(Buffer.from(xml)));
    within(`SyncML in a SyncHdr: ${shape}`, () => decodeXml(Buffer.from(`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr>${xml}</SyncHdr></SyncML>`)));
  });

  it('reads an XML declaration of runs in linear time', () => {
    within('encoding', () => decodeXml(Buffer.from(`<?xml ${run(' encoding =', MB)}?><SyncML/>`)));
  });

  it.each([
    ['unterminated quote', `username="${run('b', 256 * KB)}`],
    ['quote after a token', `username=${run('b', 256 * KB)}"`],
    ['backslashes', `username="${run('\\\\', 256 * KB)}`],
    ['spaces', `username=${run(' ', 256 * KB)}b"`],
    ['name run', run('a', 256 * KB)],
    ['parameters', run('mac=a, ', 256 * KB)],
  ])('parses an x-syncml-hmac header (%s) in linear time', (_what, header) => {
    within('hmac', () => parseHmacHeader(header));
  });

  it('reads base64 credentials and nonces, alert types, LocURIs and bootstrap content types in linear time', () => {
    within('basic credential', () => parseBasicCredential(`${run('A', MB)}!`));
    within('nonce', () => decodeNonce(`${run('AAAA', MB)}A=!`));
    within('alert type', () => normalizeAlertType(`${run(' ', 256 * KB)}x`));
    within('alert type prefix', () => normalizeAlertType(`Content-Type${run(' ', 256 * KB)}x`));
    within('LocURI trailing slashes', () => sameUri(`./${run('/', 256 * KB)}x`, './x'));
    within('LocURI leading', () => sameUri(run('./', 256 * KB), '.'));
    within('bootstrap content type', () => parseBootstrapContentType(`application/vnd.syncml.dm+wbxml; MAC="${run('a', 256 * KB)}`));
    within('bootstrap parameters', () => parseBootstrapContentType(`application/vnd.syncml.dm+wbxml${run('; a=', 256 * KB)}`));
  });
});

describe('FUMO/SCOMO alert Data (src/dm/mo)', () => {
  it('reads SCOMO result Data with long runs of spaces, tags and escapes in linear time', () => {
    for (const [name, data] of Object.entries({
      'spaces after ResultCode': `<ResultCode>${run(' ', MB)}`,
      'spaces after Identifier': `<ResultCode>1200</ResultCode><Identifier>${run(' ', MB)}`,
      'open tags': run('<ResultCode>', MB),
      'escaped open tags': run('&lt;ResultCode&gt;', MB),
    })) {
      within(name, () => parseScomoResultData(data));
    }
  });
});
