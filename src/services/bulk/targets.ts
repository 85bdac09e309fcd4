/**
 * Resolves a job's targets: device ids, phone numbers (E.164, leading '+'),
 * or filters `key=value[&key=value]` over capability, make, model and
 * firmwareVersion (e.g. `make=Acme&model=X1`). Streams in batches of BATCH,
 * drops duplicates, and reports what it could not use — never fatal.
 */
import { canonicalDeviceId } from '../../domain/device-id.js';
import type { DeviceCapability } from '../../domain/registry.js';
import type { DeviceTarget, Stores } from '../ports.js';

const BATCH = 1000;
const FILTER_KEYS: Record<string, keyof DeviceCapability> = {
  capability: 'oid',
  capabilityOid: 'oid',
  oid: 'oid',
  make: 'make',
  model: 'model',
  firmware: 'firmwareVersion',
  firmwareVersion: 'firmwareVersion',
};

export interface ResolvedTargets {
  devices: DeviceTarget[];
  rejected: { target: string; reason: string }[];
  duplicates: number;
}

function parseFilter(target: string): Partial<Record<keyof DeviceCapability, string>> | string {
  const out: Partial<Record<keyof DeviceCapability, string>> = {};
  for (const part of target.split('&')) {
    const [k, v] = part.split('=', 2);
    const key = k ? FILTER_KEYS[k.trim()] : undefined;
    if (!key || v === undefined || v.trim() === '') return `unknown filter "${part.slice(0, 64)}" (use capability, make, model, firmwareVersion)`;
    out[key] = v.trim();
  }
  return out;
}

export async function resolveTargets(stores: Stores, targets: string[]): Promise<ResolvedTargets> {
  const rejected: ResolvedTargets['rejected'] = [];
  const seen = new Set<string>();
  const devices: DeviceTarget[] = [];
  let duplicates = 0;
  const add = (d: DeviceTarget) => {
    if (seen.has(d.deviceId)) duplicates++;
    else {
      seen.add(d.deviceId);
      devices.push(d);
    }
  };
  const ids: string[] = [];
  const phones: string[] = [];
  const filters: string[] = [];
  for (const raw of targets) {
    const t = raw.trim();
    if (t === '') rejected.push({ target: raw, reason: 'empty target' });
    else if (t.includes('=')) filters.push(t);
    else if (t.startsWith('+')) phones.push(t);
    else ids.push(canonicalDeviceId(t));
  }
  for (let i = 0; i < ids.length; i += BATCH) {
    const batch = ids.slice(i, i + BATCH);
    const found = await stores.devices.targetsById(batch);
    for (const id of batch) {
      const d = found.get(id);
      if (d) add(d);
      else rejected.push({ target: id, reason: 'no such device' });
    }
  }
  for (let i = 0; i < phones.length; i += BATCH) {
    const batch = phones.slice(i, i + BATCH);
    const found = await stores.devices.targetsByPhone(batch);
    for (const p of batch) {
      const d = found.get(p);
      if (d) add(d);
      else rejected.push({ target: p, reason: 'no device has this phone number' });
    }
  }
  if (filters.length) {
    const caps = await stores.capabilities.all();
    for (const f of filters) {
      const filter = parseFilter(f);
      if (typeof filter === 'string') {
        rejected.push({ target: f, reason: filter });
        continue;
      }
      const oids = caps
        .filter((c) => Object.entries(filter).every(([k, v]) => String(c[k as keyof DeviceCapability]) === v))
        .map((c) => c.oid);
      for (let after = ''; ; ) {
        const page = await stores.devices.targetsByCapabilities(oids, after, BATCH);
        for (const d of page) add(d);
        if (page.length < BATCH) break;
        after = page[page.length - 1]!.deviceId;
      }
    }
  }
  return { devices, rejected, duplicates };
}
