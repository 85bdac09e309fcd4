/**
 * Tasks and jobs: states, the transitions allowed between them, and the
 * operation a task carries (the contract's OperationDefinition).
 */

export const TASK_STATES = [
  'QUEUED',
  'NOTIFYING',
  'IN_SESSION',
  'SCHEDULED',
  'IN_PROGRESS',
  'COMPLETED',
  'FAILED',
  'MISSED',
  'CANCELLED',
  'EXPIRED',
] as const;
export type TaskStatus = (typeof TASK_STATES)[number];

export const TERMINAL_TASK_STATES: ReadonlySet<TaskStatus> = new Set(['COMPLETED', 'FAILED', 'MISSED', 'CANCELLED', 'EXPIRED']);

export const JOB_STATES = ['CREATED', 'RUNNING', 'PAUSED', 'CANCELLED', 'COMPLETED', 'COMPLETED_WITH_ERRORS'] as const;
export type JobStatus = (typeof JOB_STATES)[number];

/** Allowed moves. A terminal state never changes; history tells when something arrived too late. */
const NEXT: Record<TaskStatus, readonly TaskStatus[]> = {
  QUEUED: ['NOTIFYING', 'IN_SESSION', 'COMPLETED', 'FAILED', 'CANCELLED', 'EXPIRED'],
  NOTIFYING: ['NOTIFYING', 'IN_SESSION', 'FAILED', 'CANCELLED', 'EXPIRED'],
  IN_SESSION: ['NOTIFYING', 'SCHEDULED', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'MISSED', 'CANCELLED', 'EXPIRED'],
  SCHEDULED: ['IN_PROGRESS', 'COMPLETED', 'FAILED', 'MISSED', 'CANCELLED', 'EXPIRED'],
  /** The device runs a long operation (Exec answered 202, or a FUMO/SCOMO target a schedule ran): its final alert ends it. */
  IN_PROGRESS: ['COMPLETED', 'FAILED', 'CANCELLED', 'EXPIRED'],
  COMPLETED: [],
  FAILED: [],
  MISSED: [],
  CANCELLED: [],
  EXPIRED: [],
};

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return NEXT[from].includes(to);
}

export function isTaskStatus(s: string): s is TaskStatus {
  return (TASK_STATES as readonly string[]).includes(s);
}

/** Firmware and software operations: the gateway plans their commands on the device's FUMO/SCOMO MO. */
export const MO_OPERATION_NAMES = [
  'FIRMWARE_UPDATE',
  'SOFTWARE_INSTALL',
  'SOFTWARE_ACTIVATE',
  'SOFTWARE_DEACTIVATE',
  'SOFTWARE_REMOVE',
  'SOFTWARE_INVENTORY',
] as const;
export type MoOperationName = (typeof MO_OPERATION_NAMES)[number];

export const OPERATION_NAMES = ['QUERY', 'UPDATE', 'DELETE', 'EXEC', 'SCHEDULED_EXEC', 'CUSTOM', ...MO_OPERATION_NAMES] as const;
export type OperationName = (typeof OPERATION_NAMES)[number];

export function isMoOperation(name: string): name is MoOperationName {
  return (MO_OPERATION_NAMES as readonly string[]).includes(name);
}

export const COMMAND_VERBS = ['Get', 'Replace', 'Add', 'Delete', 'Exec'] as const;
export type CommandVerb = (typeof COMMAND_VERBS)[number];

export interface OperationCommand {
  verb: CommandVerb;
  uri: string;
  value?: string;
  format?: string;
  type?: string;
}

/** BOOTSTRAP is internal (doBootstrap); callers name only the contract's operations. */
export type TaskOperationName = OperationName | 'BOOTSTRAP';

export interface OperationDefinition {
  name: TaskOperationName;
  commands: OperationCommand[];
  /** SCHEDULED_EXEC: the node the device executes at atTime. */
  targetUri?: string;
  /** SCHEDULED_EXEC: as given (UTC with Z, or local time without a zone). */
  atTime?: string;
  /** An Exec the device answers 202 waits for the device's final alert (IN_PROGRESS); absent or false: 202 completes. */
  awaitResult?: boolean;
  /** FIRMWARE_UPDATE, SOFTWARE_INSTALL: the package (a content record) to deliver. */
  contentId?: string;
  /** SOFTWARE_ACTIVATE, SOFTWARE_DEACTIVATE, SOFTWARE_REMOVE: the deployed component's ID. */
  componentId?: string;
  /** SOFTWARE_INSTALL: install active (default) or inactive. */
  activate?: boolean;
}

