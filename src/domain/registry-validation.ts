/**
 * Field-level validation of registry input. Returns problems as values so the
 * CSV import can report them per row; single-record calls throw the first one.
 */
import { canonicalDeviceId, deviceIdProblem, phoneNumberProblem } from './device-id.js';
import { invalidArgument, type DmwsiError } from './errors.js';
import {
  AUTH_TYPES,
  DM_VERSIONS,
  FUMO_DELIVERIES,
  MAX_PAGE_SIZE,
  type DeviceCapabilityInput,
  type DeviceInstanceInput,
  type Page,
} from './registry.js';

export interface FieldProblem {
  field: string;
  message: string;
}

// Request-facing expressions below are linear: anchored, one pass, no nested or overlapping quantifier
// (DEVICE_URI's segments are split by '/', which a segment cannot hold; test/unit/security/request-scans-are-linear.test.ts).
const OID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const PRINTABLE = /^[^\p{Cc}]*$/u;
const DEVICE_URI = /^\.(\/[^/\s]+)+$/;

function text(problems: FieldProblem[], field: string, v: string | undefined, max: number, required: boolean): void {
  if (v === undefined || v === '') {
    if (required) problems.push({ field, message: 'is required' });
    return;
  }
  if (v.length > max) problems.push({ field, message: `is longer than ${max} characters` });
  else if (!PRINTABLE.test(v)) problems.push({ field, message: 'contains control characters' });
}

function httpUrl(problems: FieldProblem[], field: string, v: string | undefined): void {
  if (v === undefined || v === '') return;
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push({ field, message: 'must be an http(s) URL' });
    else if (v.length > 512) problems.push({ field, message: 'is longer than 512 characters' });
  } catch {
    problems.push({ field, message: 'is not a valid URL' });
  }
}

function secret(problems: FieldProblem[], field: string, v: string | undefined): void {
  if (v === undefined || v === '') return;
  if (v.length < 8) problems.push({ field, message: 'must have at least 8 characters' });
  else if (v.length > 128) problems.push({ field, message: 'is longer than 128 characters' });
  else if (!PRINTABLE.test(v)) problems.push({ field, message: 'contains control characters' });
}

export function deviceInstanceProblems(input: DeviceInstanceInput): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const idProblem = deviceIdProblem(input.deviceId ?? '');
  if (idProblem) problems.push({ field: 'deviceId', message: idProblem });
  if (!input.phoneNumber) problems.push({ field: 'phoneNumber', message: 'is required' });
  else {
    const p = phoneNumberProblem(input.phoneNumber);
    if (p) problems.push({ field: 'phoneNumber', message: p });
  }
  if (!input.capabilityOid) problems.push({ field: 'capabilityOid', message: 'is required' });
  else if (!OID.test(input.capabilityOid)) problems.push({ field: 'capabilityOid', message: 'is not a valid oid' });
  httpUrl(problems, 'notificationUrl', input.notificationUrl);
  if (input.smsAddress !== undefined && input.smsAddress !== '') {
    const p = phoneNumberProblem(input.smsAddress);
    if (p) problems.push({ field: 'smsAddress', message: p });
  }
  text(problems, 'clientUsername', input.clientUsername, 64, false);
  secret(problems, 'clientPassword', input.clientPassword);
  secret(problems, 'serverPassword', input.serverPassword);
  if (input.authType !== undefined && !(AUTH_TYPES as readonly string[]).includes(input.authType)) {
    problems.push({ field: 'authType', message: `must be one of ${AUTH_TYPES.join(', ')}` });
  }
  const attrs = input.attributes ?? {};
  const names = Object.keys(attrs);
  if (names.length > 64) problems.push({ field: 'attributes', message: 'at most 64 attributes' });
  for (const name of names) {
    // Linear: anchored and bounded.
    if (!/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(name)) {
      problems.push({ field: 'attributes', message: `attribute name "${name.slice(0, 64)}" is not valid` });
    }
    text(problems, `attributes.${name}`, attrs[name], 1024, false);
  }
  return problems;
}

export function normalizeDeviceInput(input: DeviceInstanceInput): DeviceInstanceInput {
  return { ...input, deviceId: canonicalDeviceId(input.deviceId) };
}

export function deviceCapabilityProblems(input: DeviceCapabilityInput): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (input.oid !== undefined && input.oid !== '' && !OID.test(input.oid)) {
    problems.push({ field: 'oid', message: 'must be 1-128 characters of letters, digits and . _ : -' });
  }
  text(problems, 'make', input.make, 128, true);
  text(problems, 'model', input.model, 128, true);
  text(problems, 'firmwareVersion', input.firmwareVersion, 128, true);
  if (!(DM_VERSIONS as readonly string[]).includes(input.dmVersion)) {
    problems.push({ field: 'dmVersion', message: `must be one of ${DM_VERSIONS.join(', ')}` });
  }
  const roots = [
    ['sseRoot', input.sseRoot, './SSE'],
    ['fumoRoot', input.fumoRoot, './FUMO'],
    ['scomoRoot', input.scomoRoot, './SCOMO'],
  ] as const;
  for (const [field, root, example] of roots) {
    if (root !== undefined && root !== '' && (root.length > 255 || !DEVICE_URI.test(root))) {
      problems.push({ field, message: `must be a device URI such as ${example}` });
    }
  }
  if (input.fumoDelivery !== undefined && !(FUMO_DELIVERIES as readonly string[]).includes(input.fumoDelivery)) {
    problems.push({ field: 'fumoDelivery', message: `must be one of ${FUMO_DELIVERIES.join(', ')}` });
  }
  if (input.maxMsgSize !== undefined && (input.maxMsgSize < 512 || input.maxMsgSize > 16 * 1024 * 1024)) {
    problems.push({ field: 'maxMsgSize', message: 'must be from 512 to 16777216 bytes' });
  }
  return problems;
}

export function firstProblem(problems: FieldProblem[]): DmwsiError | undefined {
  const p = problems[0];
  return p ? invalidArgument(p.field, p.message) : undefined;
}

export function validatePage(page: Page): Page {
  if (!Number.isInteger(page.offset) || page.offset < 0) throw invalidArgument('offset', 'must be 0 or more');
  if (!Number.isInteger(page.limit) || page.limit < 1 || page.limit > MAX_PAGE_SIZE) {
    throw invalidArgument('limit', `must be from 1 to ${MAX_PAGE_SIZE}`);
  }
  return page;
}
