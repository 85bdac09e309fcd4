/**
 * The public contract (shared/dmwsi-contract.md) as data: XSD types, the
 * three services and their operations, parameter order, and the permission
 * each operation needs. The WSDL files in wsdl/ are generated from this, and
 * the SOAP layer decodes and validates requests and shapes responses from it,
 * so the three cannot drift apart.
 */
import type { Permission } from '../../domain/roles.js';

export const TARGET_NAMESPACE = 'urn:dmwsi-gateway:1.0';

/** Simple types. `dateTimeText` is xsd:dateTime kept as text (local times keep no zone). */
export type SimpleType = 'string' | 'int' | 'long' | 'boolean' | 'dateTime' | 'dateTimeText';

export interface FieldSpec {
  name: string;
  type: SimpleType | ComplexTypeName;
  optional?: boolean;
  repeated?: boolean;
  /** Maximum length for strings (validated on input). */
  maxLength?: number;
}

export type ComplexTypeName =
  | 'DeviceCapability'
  | 'Attribute'
  | 'DeviceInstance'
  | 'ImportRejection'
  | 'ImportResult'
  | 'Command'
  | 'CommandList'
  | 'OperationDefinition'
  | 'OperationRequest'
  | 'DeploymentOptions'
  | 'ResultItem'
  | 'TaskData'
  | 'JobData'
  | 'TaskHistoryEntry'
  | 'DmwsiFault'
  // Long operations and device views (issue 14).
  | 'DeviceComponent'
  | 'DeviceInfo'
  | 'JobHistoryEntry'
  // Content (issue 14).
  | 'OidList'
  | 'Content'
  // One million devices (issue 15).
  | 'TargetFilter'
  // Webhooks (issue 16).
  | 'EventList'
  | 'Webhook';

