/**
 * Table rows and their TypeORM schemas. Rows are plain objects (no decorators,
 * so no reliance on emitted decorator metadata); repositories map them to
 * domain types.
 */
import { EntitySchema } from 'typeorm';
import { bool, epochMs, int, text, varchar } from './columns.js';

export interface DeviceCapabilityRow {
  oid: string;
  make: string;
  model: string;
  firmwareVersion: string;
  dmVersion: string;
  sseRoot: string | null;
  fumoRoot: string | null;
  scomoRoot: string | null;
  fumoDelivery: string | null;
  maxMsgSize: number | null;
  wbxml: boolean;
  createdAt: number;
  updatedAt: number;
}

export const DeviceCapabilityEntity = new EntitySchema<DeviceCapabilityRow>({
  name: 'device_capability',
  columns: {
    oid: { ...varchar(128), primary: true },
    make: varchar(128),
    model: varchar(128),
    firmwareVersion: { ...varchar(128), name: 'firmware_version' },
    dmVersion: { ...varchar(8), name: 'dm_version' },
    sseRoot: { ...varchar(255, true), name: 'sse_root' },
    fumoRoot: { ...varchar(255, true), name: 'fumo_root' },
    scomoRoot: { ...varchar(255, true), name: 'scomo_root' },
    fumoDelivery: { ...varchar(32, true), name: 'fumo_delivery' },
    maxMsgSize: { ...int(true), name: 'max_msg_size' },
    wbxml: bool(false),
    createdAt: { ...epochMs(), name: 'created_at' },
    updatedAt: { ...epochMs(), name: 'updated_at' },
  },
});

export interface DeviceInstanceRow {
  deviceId: string;
  phoneNumber: string;
  capabilityOid: string;
  notificationUrl: string | null;
  smsAddress: string | null;
  authType: string;
  state: string;
  lastContact: number | null;
  /** JSON object of free attributes. */
  attributes: string;
  clientUsername: string;
  /** Encrypted JSON { clientPassword, serverPassword } (see secret-box.ts). */
  secrets: string;
  clientNonce: string;
  serverNonce: string;
  /** JSON of the last DevInfo (Man, Mod, DmV, Lang). */
  devInfo: string | null;
  /** When the software inventory (device_component) was last read. */
  inventoryAt?: number | null;
  createdAt: number;
  updatedAt: number;
}

export const DeviceInstanceEntity = new EntitySchema<DeviceInstanceRow>({
  name: 'device_instance',
  columns: {
    deviceId: { ...varchar(128), primary: true, name: 'device_id' },
    phoneNumber: { ...varchar(16), name: 'phone_number', unique: true },
    capabilityOid: { ...varchar(128), name: 'capability_oid' },
    notificationUrl: { ...varchar(512, true), name: 'notification_url' },
    smsAddress: { ...varchar(16, true), name: 'sms_address' },
    authType: { ...varchar(8), name: 'auth_type' },
    state: varchar(16),
    lastContact: { ...epochMs(true), name: 'last_contact' },
    attributes: text(),
    clientUsername: { ...varchar(64), name: 'client_username' },
    secrets: text(),
    clientNonce: { ...varchar(64), name: 'client_nonce' },
    serverNonce: { ...varchar(64), name: 'server_nonce' },
    devInfo: { ...text(true), name: 'dev_info' },
    inventoryAt: { ...epochMs(true), name: 'inventory_at' },
    createdAt: { ...epochMs(), name: 'created_at' },
    updatedAt: { ...epochMs(), name: 'updated_at' },
  },
});

export interface JobRow {
  jobId: string;
  status: string;
  operationName: string;
  /** JSON of the OperationDefinition. */
  operation: string;
  /** JSON of the DeploymentOptions. */
  options: string;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  total: number;
  queued: number;
  notifying: number;
  inSession: number;
  scheduled: number;
  inProgress: number;
  completed: number;
  failed: number;
  missed: number;
  cancelled: number;
  expired: number;
  historySeq: number;
  startedAt: number | null;
  correlationId: string | null;
}

const counter = () => int(false, 0);

export const JobEntity = new EntitySchema<JobRow>({
  name: 'job',
  columns: {
    jobId: { ...varchar(64), primary: true, name: 'job_id' },
    status: varchar(32),
    operationName: { ...varchar(32), name: 'operation_name' },
    operation: text(),
    options: text(),
    createdBy: { ...varchar(64), name: 'created_by' },
    createdAt: { ...epochMs(), name: 'created_at' },
    updatedAt: { ...epochMs(), name: 'updated_at' },
    total: counter(),
    queued: counter(),
    notifying: counter(),
    inSession: { ...counter(), name: 'in_session' },
    scheduled: counter(),
    inProgress: { ...counter(), name: 'in_progress' },
    completed: counter(),
    failed: counter(),
    missed: counter(),
    cancelled: counter(),
    expired: counter(),
    historySeq: { ...counter(), name: 'history_seq' },
    startedAt: { ...epochMs(true), name: 'started_at' },
    correlationId: { ...varchar(64, true), name: 'correlation_id' },
  },
});

