/**
 * IDeviceManagerServices as a use case: device capabilities and device
 * instances. Validates every field, keeps secrets write-only, and records
 * each change in the audit trail in the same transaction as the change.
 */
import crypto from 'node:crypto';
import { DmwsiError, invalidArgument, notFound } from '../domain/errors.js';
import type {
  DeviceCapability,
  DeviceCapabilityInput,
  DeviceInfo,
  DeviceInstanceInput,
  ImportResult,
  Page,
} from '../domain/registry.js';
import type { Task } from '../domain/tasks.js';
import {
  deviceCapabilityProblems,
  deviceInstanceProblems,
  firstProblem,
  normalizeDeviceInput,
  validatePage,
} from '../domain/registry-validation.js';
import { DeviceImporter, type ImportSource } from './device-import.js';
import { type DeviceSecretSource, mergeDevice, newDeviceRecord } from './device-record.js';
import type { CallContext, Clock, DeviceRecord, DeviceView, Transactor } from './ports.js';

export interface DeviceManagerDeps extends DeviceSecretSource {
  tx: Transactor;
  clock: Clock;
}

/** A device as the API shows it: secrets are never returned. */
export type PublicDeviceInstance = DeviceView;

export function publicView(d: DeviceRecord): PublicDeviceInstance {
  const { credentials, ...rest } = d;
  return { ...rest, clientUsername: credentials.clientUsername };
}

export class DeviceManagerService {
  private readonly importer: DeviceImporter;

  constructor(private readonly deps: DeviceManagerDeps) {
    this.importer = new DeviceImporter({ tx: deps.tx, secrets: deps });
  }

  // --- capabilities -------------------------------------------------------

  async createDeviceCapability(ctx: CallContext, input: DeviceCapabilityInput): Promise<string> {
    const cap = this.capabilityFrom(input, input.oid || `cap-${crypto.randomUUID()}`);
    const now = this.deps.clock.now();
    await this.deps.tx.run(async (s) => {
      await s.capabilities.insert(cap, now);
      await s.audit.record({ ...ctx, target: cap.oid, outcome: 'ok' }, now);
    });
    return cap.oid;
  }

  async updateDeviceCapability(ctx: CallContext, input: DeviceCapabilityInput): Promise<void> {
    if (!input.oid) throw invalidArgument('oid', 'is required to update a capability');
    const cap = this.capabilityFrom(input, input.oid);
    const now = this.deps.clock.now();
    await this.deps.tx.run(async (s) => {
      if (!(await s.capabilities.update(cap, now))) throw notFound('device capability', cap.oid);
      await s.audit.record({ ...ctx, target: cap.oid, outcome: 'ok' }, now);
    });
  }

  async getDeviceCapabilityByOid(oid: string): Promise<DeviceCapability> {
    const cap = await this.deps.tx.stores.capabilities.get(oid);
    if (!cap) throw notFound('device capability', oid);
    return cap;
  }

  getDeviceCapabilities(page: Page): Promise<DeviceCapability[]> {
    return this.deps.tx.stores.capabilities.list(validatePage(page));
  }

  private capabilityFrom(input: DeviceCapabilityInput, oid: string): DeviceCapability {
    const problem = firstProblem(deviceCapabilityProblems(input));
    if (problem) throw problem;
    return {
      oid,
      make: input.make,
      model: input.model,
      firmwareVersion: input.firmwareVersion,
      dmVersion: input.dmVersion,
      ...(input.sseRoot ? { sseRoot: input.sseRoot } : {}),
      ...(input.fumoRoot ? { fumoRoot: input.fumoRoot } : {}),
      ...(input.scomoRoot ? { scomoRoot: input.scomoRoot } : {}),
      ...(input.fumoDelivery ? { fumoDelivery: input.fumoDelivery } : {}),
      ...(input.maxMsgSize !== undefined ? { maxMsgSize: input.maxMsgSize } : {}),
      wbxml: input.wbxml ?? false,
    };
  }

  // --- device instances ---------------------------------------------------

  async createDeviceInstance(ctx: CallContext, raw: DeviceInstanceInput): Promise<string> {
    const input = this.validDevice(raw);
    const now = this.deps.clock.now();
    const device = newDeviceRecord(input, now, this.deps);
    await this.deps.tx.run(async (s) => {
      if (!(await s.capabilities.get(device.capabilityOid))) throw notFound('device capability', device.capabilityOid);
      await s.devices.insert(device);
      await s.audit.record({ ...ctx, target: device.deviceId, outcome: 'ok' }, now);
    });
    return device.deviceId;
  }