export const COMPLEX_TYPES: Record<ComplexTypeName, readonly FieldSpec[]> = {
  DeviceCapability: [
    { name: 'oid', type: 'string', optional: true, maxLength: 128 },
    { name: 'make', type: 'string', maxLength: 128 },
    { name: 'model', type: 'string', maxLength: 128 },
    { name: 'firmwareVersion', type: 'string', maxLength: 128 },
    { name: 'dmVersion', type: 'string', maxLength: 8 },
    { name: 'sseRoot', type: 'string', optional: true, maxLength: 255 },
    { name: 'maxMsgSize', type: 'int', optional: true },
    { name: 'wbxml', type: 'boolean', optional: true },
    // Long operations (issue 14): where the model keeps its FUMO and SCOMO MOs.
    { name: 'fumoRoot', type: 'string', optional: true, maxLength: 255 },
    { name: 'scomoRoot', type: 'string', optional: true, maxLength: 255 },
    // How the model's FUMO client takes firmware: downloadAndUpdate (default), downloadThenUpdate, inline.
    { name: 'fumoDelivery', type: 'string', optional: true, maxLength: 32 },
  ],
  Attribute: [
    { name: 'name', type: 'string', maxLength: 64 },
    { name: 'value', type: 'string', maxLength: 1024 },
  ],
  DeviceInstance: [
    { name: 'deviceId', type: 'string', maxLength: 128 },
    { name: 'phoneNumber', type: 'string', maxLength: 16 },
    { name: 'capabilityOid', type: 'string', maxLength: 128 },
    { name: 'notificationUrl', type: 'string', optional: true, maxLength: 512 },
    { name: 'smsAddress', type: 'string', optional: true, maxLength: 16 },
    { name: 'clientUsername', type: 'string', optional: true, maxLength: 64 },
    { name: 'clientPassword', type: 'string', optional: true, maxLength: 128 },
    { name: 'serverPassword', type: 'string', optional: true, maxLength: 128 },
    { name: 'authType', type: 'string', optional: true, maxLength: 8 },
    { name: 'state', type: 'string', optional: true, maxLength: 16 },
    { name: 'lastContact', type: 'dateTime', optional: true },
    { name: 'attribute', type: 'Attribute', optional: true, repeated: true },
  ],
  ImportRejection: [
    { name: 'row', type: 'int' },
    { name: 'reason', type: 'string' },
  ],
  ImportResult: [
    { name: 'imported', type: 'int' },
    { name: 'rejected', type: 'ImportRejection', optional: true, repeated: true },
  ],
  Command: [
    { name: 'verb', type: 'string', maxLength: 16 },
    { name: 'uri', type: 'string', maxLength: 1024 },
    { name: 'value', type: 'string', optional: true, maxLength: 65536 },
    { name: 'format', type: 'string', optional: true, maxLength: 16 },
    { name: 'type', type: 'string', optional: true, maxLength: 128 },
  ],
  CommandList: [{ name: 'command', type: 'Command', optional: true, repeated: true }],
  OperationDefinition: [
    { name: 'name', type: 'string', maxLength: 32 },
    { name: 'commands', type: 'CommandList', optional: true },
    { name: 'targetUri', type: 'string', optional: true, maxLength: 1024 },
    { name: 'atTime', type: 'dateTimeText', optional: true },
    // Long operations (issue 14).
    { name: 'awaitResult', type: 'boolean', optional: true },
    // Firmware and software delivery (issue 14).
    { name: 'contentId', type: 'string', optional: true, maxLength: 64 },
    { name: 'componentId', type: 'string', optional: true, maxLength: 64 },
    { name: 'activate', type: 'boolean', optional: true },
  ],
  OperationRequest: [
    { name: 'operation', type: 'OperationDefinition' },
    { name: 'phoneNumber', type: 'string', optional: true, maxLength: 16 },
    { name: 'deviceId', type: 'string', optional: true, maxLength: 128 },
    { name: 'bOptin', type: 'boolean' },
    { name: 'acceptDevicePolicy', type: 'int' },
    { name: 'testCycle', type: 'boolean' },
  ],
  DeploymentOptions: [
    { name: 'firstWaveSize', type: 'int', optional: true },
    { name: 'waveSize', type: 'int', optional: true },
    { name: 'notificationsPerSecond', type: 'int', optional: true },
    { name: 'maxConcurrentSessions', type: 'int', optional: true },
    { name: 'errorThresholdPercent', type: 'int', optional: true },
    { name: 'startAt', type: 'dateTime', optional: true },
    { name: 'deadline', type: 'dateTime', optional: true },
    { name: 'maxConcurrentDownloads', type: 'int', optional: true },
    { name: 'waveIntervalSeconds', type: 'int', optional: true },
    // Issue 15: the job's targets as a filter over the registry (targets then empty).
    { name: 'targetFilter', type: 'TargetFilter', optional: true },
  ],
  TargetFilter: [
    { name: 'allDevices', type: 'boolean', optional: true },
    { name: 'capabilityOid', type: 'string', optional: true, maxLength: 128 },
    { name: 'make', type: 'string', optional: true, maxLength: 128 },
    { name: 'model', type: 'string', optional: true, maxLength: 128 },
    { name: 'firmwareVersion', type: 'string', optional: true, maxLength: 128 },
    { name: 'deviceIdPrefix', type: 'string', optional: true, maxLength: 128 },
    { name: 'phoneNumberPrefix', type: 'string', optional: true, maxLength: 16 },
  ],
  ResultItem: [
    { name: 'uri', type: 'string' },
    { name: 'value', type: 'string' },
    { name: 'format', type: 'string', optional: true },
  ],
  TaskData: [
    { name: 'taskId', type: 'string' },
    { name: 'jobId', type: 'string', optional: true },
    { name: 'deviceId', type: 'string' },
    { name: 'phoneNumber', type: 'string', optional: true },
    { name: 'operationName', type: 'string' },
    { name: 'status', type: 'string' },
    { name: 'resultCode', type: 'int', optional: true },
    { name: 'dmStatus', type: 'int', optional: true },
    { name: 'createdAt', type: 'dateTime' },
    { name: 'updatedAt', type: 'dateTime' },
    { name: 'results', type: 'ResultItem', optional: true, repeated: true },
  ],
  JobData: [
    { name: 'jobId', type: 'string' },
    { name: 'status', type: 'string' },
    { name: 'operationName', type: 'string' },
    { name: 'createdAt', type: 'dateTime' },
    { name: 'createdBy', type: 'string' },
    { name: 'total', type: 'int' },
    { name: 'queued', type: 'int' },
    { name: 'notifying', type: 'int' },
    { name: 'inSession', type: 'int' },
    { name: 'scheduled', type: 'int' },
    { name: 'completed', type: 'int' },
    { name: 'failed', type: 'int' },
    { name: 'missed', type: 'int' },
    { name: 'cancelled', type: 'int' },
    { name: 'expired', type: 'int' },
    // Long operations (issue 14): last, so earlier elements keep their places.
    { name: 'inProgress', type: 'int' },
  ],
  TaskHistoryEntry: [
    { name: 'taskId', type: 'string' },
    { name: 'seq', type: 'int' },
    { name: 'at', type: 'dateTime' },
    { name: 'fromStatus', type: 'string', optional: true },
    { name: 'toStatus', type: 'string' },
    { name: 'event', type: 'string' },
    { name: 'code', type: 'int', optional: true },
    { name: 'detail', type: 'string', optional: true },
  ],
  OidList: [{ name: 'oid', type: 'string', optional: true, repeated: true, maxLength: 128 }],
  Content: [
    { name: 'contentId', type: 'string', optional: true, maxLength: 64 },
    { name: 'name', type: 'string', maxLength: 128 },
    { name: 'version', type: 'string', maxLength: 64 },
    { name: 'kind', type: 'string', maxLength: 16 },
    { name: 'sha256', type: 'string', maxLength: 64 },
    { name: 'size', type: 'long' },
    { name: 'url', type: 'string', optional: true, maxLength: 2048 },
    { name: 'capabilityOids', type: 'OidList', optional: true },
    { name: 'state', type: 'string', optional: true, maxLength: 16 },
    { name: 'createdAt', type: 'dateTime', optional: true },
  ],
  EventList: [{ name: 'event', type: 'string', optional: true, repeated: true, maxLength: 32 }],
  Webhook: [
    { name: 'webhookId', type: 'string', optional: true, maxLength: 64 },
    { name: 'url', type: 'string', maxLength: 2048 },
    // Write-only: given to createWebhook, never returned.
    { name: 'secret', type: 'string', optional: true, maxLength: 256 },
    { name: 'events', type: 'EventList' },
  ],
  DmwsiFault: [
    { name: 'code', type: 'string' },
    { name: 'message', type: 'string' },
    { name: 'field', type: 'string', optional: true },
  ],
  // Long operations and device views (issue 14).
  DeviceComponent: [
    { name: 'componentId', type: 'string' },
    { name: 'name', type: 'string' },
    { name: 'version', type: 'string' },
    { name: 'state', type: 'string' },
  ],
  DeviceInfo: [
    { name: 'deviceId', type: 'string' },
    { name: 'man', type: 'string', optional: true },
    { name: 'mod', type: 'string', optional: true },
    { name: 'dmV', type: 'string', optional: true },
    { name: 'lang', type: 'string', optional: true },
    { name: 'devTyp', type: 'string', optional: true },
    { name: 'oem', type: 'string', optional: true },
    { name: 'fwV', type: 'string', optional: true },
    { name: 'swV', type: 'string', optional: true },
    { name: 'hwV', type: 'string', optional: true },
    { name: 'reportedAt', type: 'dateTime', optional: true },
    { name: 'components', type: 'DeviceComponent', optional: true, repeated: true },
    { name: 'inventoryAt', type: 'dateTime', optional: true },
  ],
  JobHistoryEntry: [
    { name: 'jobId', type: 'string' },
    { name: 'seq', type: 'int' },
    { name: 'at', type: 'dateTime' },
    { name: 'event', type: 'string' },
    { name: 'by', type: 'string', optional: true },
    { name: 'detail', type: 'string', optional: true },
    { name: 'fromStatus', type: 'string', optional: true },
    { name: 'toStatus', type: 'string', optional: true },
  ],
};