export interface JobHistoryRow {
  jobId: string;
  seq: number;
  at: number;
  fromStatus: string | null;
  toStatus: string;
  event: string;
  /** The caller whose call caused it; null for the gateway's own events. */
  by: string | null;
  detail: string | null;
}

export const JobHistoryEntity = new EntitySchema<JobHistoryRow>({
  name: 'job_history',
  columns: {
    jobId: { ...varchar(64), primary: true, name: 'job_id' },
    seq: { ...int(), primary: true },
    at: epochMs(),
    fromStatus: { ...varchar(32, true), name: 'from_status' },
    toStatus: { ...varchar(32), name: 'to_status' },
    event: varchar(64),
    by: varchar(64, true),
    detail: text(true),
  },
});

export interface TaskRow {
  taskId: string;
  jobId: string | null;
  deviceId: string;
  phoneNumber: string | null;
  operationName: string;
  operation: string;
  status: string;
  resultCode: number | null;
  dmStatus: number | null;
  correlator: string | null;
  /** JSON list of { uri, value, format } from QUERY results. */
  results: string | null;
  bOptin: boolean;
  acceptDevicePolicy: number;
  testCycle: boolean;
  deadline: number | null;
  /** The sequence number of the task's last history row. */
  historySeq: number;
  /** The task's place in its job, from 1 (waves are ranges of it). */
  jobSeq: number | null;
  /** When the job dispatcher released it for notification. */
  releasedAt: number | null;
  contentId: string | null;
  correlationId: string | null;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

export const TaskEntity = new EntitySchema<TaskRow>({
  name: 'task',
  columns: {
    taskId: { ...varchar(64), primary: true, name: 'task_id' },
    jobId: { ...varchar(64, true), name: 'job_id' },
    deviceId: { ...varchar(128), name: 'device_id' },
    phoneNumber: { ...varchar(16, true), name: 'phone_number' },
    operationName: { ...varchar(32), name: 'operation_name' },
    operation: text(),
    status: varchar(16),
    resultCode: { ...int(true), name: 'result_code' },
    dmStatus: { ...int(true), name: 'dm_status' },
    correlator: varchar(64, true),
    results: text(true),
    bOptin: { ...bool(false), name: 'b_optin' },
    acceptDevicePolicy: { ...int(false, 30), name: 'accept_device_policy' },
    testCycle: { ...bool(false), name: 'test_cycle' },
    deadline: epochMs(true),
    historySeq: { ...int(false, 0), name: 'history_seq' },
    jobSeq: { ...int(true), name: 'job_seq' },
    releasedAt: { ...epochMs(true), name: 'released_at' },
    contentId: { ...varchar(64, true), name: 'content_id' },
    correlationId: { ...varchar(64, true), name: 'correlation_id' },
    createdBy: { ...varchar(64), name: 'created_by' },
    createdAt: { ...epochMs(), name: 'created_at' },
    updatedAt: { ...epochMs(), name: 'updated_at' },
  },
});

export interface TaskHistoryRow {
  taskId: string;
  seq: number;
  at: number;
  fromStatus: string | null;
  toStatus: string;
  event: string;
  code: number | null;
  detail: string | null;
}

export const TaskHistoryEntity = new EntitySchema<TaskHistoryRow>({
  name: 'task_history',
  columns: {
    taskId: { ...varchar(64), primary: true, name: 'task_id' },
    seq: { ...int(), primary: true },
    at: epochMs(),
    fromStatus: { ...varchar(16, true), name: 'from_status' },
    toStatus: { ...varchar(16), name: 'to_status' },
    event: varchar(64),
    code: int(true),
    detail: text(true),
  },
});

export interface ApiUserRow {
  username: string;
  role: string;
  /** argon2id PHC string. */
  passwordHash: string;
  /** The password encrypted with the gateway key: needed to check WS-Security PasswordDigest. */
  passwordSealed: string;
  disabled: boolean;
  failedLogins: number;
  lockedUntil: number | null;
  createdAt: number;
  updatedAt: number;
}

export const ApiUserEntity = new EntitySchema<ApiUserRow>({
  name: 'api_user',
  columns: {
    username: { ...varchar(64), primary: true },
    role: varchar(16),
    passwordHash: { ...text(), name: 'password_hash' },
    passwordSealed: { ...text(), name: 'password_sealed' },
    disabled: bool(false),
    failedLogins: { ...int(false, 0), name: 'failed_logins' },
    lockedUntil: { ...epochMs(true), name: 'locked_until' },
    createdAt: { ...epochMs(), name: 'created_at' },
    updatedAt: { ...epochMs(), name: 'updated_at' },
  },
});

export interface AuditRow {
  id?: number;
  at: number;
  caller: string;
  operation: string;
  target: string | null;
  outcome: string;
  detail: string | null;
}

export const AuditEntity = new EntitySchema<AuditRow>({
  name: 'audit_log',
  columns: {
    id: { type: 'integer', primary: true, generated: 'increment' },
    at: epochMs(),
    caller: varchar(64),
    operation: varchar(64),
    target: varchar(256, true),
    outcome: varchar(32),
    detail: text(true),
  },
});

export interface DeviceAlertRow {
  id?: number;
  deviceId: string;
  at: number;
  alertType: string;
  source: string | null;
  mark: string | null;
  format: string | null;
  data: string | null;
  correlator: string | null;
  handled: boolean;
}

export const DeviceAlertEntity = new EntitySchema<DeviceAlertRow>({
  name: 'device_alert',
  columns: {
    id: { type: 'integer', primary: true, generated: 'increment' },
    deviceId: { ...varchar(128), name: 'device_id' },
    at: epochMs(),
    alertType: { ...varchar(256), name: 'alert_type' },
    source: varchar(1024, true),
    mark: varchar(32, true),
    format: varchar(16, true),
    data: text(true),
    correlator: varchar(128, true),
    handled: bool(false),
  },
});

/** One deployed software component as the device's inventory last listed it. */
export interface DeviceComponentRow {
  deviceId: string;
  componentId: string;
  name: string;
  version: string;
  state: string;
}

export const DeviceComponentEntity = new EntitySchema<DeviceComponentRow>({
  name: 'device_component',
  columns: {
    deviceId: { ...varchar(128), primary: true, name: 'device_id' },
    componentId: { ...varchar(255), primary: true, name: 'component_id' },
    name: varchar(255),
    version: varchar(128),
    state: varchar(16),
  },
});

export interface ContentRow {
  contentId: string;
  name: string;
  version: string;
  kind: string;
  sha256: string;
  size: number;
  url: string | null;
  /** JSON list of capability oids. */
  capabilityOids: string;
  state: string;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

export const ContentEntity = new EntitySchema<ContentRow>({
  name: 'content',
  columns: {
    contentId: { ...varchar(64), primary: true, name: 'content_id' },
    name: varchar(128),
    version: varchar(64),
    kind: varchar(16),
    sha256: varchar(64),
    size: epochMs(),
    url: varchar(2048, true),
    capabilityOids: { ...text(), name: 'capability_oids' },
    state: varchar(16),
    createdBy: { ...varchar(64), name: 'created_by' },
    createdAt: { ...epochMs(), name: 'created_at' },
    updatedAt: { ...epochMs(), name: 'updated_at' },
  },
});

export interface WebhookRow {
  webhookId: string;
  url: string;
  /** JSON list of event types (or ["*"]). */
  events: string;
  /** Sealed (secret-box.ts): never returned by the API. */
  secret: string;
  createdBy: string;
  createdAt: number;
}

export const WebhookEntity = new EntitySchema<WebhookRow>({
  name: 'webhook',
  columns: {
    webhookId: { ...varchar(64), primary: true, name: 'webhook_id' },
    url: varchar(2048),
    events: text(),
    secret: text(),
    createdBy: { ...varchar(64), name: 'created_by' },
    createdAt: { ...epochMs(), name: 'created_at' },
  },
});

export interface WebhookDeliveryRow {
  webhookId: string;
  eventId: string;
  type: string;
  body: string;
  state: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  deliveredAt: number | null;
}

export const WebhookDeliveryEntity = new EntitySchema<WebhookDeliveryRow>({
  name: 'webhook_delivery',
  columns: {
    webhookId: { ...varchar(64), primary: true, name: 'webhook_id' },
    eventId: { ...varchar(160), primary: true, name: 'event_id' },
    type: varchar(32),
    body: text(),
    state: varchar(16),
    attempts: int(false, 0),
    lastStatus: { ...int(true), name: 'last_status' },
    lastError: { ...varchar(256, true), name: 'last_error' },
    createdAt: { ...epochMs(), name: 'created_at' },
    updatedAt: { ...epochMs(), name: 'updated_at' },
    deliveredAt: { ...epochMs(true), name: 'delivered_at' },
  },
});

/** Where the webhook event pump has read each history stream to (services/webhooks/event-pump.ts). */
export interface WebhookCursorRow {
  stream: string;
  position: string;
}

export const WebhookCursorEntity = new EntitySchema<WebhookCursorRow>({
  name: 'webhook_cursor',
  columns: {
    stream: { ...varchar(16), primary: true },
    position: varchar(256),
  },
});

export const ALL_ENTITIES = [
  DeviceComponentEntity,
  ContentEntity,
  JobHistoryEntity,
  DeviceAlertEntity,
  DeviceCapabilityEntity,
  DeviceInstanceEntity,
  JobEntity,
  TaskEntity,
  TaskHistoryEntity,
  ApiUserEntity,
  AuditEntity,
  WebhookEntity,
  WebhookDeliveryEntity,
  WebhookCursorEntity,
];
