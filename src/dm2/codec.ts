/**
 * The DM 2.0 JSON codec: pure functions from request bytes to a typed
 * package, and from a command list to response bytes. Strict: anything the
 * notes do not describe (an unknown property, a wrong type, a status code
 * out of range) is refused with a `Dm2DecodeError`, never guessed at; a
 * Generic Alert of an unknown type is not an error (the server ignores it).
 */
import {
  DM1X_WRAPPER,
  KEY,
  MARKS,
  MEDIA_PACKAGE1,
  MEDIA_PACKAGE2,
  MEDIA_PACKAGE3,
} from './constants.js';
import type { ClientPackage, Dm2Alert, Dm2Command, Dm2MoEntry, Dm2Status, Package1, Package3 } from './types.js';

export type Dm2DecodeReason = 'unsupported-media-type' | 'malformed-json' | 'invalid-package';

export class Dm2DecodeError extends Error {
  override readonly name = 'Dm2DecodeError';
  constructor(
    readonly reason: Dm2DecodeReason,
    message: string,
  ) {
    super(message);
  }
}

/** Longest string accepted in any field (URIs, alert data); the body cap bounds the rest. */
const MAX_TEXT = 64 * 1024;
/** Longest alert type and URI (what the alert record holds: device_alert.alert_type, .source). */
const MAX_TYPE = 256;
const MAX_URI = 1024;
/** Most entries in one list (statuses, alerts, MOS, MIIDs). */
const MAX_ENTRIES = 10_000;

/** The media type without parameters, lower-cased. */
export function mediaTypeOf(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** Decodes a client POST: Package#1 or Package#3, told apart by media type. */
export function parseClientPackage(body: Buffer, contentType: string): ClientPackage {
  const media = mediaTypeOf(contentType);
  if (media !== MEDIA_PACKAGE1 && media !== MEDIA_PACKAGE3) {
    throw new Dm2DecodeError('unsupported-media-type', `expected ${MEDIA_PACKAGE1} or ${MEDIA_PACKAGE3}, got "${media}"`);
  }
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new Dm2DecodeError('malformed-json', 'the body is not JSON');
  }
  return media === MEDIA_PACKAGE1 ? readPackage1(value) : readPackage3(value);
}

export function encodePackage2(commands: readonly Dm2Command[]): Buffer {
  return Buffer.from(JSON.stringify({ [KEY.cmd]: commands }));
}

export const PACKAGE2_CONTENT_TYPE = MEDIA_PACKAGE2;

// ---- readers ------------------------------------------------------------------

const invalid = (message: string) => new Dm2DecodeError('invalid-package', message);

function readPackage1(v: unknown): Package1 {
  const o = object(v, 'Package#1');
  onlyKeys(o, [KEY.mos, KEY.alert], 'Package#1');
  const mos = o[KEY.mos] === undefined ? [] : list(o[KEY.mos], KEY.mos).map((m, i) => readMo(m, `${KEY.mos}[${i}]`));
  const alerts = o[KEY.alert] === undefined ? [] : list(o[KEY.alert], KEY.alert).map((a, i) => readAlert(a, `${KEY.alert}[${i}]`));
  return { kind: 'package1', mos, alerts };
}

function readPackage3(v: unknown): Package3 {
  const o = object(v, 'Package#3');
  onlyKeys(o, [KEY.status, KEY.alert], 'Package#3');
  if (o[KEY.status] === undefined) throw invalid(`Package#3 has no ${KEY.status} list`);
  const statuses = list(o[KEY.status], KEY.status).map((s, i) => readStatus(s, `${KEY.status}[${i}]`));
  const alerts = o[KEY.alert] === undefined ? [] : list(o[KEY.alert], KEY.alert).map((a, i) => readAlert(a, `${KEY.alert}[${i}]`));
  return { kind: 'package3', statuses, alerts };
}

function readMo(v: unknown, at: string): Dm2MoEntry {
  const o = object(v, at);
  onlyKeys(o, [KEY.ddf, KEY.moid, KEY.miid], at);
  const moid = text(o[KEY.moid], `${at}.${KEY.moid}`);
  const miid = o[KEY.miid] === undefined ? [] : list(o[KEY.miid], `${at}.${KEY.miid}`).map((m, i) => text(m, `${at}.${KEY.miid}[${i}]`, true));
  return { moid, miid, ...(o[KEY.ddf] !== undefined ? { ddf: text(o[KEY.ddf], `${at}.${KEY.ddf}`) } : {}) };
}

