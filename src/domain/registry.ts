/**
 * The device registry's domain types: device capabilities (a line of devices:
 * make, model, firmware) and device instances (one device).
 */

export const AUTH_TYPES = ['basic', 'md5', 'hmac'] as const;
export type DeviceAuthType = (typeof AUTH_TYPES)[number];

export const DM_VERSIONS = ['1.2', '2.0'] as const;
export type DmVersion = (typeof DM_VERSIONS)[number];

/**
 * REGISTERED: known, never seen. BOOTSTRAPPING: a DM account was sent, the
 * first authenticated session has not happened yet. ACTIVE: has completed an
 * authenticated DM session.
 */
export const DEVICE_STATES = ['REGISTERED', 'BOOTSTRAPPING', 'ACTIVE'] as const;
export type DeviceState = (typeof DEVICE_STATES)[number];

/**
 * How a model's FUMO client takes firmware: one Exec of DownloadAndUpdate;
 * Exec Download then, once downloaded, Exec Update; or the package's bytes
 * put in Update/PkgData (inline, small packages only) then Exec Update.
 */
export const FUMO_DELIVERIES = ['downloadAndUpdate', 'downloadThenUpdate', 'inline'] as const;
export type FumoDelivery = (typeof FUMO_DELIVERIES)[number];

export interface DeviceCapability {
  oid: string;
  make: string;
  model: string;
  firmwareVersion: string;
  dmVersion: DmVersion;
  /** Where the SingleShotExec MO lives on this model, e.g. `./SSE`; absent when the model has none. */
  sseRoot?: string;
  /** Where the FUMO MO lives on this model, e.g. `./FUMO` (its long operations end with their own alert). */
  fumoRoot?: string;
  /** Where the SCOMO MO lives on this model, e.g. `./SCOMO`. */
  scomoRoot?: string;
  /** How its FUMO client takes firmware (FIRMWARE_UPDATE); absent: downloadAndUpdate. */
  fumoDelivery?: FumoDelivery;
  maxMsgSize?: number;
  wbxml: boolean;
}

/** Secrets of a device's DM account; kept encrypted at rest, never returned by the API. */
export interface DeviceCredentials {
  clientUsername: string;
  clientPassword: string;
  serverPassword: string;
  /** base64 nonce the device must use next for its credentials (CLCRED). */
  clientNonce: string;
  /** base64 nonce the server uses for its own credentials and Package#0 (SRVCRED). */
  serverNonce: string;
}

export interface DeviceInstance {
  deviceId: string;
  phoneNumber: string;
  capabilityOid: string;
  notificationUrl?: string;
  smsAddress?: string;
  authType: DeviceAuthType;
  state: DeviceState;
  lastContact?: Date;
  attributes: Record<string, string>;
  credentials: DeviceCredentials;
  /** DevInfo reported in the last session, and DevDetail once fetched. */
  devInfo?: DeviceReportedInfo;
  createdAt: Date;
  updatedAt: Date;
}

export interface DeviceReportedInfo {
  /** DevInfo/DevId as the hardware reports it (may differ from the registered id). */
  devId?: string;
  man?: string;
  mod?: string;
  dmV?: string;
  lang?: string;
  /** DevDetail leaves; present once fetched. */
  detail?: { fwV?: string; swV?: string; hwV?: string; devTyp?: string; oem?: string; lrgObj?: boolean };
  /** When the device last reported DevInfo or DevDetail (epoch ms). */
  reportedAt?: number;
  /** Where the gateway found the device's FUMO/SCOMO MO when its capability names none (found once, remembered). */
  moRoots?: { fumo?: string; scomo?: string };
}

export const COMPONENT_STATES = ['ACTIVE', 'INACTIVE'] as const;
export type ComponentState = (typeof COMPONENT_STATES)[number];

/** A deployed software component as the device's SCOMO inventory lists it. */
export interface DeviceComponent {
  componentId: string;
  name: string;
  version: string;
  state: ComponentState;
}

/** What a device reported about itself, for care tools (getDeviceInfo). */
export interface DeviceInfo {
  deviceId: string;
  reported?: DeviceReportedInfo;
  components: DeviceComponent[];
  inventoryAt?: Date;
}

/** What a DM session learned about a device, applied in one update. */
export interface DeviceContactPatch {
  /** Absent: no contact to record (a nonce issued to a sender that did not authenticate). */
  lastContact?: Date;
  state?: DeviceState;
  /**
   * Its keys replace the stored ones; keys it lacks keep their stored values (a top-level merge, made
   * by the store in the update, so what another writer stored meanwhile, such as MO roots, stays).
   */
  devInfo?: DeviceReportedInfo;
  clientNonce?: string;
  serverNonce?: string;
}

/** What a caller supplies to create or update a device instance. */
export interface DeviceInstanceInput {
  deviceId: string;
  phoneNumber: string;
  capabilityOid: string;
  notificationUrl?: string;
  smsAddress?: string;
  clientUsername?: string;
  clientPassword?: string;
  serverPassword?: string;
  authType?: DeviceAuthType;
  attributes?: Record<string, string>;
}

export type DeviceCapabilityInput = Omit<DeviceCapability, 'oid' | 'wbxml'> & {
  oid?: string;
  wbxml?: boolean;
};

export interface Page {
  offset: number;
  limit: number;
}

export const MAX_PAGE_SIZE = 1000;

export interface ImportRejection {
  /** 1-based record number; for CSV the line number in the text (header is line 1). */
  row: number;
  reason: string;
}

export interface ImportResult {
  imported: number;
  rejected: ImportRejection[];
}