/** A value a QUERY brought back. */
export interface ResultItem {
  uri: string;
  value: string;
  format?: string;
}

/** 10 same TAC, 20 any IMEI if none registered, 30 any IMEI, 40 carrier call-back (not implemented). */
export type AcceptDevicePolicy = 10 | 20 | 30;

export interface Task {
  taskId: string;
  jobId?: string;
  deviceId: string;
  phoneNumber?: string;
  operation: OperationDefinition;
  status: TaskStatus;
  resultCode?: number;
  dmStatus?: number;
  correlator?: string;
  results: ResultItem[];
  bOptin: boolean;
  acceptDevicePolicy: AcceptDevicePolicy;
  testCycle: boolean;
  deadline?: Date;
  /** Place in its job, from 1. */
  jobSeq?: number;
  /** The package the task delivers (FIRMWARE_UPDATE, SOFTWARE_INSTALL): deleteContent is refused while the task is open. */
  contentId?: string;
  /** The correlation id of the call that created it (logs only; never part of the contract). */
  correlationId?: string;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

/** Rollout options of a bulk job (all optional). */
export interface DeploymentOptions {
  firstWaveSize?: number;
  waveSize?: number;
  notificationsPerSecond?: number;
  maxConcurrentSessions?: number;
  /** A cap on the job's devices holding a download slot (told to fetch a package, result not yet in). */
  maxConcurrentDownloads?: number;
  errorThresholdPercent?: number;
  /** SCHEDULED_EXEC: wave k (from 1) runs at atTime + (k − 1) × this. */
  waveIntervalSeconds?: number;
  startAt?: Date;
  deadline?: Date;
  /** Targets the job by a filter over the registry instead of a list (see TargetFilter). */
  targetFilter?: TargetFilter;
}

/**
 * A job's targets as a filter over the device registry: every device that
 * matches all the conditions given. `allDevices` true, with no condition,
 * targets every registered device (a filter with no condition is refused, so
 * that an empty filter never means "everything" by mistake).
 */
export interface TargetFilter {
  allDevices?: boolean;
  capabilityOid?: string;
  make?: string;
  model?: string;
  firmwareVersion?: string;
  /** Exact, case-sensitive (IMEI and MEID ids are stored upper-case; an imei:/meid: prefix is upper-cased too). */
  deviceIdPrefix?: string;
  /** E.164 digits from the start, e.g. `+4917`. */
  phoneNumberPrefix?: string;
}

export type JobCounters = Record<
  'queued' | 'notifying' | 'inSession' | 'scheduled' | 'inProgress' | 'completed' | 'failed' | 'missed' | 'cancelled' | 'expired',
  number
>;

/** The JobData counter that holds each task state. */
export const JOB_COUNTER_OF: Readonly<Record<TaskStatus, keyof JobCounters>> = {
  QUEUED: 'queued',
  NOTIFYING: 'notifying',
  IN_SESSION: 'inSession',
  SCHEDULED: 'scheduled',
  IN_PROGRESS: 'inProgress',
  COMPLETED: 'completed',
  FAILED: 'failed',
  MISSED: 'missed',
  CANCELLED: 'cancelled',
  EXPIRED: 'expired',
};

/** A job's counters before any of its tasks is counted. */
export const NO_TASKS_COUNTED: Readonly<JobCounters> = {
  queued: 0,
  notifying: 0,
  inSession: 0,
  scheduled: 0,
  inProgress: 0,
  completed: 0,
  failed: 0,
  missed: 0,
  cancelled: 0,
  expired: 0,
};

export interface Job extends JobCounters {
  jobId: string;
  status: JobStatus;
  operationName: string;
  operation?: OperationDefinition;
  options: DeploymentOptions;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  startedAt?: Date;
  total: number;
  /** The correlation id of the createJob/createDeployments call (logs only). */
  correlationId?: string;
}

export interface JobHistoryEntry {
  jobId: string;
  seq: number;
  at: Date;
  fromStatus?: JobStatus;
  toStatus: JobStatus;
  event: string;
  /** The caller whose call caused it; absent for the gateway's own events (waves, thresholds, completion). */
  by?: string;
  detail?: string;
}

export interface TaskHistoryEntry {
  taskId: string;
  seq: number;
  at: Date;
  fromStatus?: TaskStatus;
  toStatus: TaskStatus;
  event: string;
  code?: number;
  detail?: string;
}