function readStatus(v: unknown, at: string): Dm2Status {
  const o = object(v, at);
  onlyKeys(o, [KEY.statusCode, KEY.statusUris, KEY.data, KEY.dataType], at);
  const sc = o[KEY.statusCode];
  if (typeof sc !== 'number' || !Number.isInteger(sc) || sc < 100 || sc > 599) {
    throw invalid(`${at}.${KEY.statusCode} must be an integer status code 100-599`);
  }
  const status: Dm2Status = { sc };
  if (o[KEY.statusUris] !== undefined) {
    status.uris = list(o[KEY.statusUris], `${at}.${KEY.statusUris}`).map((u, i) => text(u, `${at}.${KEY.statusUris}[${i}]`));
  }
  if (o[KEY.data] !== undefined) status.data = text(o[KEY.data], `${at}.${KEY.data}`, true);
  if (o[KEY.dataType] !== undefined) status.dataType = text(o[KEY.dataType], `${at}.${KEY.dataType}`);
  return status;
}

function readAlert(v: unknown, at: string): Dm2Alert {
  const o = object(v, at);
  onlyKeys(o, [KEY.alertType, KEY.sourceUri, KEY.targetUri, KEY.mark, KEY.dataType, KEY.data, KEY.notificationId], at);
  const alert: Dm2Alert = { alertType: text(o[KEY.alertType], `${at}.${KEY.alertType}`, false, MAX_TYPE) };
  if (o[KEY.sourceUri] !== undefined) alert.sourceUri = text(o[KEY.sourceUri], `${at}.${KEY.sourceUri}`, false, MAX_URI);
  if (o[KEY.targetUri] !== undefined) alert.targetUri = text(o[KEY.targetUri], `${at}.${KEY.targetUri}`, false, MAX_URI);
  if (o[KEY.mark] !== undefined) {
    const mark = text(o[KEY.mark], `${at}.${KEY.mark}`);
    if (!MARKS.includes(mark)) throw invalid(`${at}.${KEY.mark} must be one of ${MARKS.join(', ')}`);
    alert.mark = mark;
  }
  if (o[KEY.dataType] !== undefined) alert.dataType = text(o[KEY.dataType], `${at}.${KEY.dataType}`);
  const data = o[KEY.data];
  if (data !== undefined) {
    // Seed 001 §5.4: DataType MUST be present when Data is.
    if (alert.dataType === undefined) throw invalid(`${at}.${KEY.dataType} is required with ${KEY.data}`);
    if (typeof data === 'string') alert.data = text(data, `${at}.${KEY.data}`, true);
    else {
      const wrapped = object(data, `${at}.${KEY.data}`);
      onlyKeys(wrapped, [DM1X_WRAPPER], `${at}.${KEY.data}`);
      alert.data = dm1xText(wrapped[DM1X_WRAPPER], `${at}.${KEY.data}.${DM1X_WRAPPER}`);
      alert.dm1x = true;
    }
  }
  if (o[KEY.notificationId] !== undefined) {
    const id = o[KEY.notificationId];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffff) {
      throw invalid(`${at}.${KEY.notificationId} must be an integer 0-65535`);
    }
    alert.notificationId = id;
  }
  return alert;
}

/**
 * DM 1.x Generic Alert content: a string (the 1226 Item's Data) or a number
 * (a result code) is read as its text; anything else (an object, e.g. a
 * whole 1.x Item) as its JSON text, bounded like any field.
 */
function dm1xText(v: unknown, at: string): string {
  if (typeof v === 'string') return text(v, at, true);
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (v === undefined) throw invalid(`${at} is missing`);
  const json = JSON.stringify(v);
  if (json.length > MAX_TEXT) throw invalid(`${at} is longer than ${MAX_TEXT} characters`);
  return json;
}

// ---- shape helpers ------------------------------------------------------------

function object(v: unknown, at: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`${at} must be an object`);
  return v as Record<string, unknown>;
}

function list(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw invalid(`${at} must be an array`);
  if (v.length > MAX_ENTRIES) throw invalid(`${at} has more than ${MAX_ENTRIES} entries`);
  return v;
}

function text(v: unknown, at: string, emptyAllowed = false, max = MAX_TEXT): string {
  if (typeof v !== 'string') throw invalid(`${at} must be a string`);
  if (!emptyAllowed && v === '') throw invalid(`${at} must not be empty`);
  if (v.length > max) throw invalid(`${at} is longer than ${max} characters`);
  return v;
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], at: string): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) throw invalid(`${at} has an unknown property ${JSON.stringify(key.slice(0, 64))}`);
  }
}