  async updateDeviceInstance(ctx: CallContext, raw: DeviceInstanceInput): Promise<void> {
    const input = this.validDevice(raw);
    const now = this.deps.clock.now();
    await this.deps.tx.run(async (s) => {
      const current = await s.devices.get(input.deviceId);
      if (!current) throw notFound('device', input.deviceId);
      if (input.capabilityOid !== current.capabilityOid && !(await s.capabilities.get(input.capabilityOid))) {
        throw notFound('device capability', input.capabilityOid);
      }
      await s.devices.update(mergeDevice(current, input, now));
      await s.audit.record({ ...ctx, target: input.deviceId, outcome: 'ok' }, now);
    });
  }

  async deleteDeviceInstance(ctx: CallContext, deviceId: string): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.tx.run(async (s) => {
      const open = await s.devices.openTaskCount(deviceId);
      if (open > 0) {
        throw new DmwsiError('InvalidState', `device "${deviceId}" has ${open} open task(s); cancel them first`);
      }
      if (!(await s.devices.delete(deviceId))) throw notFound('device', deviceId);
      await s.audit.record({ ...ctx, target: deviceId, outcome: 'ok' }, now);
    });
  }

  async getDeviceInstanceByDeviceID(deviceId: string): Promise<PublicDeviceInstance> {
    // getView: the secrets are not returned, so they are not decrypted either.
    const d = await this.deps.tx.stores.devices.getView(normalizeDeviceInput({ deviceId } as DeviceInstanceInput).deviceId);
    if (!d) throw notFound('device', deviceId);
    return d;
  }

  // --- what a device runs (care tools) ------------------------------------------

  /** What the device reported: DevInfo and DevDetail from its sessions, and its software inventory as last read. */
  async getDeviceInfo(deviceId: string): Promise<DeviceInfo> {
    const id = normalizeDeviceInput({ deviceId } as DeviceInstanceInput).deviceId;
    const d = await this.deps.tx.stores.devices.getView(id);
    if (!d) throw notFound('device', deviceId);
    const inventory = await this.deps.tx.stores.inventory.get(id);
    return {
      deviceId: d.deviceId,
      ...(d.devInfo ? { reported: d.devInfo } : {}),
      components: inventory.components,
      ...(inventory.at ? { inventoryAt: inventory.at } : {}),
    };
  }

  /** Every task made for the device, single and job tasks, newest first. */
  async getDeviceTasks(deviceId: string, page: Page): Promise<Task[]> {
    const valid = validatePage(page);
    const id = normalizeDeviceInput({ deviceId } as DeviceInstanceInput).deviceId;
    const tasks = await this.deps.tx.stores.tasks.forDevice(id, valid);
    // A deleted device's tasks stay readable; a device never known is NotFound.
    if (tasks.length === 0 && !(await this.deps.tx.stores.devices.getView(id))) throw notFound('device', deviceId);
    return tasks;
  }

  async getDeviceInstanceByPhoneNumber(phoneNumber: string): Promise<PublicDeviceInstance> {
    const d = await this.deps.tx.stores.devices.getViewByPhone(phoneNumber);
    if (!d) throw notFound('device with phone number', phoneNumber);
    return d;
  }

  async getDeviceInstances(page: Page): Promise<PublicDeviceInstance[]> {
    const list = await this.deps.tx.stores.devices.list(validatePage(page));
    return list.map(publicView);
  }

  /** Records and/or CSV; valid rows are kept, each rejected row is reported. */
  async importDeviceInstances(ctx: CallContext, source: ImportSource): Promise<ImportResult> {
    if ((source.records?.length ?? 0) === 0 && !source.csv) {
      throw invalidArgument('devices', 'give device records, csv text, or both');
    }
    const result = await this.importer.run(source, this.deps.clock.now());
    await this.deps.tx.stores.audit.record(
      {
        ...ctx,
        target: `${result.imported} device(s)`,
        outcome: 'ok',
        detail: `imported ${result.imported}, rejected ${result.rejected.length}`,
      },
      this.deps.clock.now(),
    );
    return result;
  }

  private validDevice(raw: DeviceInstanceInput): DeviceInstanceInput {
    const problem = firstProblem(deviceInstanceProblems(raw));
    if (problem) throw problem;
    return normalizeDeviceInput(raw);
  }
}