export interface OperationSpec {
  name: string;
  /** Parameters after userSession (login has no userSession). */
  input: readonly FieldSpec[];
  output: readonly FieldSpec[];
  /** undefined: no caller needed (login). */
  permission: Permission | undefined;
  /** Writes an audit row. */
  audited: boolean;
  doc: string;
}

export type ServiceName = 'DeploymentBroker' | 'BulkOperationsManager' | 'DeviceManager';

export interface ServiceSpec {
  name: ServiceName;
  /** The WSDL portType name (the seed's interface name). */
  portType: string;
  path: string;
  operations: readonly OperationSpec[];
}

const userSession: FieldSpec = { name: 'userSession', type: 'string', maxLength: 256 };
const page: FieldSpec[] = [
  { name: 'offset', type: 'int' },
  { name: 'limit', type: 'int' },
];

function op(
  name: string,
  permission: Permission | undefined,
  audited: boolean,
  input: FieldSpec[],
  output: FieldSpec[],
  doc: string,
): OperationSpec {
  return { name, permission, audited, input, output, doc };
}

const sessionOperations: OperationSpec[] = [
  op(
    'login',
    undefined,
    true,
    [
      { name: 'username', type: 'string', maxLength: 64 },
      { name: 'password', type: 'string', maxLength: 256 },
    ],
    [{ name: 'userSession', type: 'string' }],
    'Signs in; the returned userSession authenticates later calls until logout or expiry.',
  ),
  op('logout', 'session', true, [], [], 'Ends a userSession.'),
];

