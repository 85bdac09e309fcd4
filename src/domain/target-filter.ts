/**
 * DeploymentOptions.targetFilter: a job's targets as conditions over the
 * registry. Checked here (shape, lengths, characters); turned into a query by
 * the bulk service.
 */
import { invalidArgument } from './errors.js';
import type { TargetFilter } from './tasks.js';

const TEXT_FIELDS = ['capabilityOid', 'make', 'model', 'firmwareVersion'] as const;

/** The filter with its prefixes made exact (an IMEI/MEID scheme upper-cased, as ids are stored); refuses a bad one. */
export function validateTargetFilter(f: TargetFilter): TargetFilter {
  const at = (field: string) => `options.targetFilter.${field}`;
  for (const k of TEXT_FIELDS) {
    const v = f[k];
    if (v !== undefined && (v.trim() === '' || v.length > 128)) throw invalidArgument(at(k), 'must be 1 to 128 characters');
  }
  const out: TargetFilter = { ...f };
  if (f.deviceIdPrefix !== undefined) {
    // Printable ASCII: a prefix is compared character by character in either database.
    if (!/^[\x21-\x7e]{1,128}$/.test(f.deviceIdPrefix)) throw invalidArgument(at('deviceIdPrefix'), 'must be 1 to 128 printable ASCII characters');
    out.deviceIdPrefix = f.deviceIdPrefix.replace(/^(imei|meid):/i, (s) => s.toUpperCase());
    if (/^MEID:/.test(out.deviceIdPrefix)) out.deviceIdPrefix = out.deviceIdPrefix.toUpperCase();
  }
  if (f.phoneNumberPrefix !== undefined && !/^\+\d{0,15}$/.test(f.phoneNumberPrefix)) {
    throw invalidArgument(at('phoneNumberPrefix'), 'must be + and up to 15 digits');
  }
  const conditions = [...TEXT_FIELDS, 'deviceIdPrefix', 'phoneNumberPrefix'].filter((k) => out[k as keyof TargetFilter] !== undefined);
  if (conditions.length === 0 && out.allDevices !== true) {
    throw invalidArgument('options.targetFilter', 'give at least one condition, or allDevices true for every registered device');
  }
  if (out.allDevices === false && conditions.length === 0) throw invalidArgument(at('allDevices'), 'is false and no condition is given');
  return out;
}

/** How a job's history names its filter. */
export function describeTargetFilter(f: TargetFilter): string {
  const parts = Object.entries(f)
    .filter(([k, v]) => v !== undefined && k !== 'allDevices')
    .map(([k, v]) => `${k}=${String(v)}`);
  return parts.length ? parts.join(', ') : 'all registered devices';
}
