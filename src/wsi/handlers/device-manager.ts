/** IDeviceManagerServices: maps SOAP messages to the device manager service and back. */
import type { DeviceAuthType, DeviceCapability, DeviceCapabilityInput, DeviceInfo, DeviceInstanceInput, DmVersion, FumoDelivery } from '../../domain/registry.js';
import type { DeviceManagerService, PublicDeviceInstance } from '../../services/device-manager.js';
import { taskDataXml } from './deployment-broker.js';
import { callerName, type OperationContext, type OperationHandlers } from './types.js';

/** A DeviceInstance element as decoded from a request. */
interface DeviceInstanceXml {
  deviceId: string;
  phoneNumber: string;
  capabilityOid: string;
  notificationUrl?: string;
  smsAddress?: string;
  clientUsername?: string;
  clientPassword?: string;
  serverPassword?: string;
  authType?: string;
  /** state and lastContact are read-only: accepted so a fetched record can be sent back, then ignored. */
  state?: string;
  lastContact?: Date;
  attribute: { name: string; value: string }[];
}

interface DeviceCapabilityXml {
  oid?: string;
  make: string;
  model: string;
  firmwareVersion: string;
  dmVersion: string;
  sseRoot?: string;
  fumoRoot?: string;
  scomoRoot?: string;
  fumoDelivery?: string;
  maxMsgSize?: number;
  wbxml?: boolean;
}

const orUndefined = (s: string | undefined) => (s === '' ? undefined : s);

function deviceInput(x: DeviceInstanceXml): DeviceInstanceInput {
  const attributes = x.attribute.length ? Object.fromEntries(x.attribute.map((a) => [a.name, a.value])) : undefined;
  const optional = {
    notificationUrl: x.notificationUrl,
    smsAddress: orUndefined(x.smsAddress),
    clientUsername: orUndefined(x.clientUsername),
    clientPassword: orUndefined(x.clientPassword),
    serverPassword: orUndefined(x.serverPassword),
    authType: orUndefined(x.authType) as DeviceAuthType | undefined,
    attributes,
  };
  return {
    deviceId: x.deviceId,
    phoneNumber: x.phoneNumber,
    capabilityOid: x.capabilityOid,
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
  };
}

function deviceXml(d: PublicDeviceInstance): Record<string, unknown> {
  return {
    deviceId: d.deviceId,
    phoneNumber: d.phoneNumber,
    capabilityOid: d.capabilityOid,
    notificationUrl: d.notificationUrl,
    smsAddress: d.smsAddress,
    clientUsername: d.clientUsername,
    authType: d.authType,
    state: d.state,
    lastContact: d.lastContact,
    attribute: Object.entries(d.attributes).map(([name, value]) => ({ name, value })),
  };
}

function capabilityInput(x: DeviceCapabilityXml): DeviceCapabilityInput {
  return {
    ...(x.oid ? { oid: x.oid } : {}),
    make: x.make,
    model: x.model,
    firmwareVersion: x.firmwareVersion,
    dmVersion: x.dmVersion as DmVersion,
    ...(x.sseRoot ? { sseRoot: x.sseRoot } : {}),
    ...(x.fumoRoot ? { fumoRoot: x.fumoRoot } : {}),
    ...(x.scomoRoot ? { scomoRoot: x.scomoRoot } : {}),
    // Checked against FUMO_DELIVERIES by the registry's validation.
    ...(x.fumoDelivery ? { fumoDelivery: x.fumoDelivery as FumoDelivery } : {}),
    ...(x.maxMsgSize !== undefined ? { maxMsgSize: x.maxMsgSize } : {}),
    ...(x.wbxml !== undefined ? { wbxml: x.wbxml } : {}),
  };
}

function capabilityXml(c: DeviceCapability): Record<string, unknown> {
  return { ...c };
}

function deviceInfoXml(i: DeviceInfo): Record<string, unknown> {
  const r = i.reported;
  return {
    deviceId: i.deviceId,
    man: r?.man,
    mod: r?.mod,
    dmV: r?.dmV,
    lang: r?.lang,
    devTyp: r?.detail?.devTyp,
    oem: r?.detail?.oem,
    fwV: r?.detail?.fwV,
    swV: r?.detail?.swV,
    hwV: r?.detail?.hwV,
    reportedAt: r?.reportedAt !== undefined ? new Date(r.reportedAt) : undefined,
    components: i.components,
    inventoryAt: i.inventoryAt,
  };
}

const call = (ctx: OperationContext) => ({ caller: callerName(ctx), operation: ctx.operation });
const page = (a: Record<string, unknown>) => ({ offset: a.offset as number, limit: a.limit as number });

export function deviceManagerHandlers(svc: DeviceManagerService): OperationHandlers {
  return {
    createDeviceInstance: async (ctx, a) => ({
      deviceId: await svc.createDeviceInstance(call(ctx), deviceInput(a.device as DeviceInstanceXml)),
    }),
    updateDeviceInstance: async (ctx, a) => {
      await svc.updateDeviceInstance(call(ctx), deviceInput(a.device as DeviceInstanceXml));
      return {};
    },
    deleteDeviceInstance: async (ctx, a) => {
      await svc.deleteDeviceInstance(call(ctx), a.deviceId as string);
      return {};
    },
    getDeviceInstanceByDeviceID: async (_ctx, a) => ({
      deviceInstance: deviceXml(await svc.getDeviceInstanceByDeviceID(a.deviceId as string)),
    }),
    getDeviceInstanceByPhoneNumber: async (_ctx, a) => ({
      deviceInstance: deviceXml(await svc.getDeviceInstanceByPhoneNumber(a.phoneNumber as string)),
    }),
    getDeviceInstances: async (_ctx, a) => ({
      deviceInstance: (await svc.getDeviceInstances(page(a))).map(deviceXml),
    }),
    importDeviceInstances: async (ctx, a) => {
      const records = (a.devices as DeviceInstanceXml[]).map(deviceInput);
      const csv = a.csv as string | undefined;
      const result = await svc.importDeviceInstances(call(ctx), { records, ...(csv ? { csv } : {}) });
      return { importResult: { imported: result.imported, rejected: result.rejected } };
    },
    createDeviceCapability: async (ctx, a) => ({
      oid: await svc.createDeviceCapability(call(ctx), capabilityInput(a.capability as DeviceCapabilityXml)),
    }),
    updateDeviceCapability: async (ctx, a) => {
      await svc.updateDeviceCapability(call(ctx), capabilityInput(a.capability as DeviceCapabilityXml));
      return {};
    },
    getDeviceCapabilityByOid: async (_ctx, a) => ({
      deviceCapability: capabilityXml(await svc.getDeviceCapabilityByOid(a.oid as string)),
    }),
    getDeviceCapabilities: async (_ctx, a) => ({
      deviceCapability: (await svc.getDeviceCapabilities(page(a))).map(capabilityXml),
    }),
    getDeviceInfo: async (_ctx, a) => ({ deviceInfo: deviceInfoXml(await svc.getDeviceInfo(a.deviceId as string)) }),
    getDeviceTasks: async (_ctx, a) => ({
      taskData: (await svc.getDeviceTasks(a.deviceId as string, page(a))).map(taskDataXml),
    }),
  };
}