export const SERVICES: readonly ServiceSpec[] = [
  {
    name: 'DeploymentBroker',
    portType: 'IDeploymentBrokerServices',
    path: '/dmwsi/DeploymentBroker',
    operations: [
      ...sessionOperations,
      op(
        'doOperation',
        'device-operation',
        true,
        [
          { name: 'operation', type: 'OperationDefinition' },
          { name: 'phoneNumber', type: 'string', maxLength: 16 },
          { name: 'bOptin', type: 'boolean' },
          { name: 'acceptDevicePolicy', type: 'int' },
          { name: 'testCycle', type: 'boolean' },
        ],
        [{ name: 'taskId', type: 'string' }],
        'Runs one management operation on one device; returns the task id.',
      ),
      op(
        'doBootstrap',
        'device-operation',
        true,
        [
          { name: 'phoneNumber', type: 'string', maxLength: 16 },
          { name: 'deviceId', type: 'string', optional: true, maxLength: 128 },
        ],
        [{ name: 'taskId', type: 'string' }],
        'Sends a DM account (bootstrap) to one device.',
      ),
      op(
        'doBulkOperation',
        'bulk-operation',
        true,
        [{ name: 'requests', type: 'OperationRequest', repeated: true }],
        [{ name: 'jobId', type: 'string' }],
        'Runs a list of single-device requests as one job.',
      ),
      op(
        'getTaskById',
        'read',
        false,
        [{ name: 'taskId', type: 'string', maxLength: 64 }],
        [{ name: 'taskData', type: 'TaskData' }],
        'A task with its status, codes and results.',
      ),
      op(
        'getStatus',
        'read',
        false,
        [{ name: 'taskId', type: 'string', maxLength: 64 }],
        [{ name: 'status', type: 'string' }],
        "A task's state.",
      ),
    ],
  },
  {
    name: 'BulkOperationsManager',
    portType: 'IBulkOperationsManagerServices',
    path: '/dmwsi/BulkOperationsManager',
    operations: [
      ...sessionOperations,
      op(
        'createDeployments',
        'bulk-operation',
        true,
        [
          { name: 'operation', type: 'OperationDefinition' },
          { name: 'targets', type: 'string', optional: true, repeated: true, maxLength: 128 },
          { name: 'options', type: 'DeploymentOptions', optional: true },
        ],
        [{ name: 'jobId', type: 'string' }],
        'Creates a bulk job over the targets (device ids or phone numbers), or over options.targetFilter.',
      ),
      op('cancelJob', 'bulk-operation', true, [{ name: 'jobId', type: 'string', maxLength: 64 }], [], 'Cancels a job.'),
      op('pauseJob', 'bulk-operation', true, [{ name: 'jobId', type: 'string', maxLength: 64 }], [], 'Pauses a job.'),
      op(
        'restartJob',
        'bulk-operation',
        true,
        [{ name: 'jobId', type: 'string', maxLength: 64 }],
        [],
        'Resumes a paused job.',
      ),
      op(
        'cancelTask',
        'device-operation',
        true,
        [{ name: 'taskId', type: 'string', maxLength: 64 }],
        [],
        'Cancels one task.',
      ),
      op(
        'getJobs',
        'read',
        false,
        [{ name: 'status', type: 'string', optional: true, maxLength: 32 }, ...page],
        [{ name: 'jobData', type: 'JobData', optional: true, repeated: true }],
        'Jobs, newest first.',
      ),
      op(
        'getJobsByDate',
        'read',
        false,
        [{ name: 'from', type: 'dateTime' }, { name: 'to', type: 'dateTime' }, ...page],
        [{ name: 'jobData', type: 'JobData', optional: true, repeated: true }],
        'Jobs created in a time range.',
      ),
      op(
        'getJobById',
        'read',
        false,
        [{ name: 'jobId', type: 'string', maxLength: 64 }],
        [{ name: 'jobData', type: 'JobData' }],
        'One job with its counters.',
      ),
      op(
        'getTasks',
        'read',
        false,
        [
          { name: 'jobId', type: 'string', maxLength: 64 },
          { name: 'status', type: 'string', optional: true, maxLength: 16 },
          ...page,
        ],
        [{ name: 'taskData', type: 'TaskData', optional: true, repeated: true }],
        "A job's tasks.",
      ),
      op(
        'getTaskHistory',
        'read',
        false,
        [{ name: 'taskId', type: 'string', maxLength: 64 }],
        [{ name: 'taskHistoryEntry', type: 'TaskHistoryEntry', optional: true, repeated: true }],
        "Every state change of a task, in order.",
      ),
      // Long operations and device views (issue 14).
      op(
        'getJobHistory',
        'read',
        false,
        [{ name: 'jobId', type: 'string', maxLength: 64 }, ...page],
        [{ name: 'jobHistoryEntry', type: 'JobHistoryEntry', optional: true, repeated: true }],
        "A job's events (created, paused, restarted, cancelled, waves, thresholds, completion), in order.",
      ),
      // Content (issue 14).
      op(
        'createContent',
        'content-write',
        true,
        [{ name: 'content', type: 'Content' }],
        [{ name: 'contentId', type: 'string' }],
        'Registers a package: with url, an external one (READY); without, one to upload with PUT /content/{contentId} (AWAITING_UPLOAD).',
      ),
      op(
        'getContent',
        'read',
        false,
        [{ name: 'contentId', type: 'string', maxLength: 64 }],
        [{ name: 'content', type: 'Content' }],
        'A package record.',
      ),
      op(
        'getContents',
        'read',
        false,
        page,
        [{ name: 'content', type: 'Content', optional: true, repeated: true }],
        'Package records, oldest first.',
      ),
      op(
        'deleteContent',
        'content-write',
        true,
        [{ name: 'contentId', type: 'string', maxLength: 64 }],
        [],
        'Removes a package no open task uses.',
      ),
      // Webhooks (issue 16).
      op(
        'createWebhook',
        'webhooks',
        true,
        [{ name: 'webhook', type: 'Webhook' }],
        [{ name: 'webhookId', type: 'string' }],
        'Registers a URL to which the gateway POSTs the events named (task.created, task.status, job.status, or *), signed with the secret.',
      ),
      op(
        'getWebhooks',
        'webhooks',
        false,
        [],
        [{ name: 'webhook', type: 'Webhook', optional: true, repeated: true }],
        'Registered webhooks, oldest first (never their secrets).',
      ),
      op(
        'deleteWebhook',
        'webhooks',
        true,
        [{ name: 'webhookId', type: 'string', maxLength: 64 }],
        [],
        'Removes a webhook; its pending deliveries are dropped.',
      ),
    ],
  },
  {
    name: 'DeviceManager',
    portType: 'IDeviceManagerServices',
    path: '/dmwsi/DeviceManager',
    operations: [
      ...sessionOperations,
      op(
        'createDeviceInstance',
        'registry-write',
        true,
        [{ name: 'device', type: 'DeviceInstance' }],
        [{ name: 'deviceId', type: 'string' }],
        'Registers a device.',
      ),
      op(
        'updateDeviceInstance',
        'registry-write',
        true,
        [{ name: 'device', type: 'DeviceInstance' }],
        [],
        'Changes a registered device; omitted optional fields keep their values.',
      ),
      op(
        'deleteDeviceInstance',
        'registry-write',
        true,
        [{ name: 'deviceId', type: 'string', maxLength: 128 }],
        [],
        'Removes a device that has no open task.',
      ),
      op(
        'getDeviceInstanceByDeviceID',
        'read',
        false,
        [{ name: 'deviceId', type: 'string', maxLength: 128 }],
        [{ name: 'deviceInstance', type: 'DeviceInstance' }],
        'A device by its id.',
      ),
      op(
        'getDeviceInstanceByPhoneNumber',
        'read',
        false,
        [{ name: 'phoneNumber', type: 'string', maxLength: 16 }],
        [{ name: 'deviceInstance', type: 'DeviceInstance' }],
        'A device by its phone number.',
      ),
      op(
        'getDeviceInstances',
        'read',
        false,
        page,
        [{ name: 'deviceInstance', type: 'DeviceInstance', optional: true, repeated: true }],
        'Devices ordered by id.',
      ),
      op(
        'importDeviceInstances',
        'registry-write',
        true,
        [
          { name: 'devices', type: 'DeviceInstance', optional: true, repeated: true },
          { name: 'csv', type: 'string', optional: true },
        ],
        [{ name: 'importResult', type: 'ImportResult' }],
        'Registers or updates many devices from records and/or CSV text; idempotent by deviceId.',
      ),
      op(
        'createDeviceCapability',
        'registry-write',
        true,
        [{ name: 'capability', type: 'DeviceCapability' }],
        [{ name: 'oid', type: 'string' }],
        'Registers a device capability (make, model, firmware).',
      ),
      op(
        'updateDeviceCapability',
        'registry-write',
        true,
        [{ name: 'capability', type: 'DeviceCapability' }],
        [],
        'Changes a device capability.',
      ),
      op(
        'getDeviceCapabilityByOid',
        'read',
        false,
        [{ name: 'oid', type: 'string', maxLength: 128 }],
        [{ name: 'deviceCapability', type: 'DeviceCapability' }],
        'A device capability by oid.',
      ),
      op(
        'getDeviceCapabilities',
        'read',
        false,
        page,
        [{ name: 'deviceCapability', type: 'DeviceCapability', optional: true, repeated: true }],
        'Device capabilities ordered by oid.',
      ),
      // Long operations and device views (issue 14).
      op(
        'getDeviceInfo',
        'read',
        false,
        [{ name: 'deviceId', type: 'string', maxLength: 128 }],
        [{ name: 'deviceInfo', type: 'DeviceInfo' }],
        'What the device reported: DevInfo, DevDetail and its software inventory.',
      ),
      op(
        'getDeviceTasks',
        'read',
        false,
        [{ name: 'deviceId', type: 'string', maxLength: 128 }, ...page],
        [{ name: 'taskData', type: 'TaskData', optional: true, repeated: true }],
        "Every task made for the device, single and job tasks, newest first.",
      ),
    ],
  },
];

export const USER_SESSION_FIELD = userSession;

export function serviceSpec(name: ServiceName): ServiceSpec {
  const s = SERVICES.find((x) => x.name === name);
  if (!s) throw new Error(`unknown service ${name}`);
  return s;
}

/** The full input of an operation, userSession first (login has none). */
export function inputFields(op: OperationSpec): readonly FieldSpec[] {
  return op.name === 'login' ? op.input : [userSession, ...op.input];
}
