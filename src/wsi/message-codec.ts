/**
 * Turns the parsed request (soap-envelope.ts: every simple value as text)
 * into validated, typed values, and typed results into response XML, both
 * driven by the contract description (contract/schema.ts).
 */
import { invalidArgument } from '../domain/errors.js';
import { COMPLEX_TYPES, type FieldSpec, type SimpleType } from './contract/schema.js';

/** Keys of the parsed shape that are not elements (soap-envelope.ts). */
const NON_ELEMENT_KEYS = new Set(['attributes', '$value']);

// The expressions of this module are linear: anchored and bounded (INT, LONG, DATE_TIME) or one
// character class with one-character lookarounds (NOT_XML_CHAR, NEEDS_ESCAPE, ESCAPED).
const INT = /^[+-]?\d{1,10}$/;
/** Outside XML 1.0's Char production (control characters, U+FFFE/FFFF, lone surrogates): no strict client could read them back. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding the control characters XML forbids is the point.
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONG = /^[+-]?\d{1,16}$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$/;

function isSimple(t: FieldSpec['type']): t is SimpleType {
  return !(t in COMPLEX_TYPES);
}

/** The text of a simple element as the parser gives it ('' for an empty element). */
function textOf(v: unknown, path: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('$value' in o) return textOf(o.$value, path);
    if (Object.keys(o).every((k) => NON_ELEMENT_KEYS.has(k))) return '';
  }
  throw invalidArgument(path, 'must be a simple value, not a structure');
}

function decodeSimple(type: SimpleType, v: unknown, path: string, maxLength?: number): unknown {
  const text = textOf(v, path);
  switch (type) {
    case 'string':
      if (NOT_XML_CHAR.test(text)) throw invalidArgument(path, 'contains characters XML 1.0 does not allow');
      if (maxLength !== undefined && text.length > maxLength) {
        throw invalidArgument(path, `is longer than ${maxLength} characters`);
      }
      return text;
    case 'int': {
      const t = text.trim();
      const n = Number(t);
      if (!INT.test(t) || n < -2147483648 || n > 2147483647) throw invalidArgument(path, `"${t.slice(0, 32)}" is not an int`);
      return n;
    }
    case 'long': {
      const t = text.trim();
      if (!LONG.test(t)) throw invalidArgument(path, `"${t.slice(0, 32)}" is not a long`);
      return Number(t);
    }
    case 'boolean': {
      const t = text.trim();
      if (t === 'true' || t === '1') return true;
      if (t === 'false' || t === '0') return false;
      throw invalidArgument(path, `"${t.slice(0, 32)}" is not a boolean (true, false, 1 or 0)`);
    }
    case 'dateTime':
    case 'dateTimeText': {
      const t = text.trim();
      const m = DATE_TIME.exec(t);
      if (!m || !validParts(m)) throw invalidArgument(path, `"${t.slice(0, 40)}" is not an xsd:dateTime`);
      if (type === 'dateTimeText') return t;
      // No zone given: read as UTC (documented in the README).
      return new Date(m[8] ? t : `${t}Z`);
    }
  }
}

function validParts(m: RegExpExecArray): boolean {
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  // No leap second (Date cannot hold one) and no day the month does not have.
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth && h <= 23 && mi <= 59 && s <= 59;
}

function decodeValue(f: FieldSpec, v: unknown, path: string): unknown {
  return isSimple(f.type) ? decodeSimple(f.type, v, path, f.maxLength) : decodeFields(COMPLEX_TYPES[f.type], v, path);
}

/** Validates and converts a structure; rejects unknown and missing elements. */
export function decodeFields(fields: readonly FieldSpec[], raw: unknown, path = ''): Record<string, unknown> {
  const obj: Record<string, unknown> =
    raw === undefined || raw === null || raw === '' ? {} : typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  if (typeof raw !== 'object' && raw !== undefined && raw !== null && raw !== '') {
    throw invalidArgument(path || 'body', 'must be a structure');
  }
  const at = (name: string) => (path ? `${path}.${name}` : name);
  for (const key of Object.keys(obj)) {
    if (!NON_ELEMENT_KEYS.has(key) && !fields.some((f) => f.name === key)) {
      throw invalidArgument(at(key), 'is not an element of this message');
    }
  }
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = obj[f.name];
    if (v === undefined) {
      if (!f.optional && !f.repeated) throw invalidArgument(at(f.name), 'is required');
      if (f.repeated) out[f.name] = [];
      continue;
    }
    if (f.repeated) {
      const list = Array.isArray(v) ? v : [v];
      out[f.name] = list.map((item, i) => decodeValue(f, item, `${at(f.name)}[${i + 1}]`));
    } else {
      if (Array.isArray(v)) throw invalidArgument(at(f.name), 'may appear only once');
      out[f.name] = decodeValue(f, v, at(f.name));
    }
  }
  return out;
}

function shapeValue(f: FieldSpec, v: unknown): unknown {
  if (!isSimple(f.type)) return shapeFields(COMPLEX_TYPES[f.type], v as Record<string, unknown>);
  if (v instanceof Date) return v.toISOString();
  return v;
}

/** Orders keys as the schema does (the serialiser writes them in key order) and drops empty optionals. */
export function shapeFields(fields: readonly FieldSpec[], value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = value[f.name];
    if (v === undefined || v === null) continue;
    if (f.repeated) {
      const list = v as unknown[];
      if (list.length > 0) out[f.name] = list.map((item) => shapeValue(f, item));
    } else {
      out[f.name] = shapeValue(f, v);
    }
  }
  return out;
}

// --- response serialisation ---------------------------------------------
//
// Writes a response body straight from the contract, instead of the `soap`
// package's objectToDocumentXML, which walks its parsed WSDL schema for each
// element (~4% of the gateway's CPU on getDeviceInstanceByDeviceID). The
// bytes are the same as the package wrote (test/unit/wsi/response-xml.test.ts
// compares the two), with one difference: text that looks like a CDATA section
// is escaped like any other text, where the package copied it through raw
// (a stored value could have injected elements into a response).

const TEXT_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\t': '&#x9;',
  '\r': '&#xD;',
  '\n': '&#xA;',
};
const NEEDS_ESCAPE = /[&<>"'\t\r\n]/;
const ESCAPED = /[&<>"'\t\r\n]/g;

/** Element text as the `soap` package escaped it (tab, CR and LF as character references, so they survive parsing). */
export function escapeText(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPED, (c) => TEXT_ESCAPES[c]!) : s;
}

function simpleText(v: unknown): string {
  if (typeof v === 'string') return escapeText(v);
  if (v instanceof Date) return v.toISOString();
  return escapeText(String(v));
}

function writeValue(f: FieldSpec, v: unknown): string {
  const inner = isSimple(f.type) ? simpleText(v) : writeFields(COMPLEX_TYPES[f.type], v as Record<string, unknown>);
  return `<${f.name}>${inner}</${f.name}>`;
}

/**
 * The elements of a structure in schema order (unqualified names: the caller
 * declares the default namespace on the enclosing element); empty optionals and
 * empty lists are left out, as shapeFields does.
 */
export function writeFields(fields: readonly FieldSpec[], value: Record<string, unknown>): string {
  let out = '';
  for (const f of fields) {
    const v = value[f.name];
    if (v === undefined || v === null) continue;
    if (f.repeated) {
      for (const item of v as unknown[]) out += writeValue(f, item);
    } else {
      out += writeValue(f, v);
    }
  }
  return out;
}
