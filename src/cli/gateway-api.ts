/**
 * The operations the CLI uses, typed as the contract shapes them (what the
 * client reads back: dates stay text, counts are numbers).
 */
import type { JobCounters as DomainJobCounters } from '../domain/tasks.js';
import type { GatewayClient } from './soap-client.js';

export { JOB_COUNTER_OF, TASK_STATES } from '../domain/tasks.js';
export type { TaskStatus as TaskState } from '../domain/tasks.js';

/** JobData's counts as the CLI reads them: the domain's per-state counters and the total. */
export interface JobCounters extends DomainJobCounters {
  total: number;
}

export interface JobData extends JobCounters {
  jobId: string;
  status: string;
  operationName: string;
  createdAt: string;
  createdBy: string;
}

/** Job states after which nothing changes any more. */
export const JOB_END_STATES = new Set(['COMPLETED', 'COMPLETED_WITH_ERRORS', 'CANCELLED']);

export interface TaskData {
  taskId: string;
  jobId?: string;
  deviceId: string;
  phoneNumber?: string;
  operationName: string;
  status: string;
  resultCode?: number;
  dmStatus?: number;
  createdAt: string;
  updatedAt: string;
  results: { uri: string; value: string; format?: string }[];
}

export interface TaskHistoryEntry {
  taskId: string;
  seq: number;
  at: string;
  fromStatus?: string;
  toStatus: string;
  event: string;
  code?: number;
  detail?: string;
}

export interface JobHistoryEntry {
  jobId: string;
  seq: number;
  at: string;
  event: string;
  by?: string;
  detail?: string;
}

export interface DeviceInstance {
  deviceId: string;
  phoneNumber: string;
  capabilityOid: string;
  notificationUrl?: string;
  smsAddress?: string;
  authType?: string;
  state?: string;
  lastContact?: string;
}

export interface ImportResult {
  imported: number;
  rejected: { row: number; reason: string }[];
}

export interface CommandDefinition {
  verb: string;
  uri: string;
  value?: string;
  format?: string;
  type?: string;
}

export interface OperationDefinition {
  name: string;
  commands?: { command: CommandDefinition[] };
  targetUri?: string;
  atTime?: string;
  awaitResult?: boolean;
  contentId?: string;
  componentId?: string;
  activate?: boolean;
}

export interface DeploymentOptions {
  firstWaveSize?: number;
  waveSize?: number;
  notificationsPerSecond?: number;
  maxConcurrentSessions?: number;
  errorThresholdPercent?: number;
  startAt?: string;
  deadline?: string;
  maxConcurrentDownloads?: number;
  waveIntervalSeconds?: number;
}

export interface DeviceCapability {
  oid: string;
  make: string;
  model: string;
  firmwareVersion: string;
  dmVersion: string;
  sseRoot?: string;
}

export class GatewayApi {
  constructor(readonly client: GatewayClient) {}

  async getJob(jobId: string): Promise<JobData> {
    return (await this.client.call<{ jobData: JobData }>('BulkOperationsManager', 'getJobById', { jobId })).jobData;
  }

  async getJobs(status: string | undefined, offset: number, limit: number): Promise<JobData[]> {
    return (
      await this.client.call<{ jobData: JobData[] }>('BulkOperationsManager', 'getJobs', { ...(status && { status }), offset, limit })
    ).jobData;
  }

  async createDeployments(operation: OperationDefinition, targets: string[], options: DeploymentOptions): Promise<string> {
    const r = await this.client.call<{ jobId: string }>('BulkOperationsManager', 'createDeployments', { operation, targets, options });
    return r.jobId;
  }

  async jobCommand(command: 'pauseJob' | 'restartJob' | 'cancelJob', jobId: string): Promise<void> {
    await this.client.call('BulkOperationsManager', command, { jobId });
  }

  async getTask(taskId: string): Promise<TaskData> {
    return (await this.client.call<{ taskData: TaskData }>('DeploymentBroker', 'getTaskById', { taskId })).taskData;
  }

  async getTaskHistory(taskId: string): Promise<TaskHistoryEntry[]> {
    return (await this.client.call<{ taskHistoryEntry: TaskHistoryEntry[] }>('BulkOperationsManager', 'getTaskHistory', { taskId }))
      .taskHistoryEntry;
  }

  async getJobHistory(jobId: string, offset: number, limit: number): Promise<JobHistoryEntry[]> {
    return (
      await this.client.call<{ jobHistoryEntry: JobHistoryEntry[] }>('BulkOperationsManager', 'getJobHistory', { jobId, offset, limit })
    ).jobHistoryEntry;
  }

  /** By device id, or by phone number when it starts with '+'. */
  async getDevice(idOrPhone: string): Promise<DeviceInstance> {
    const r = idOrPhone.startsWith('+')
      ? await this.client.call<{ deviceInstance: DeviceInstance }>('DeviceManager', 'getDeviceInstanceByPhoneNumber', { phoneNumber: idOrPhone })
      : await this.client.call<{ deviceInstance: DeviceInstance }>('DeviceManager', 'getDeviceInstanceByDeviceID', { deviceId: idOrPhone });
    return r.deviceInstance;
  }

  async importCsv(csv: string): Promise<ImportResult> {
    return (await this.client.call<{ importResult: ImportResult }>('DeviceManager', 'importDeviceInstances', { csv })).importResult;
  }

  async createCapability(capability: DeviceCapability): Promise<string> {
    return (await this.client.call<{ oid: string }>('DeviceManager', 'createDeviceCapability', { capability })).oid;
  }
}
