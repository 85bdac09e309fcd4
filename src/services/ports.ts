/**
 * What the domain services need from the outside world, as small interfaces.
 * Persistence and Redis adapters implement them; services import no
 * typeorm, bullmq, ioredis, express or soap.
 */
import type { Readable } from 'node:stream';
import type { DeviceAlert } from '../dm/server/ports.js';
import type { Content } from '../domain/content.js';
import type { CallerRole } from '../domain/roles.js';
import type { Job, JobHistoryEntry, JobStatus, ResultItem, Task, TaskHistoryEntry, TaskStatus } from '../domain/tasks.js';
import type { DeviceCapability, DeviceComponent, DeviceContactPatch, DeviceInstance, DeviceState, Page } from '../domain/registry.js';
import type { WebhookStore } from './webhooks/ports.js';

export interface CapabilityStore {
  /** Throws DmwsiError AlreadyExists on a duplicate oid or make/model/firmware. */
  insert(cap: DeviceCapability, at: number): Promise<void>;
  /** false when no such oid. Throws AlreadyExists on a make/model/firmware clash. */
  update(cap: DeviceCapability, at: number): Promise<boolean>;
  get(oid: string): Promise<DeviceCapability | undefined>;
  /** The capability of a device, in one read (the broker's MO roots per DM message). */
  ofDevice(deviceId: string): Promise<DeviceCapability | undefined>;
  /** ofDevice and the MO roots found on the device (its dev_info), in the same one read. */
  rootsOfDevice(deviceId: string): Promise<DeviceMoRoots | undefined>;
  list(page: Page): Promise<DeviceCapability[]>;
  allOids(): Promise<Set<string>>;
  /** Every capability (they are few: one per make, model and firmware). */
  all(): Promise<DeviceCapability[]>;
}

/** A device's capability, and the MO roots the gateway found on the device itself (mo-operations.ts). */
export interface DeviceMoRoots {
  capability: DeviceCapability;
  found?: { fumo?: string; scomo?: string };
}

/** A device as stored, secrets in the clear (the store seals them). */
export type DeviceRecord = DeviceInstance;

/** A device as the API shows it: no secrets, only the DM client username. */
export type DeviceView = Omit<DeviceRecord, 'credentials'> & { clientUsername: string };

/** A device as a job target: no secrets, nothing to open (a job may have 100,000). */
export interface DeviceTarget {
  deviceId: string;
  phoneNumber: string;
  capabilityOid: string;
}

export interface DeviceStore {
  /** Throws AlreadyExists on a duplicate deviceId or phoneNumber. */
  insert(device: DeviceRecord): Promise<void>;
  /** Throws AlreadyExists on a phoneNumber clash; false when no such device. */
  update(device: DeviceRecord): Promise<boolean>;
  delete(deviceId: string): Promise<boolean>;
  get(deviceId: string): Promise<DeviceRecord | undefined>;
  getByPhone(phoneNumber: string): Promise<DeviceRecord | undefined>;
  /** As get, without opening the sealed secrets (for reads that never return them). */
  getView(deviceId: string): Promise<DeviceView | undefined>;
  getViewByPhone(phoneNumber: string): Promise<DeviceView | undefined>;
  list(page: Page): Promise<DeviceRecord[]>;
  /** The stored devices among these ids. */
  getMany(deviceIds: string[]): Promise<Map<string, DeviceRecord>>;
  /** What a job needs of each of these devices (those stored), by device id. */
  targetsById(deviceIds: string[]): Promise<Map<string, DeviceTarget>>;
  /** What a job needs of the devices with these phone numbers, by phone number. */
  targetsByPhone(phoneNumbers: string[]): Promise<Map<string, DeviceTarget>>;
  /** Devices of these capabilities, in id order after `afterDeviceId` (paging a filter). */
  targetsByCapabilities(oids: string[], afterDeviceId: string, limit: number): Promise<DeviceTarget[]>;
  /** deviceId owning each of these phone numbers. */
  ownersOfPhones(phoneNumbers: string[]): Promise<Map<string, string>>;
  /** Inserts or replaces each device (by deviceId) in one statement. */
  upsertMany(devices: DeviceRecord[]): Promise<void>;
  /** Tasks of this device not yet in a terminal state. */
  openTaskCount(deviceId: string): Promise<number>;
  setState(deviceId: string, state: DeviceState, at: number): Promise<boolean>;
  /** Applies what a DM session learned (contact time, state, DevInfo, nonces). false: no such device. */
  recordContact(deviceId: string, patch: DeviceContactPatch): Promise<boolean>;
}

export interface AuditEntry {
  caller: string;
  operation: string;
  target?: string;
  /** 'ok' or an error code. */
  outcome: string;
  detail?: string;
}

export interface AuditTrail {
  record(entry: AuditEntry, at: number): Promise<void>;
}

export interface ApiUser {
  username: string;
  role: CallerRole;
  passwordHash: string;
  /** The password sealed with the gateway key (for WS-Security PasswordDigest). */
  passwordSealed: string;
  disabled: boolean;
  failedLogins: number;
  lockedUntil?: number;
}

export interface UserStore {
  get(username: string): Promise<ApiUser | undefined>;
  /** Creates or replaces a user. */
  save(user: ApiUser, at: number): Promise<void>;
  recordFailure(username: string, failedLogins: number, lockedUntil: number | undefined, at: number): Promise<void>;
  recordSuccess(username: string, at: number): Promise<void>;
  count(): Promise<number>;
}

/** Device alerts as reported (Generic Alerts), handled or not. */
export interface DeviceAlertStore {
  record(alert: DeviceAlert, handled: boolean): Promise<void>;
  /** Marks not handled the latest record of this alert (one that rode on a move as handled). */
  unhandle(alert: DeviceAlert): Promise<void>;
  forDevice(deviceId: string, limit?: number): Promise<(DeviceAlert & { handled: boolean })[]>;
}

/** A device's software inventory as last read (SCOMO), for getDeviceInfo. */
export interface DeviceInventoryStore {
  /** Replaces the device's component list with this reading. false: no such device. */
  record(deviceId: string, components: readonly DeviceComponent[], at: number): Promise<boolean>;
  /** The last reading; `at` absent when the inventory was never read. */
  get(deviceId: string): Promise<{ components: DeviceComponent[]; at?: Date }>;
}

/** What a state change records besides the new state. */
export interface TaskChange {
  event: string;
  /** Only move when the task is in one of these states. */
  from?: readonly TaskStatus[];
  code?: number;
  detail?: string;
  resultCode?: number;
  dmStatus?: number;
  results?: ResultItem[];
  correlator?: string;
}

/** One task's note in TaskStore.noteMany. */
export interface TaskNote {
  taskId: string;
  change: TaskChange;
}

export type TransitionResult = { moved: true; task: Task } | { moved: false; task: Task | undefined };

/**
 * Tasks and their history. Every state change is one history row written in
 * the same transaction (call these inside `Transactor.run`); history is never
 * rewritten. A task in a job moves the job's per-state counters in the same
 * transaction too.
 */
export interface TaskInContext {
  task: Task;
  /** Absent for a single task (or a job gone). */
  jobStatus?: JobStatus;
  /** Absent when its device is gone. */
  roots?: DeviceMoRoots;
}

export interface TaskStore {
  insert(task: Task, event: string, detail?: string): Promise<void>;
  get(taskId: string): Promise<Task | undefined>;
  /**
   * The task with what handling it needs, in one read where it took up to three: its job's status, and
   * its device's capability with the MO roots found on the device (as rootsOfDevice).
   */
  getInContext(taskId: string): Promise<TaskInContext | undefined>;
  /** getInContext of many tasks in one read (a release's notify batch); a task not found has no entry. */
  getInContextMany(taskIds: readonly string[]): Promise<Map<string, TaskInContext>>;
  transition(taskId: string, to: TaskStatus, change: TaskChange, at: number): Promise<TransitionResult>;
  /**
   * The same move of many tasks, each as `transition` would move it (`change.from` and the allowed
   * moves checked per task: one that may not move is left as it is), atomic as a whole. One entry per
   * id, in no particular order; an unknown task's is `{ moved: false, task: undefined }`.
   */
  transitionMany(taskIds: readonly string[], to: TaskStatus, change: TaskChange, at: number): Promise<Map<string, TransitionResult>>;
  /** A history row that records an event without a state change (from = to). */
  note(taskId: string, change: TaskChange, at: number): Promise<void>;
  /** `note` of many tasks, atomic as a whole; at most one note per task (throws otherwise). */
  noteMany(notes: readonly TaskNote[], at: number): Promise<void>;
  history(taskId: string): Promise<TaskHistoryEntry[]>;
  /** A device's tasks of one operation that have not ended. */
  openForDevice(deviceId: string, operationName: string): Promise<Task[]>;
  /** Every task of a device, single and job tasks, newest first. */
  forDevice(deviceId: string, page: Page): Promise<Task[]>;
  /** QUEUED tasks that should have a notify job: single tasks, and job tasks the dispatcher released. */
  notifiable(limit: number): Promise<string[]>;
  /**
   * Tasks waiting for their device (notifiable QUEUED ones, NOTIFYING,
   * IN_SESSION) with no progress for `retryMs` and for at least as long as
   * they had lived before it (so retries thin out as a task ages), oldest
   * first. `since`: when the task last moved (or was released).
   */
  stalled(now: number, retryMs: number, maxRetryMs: number, limit: number): Promise<{ taskId: string; since: number }[]>;
  /** How many tasks not in an end state use this content. */
  openTasksUsing(contentId: string): Promise<number>;
}

/** Content records (the package bytes live elsewhere: ContentFiles). */
export interface ContentStore {
  insert(content: Content): Promise<void>;
  get(contentId: string): Promise<Content | undefined>;
  /** Oldest first. */
  list(page: Page): Promise<Content[]>;
  /** AWAITING_UPLOAD to READY; false when the record is gone or already READY. */
  markReady(contentId: string, at: number): Promise<boolean>;
  delete(contentId: string): Promise<boolean>;
}

export interface WaveStats {
  total: number;
  /** SCHEDULED or ended. */
  settled: number;
  /** SCHEDULED: armed, its report not yet in (settled only where a wave's schedules need not have run). */
  scheduled: number;
  /** FAILED, MISSED or EXPIRED. */
  bad: number;
}

/** Bulk jobs: rows, history, and the task queries rollouts need. */
export interface JobStore {
  insert(job: Job, event: string, detail?: string): Promise<void>;
  get(jobId: string): Promise<Job | undefined>;
  list(status: JobStatus | undefined, page: Page): Promise<Job[]>;
  listByDate(from: Date, to: Date, page: Page): Promise<Job[]>;
  /** CANCELLED jobs with tasks still QUEUED or NOTIFYING: their cancel pass has not run to the end. */
  cancelledWithWaitingTasks(limit: number): Promise<string[]>;
  /** `by`: the caller whose call made the change (job history). */
  transition(
    jobId: string,
    to: JobStatus,
    change: { event: string; from?: readonly JobStatus[]; detail?: string; startedAt?: number; by?: string },
    at: number,
  ): Promise<{ moved: boolean; job: Job | undefined }>;
  note(jobId: string, event: string, detail: string, at: number): Promise<void>;
  /** The job's events in order (all of them without a page). */
  history(jobId: string, page?: Page): Promise<JobHistoryEntry[]>;
  insertTasks(jobId: string, tasks: Task[], at: number): Promise<void>;
  /** Counts `n` tasks written by a filter expansion: the job's total and queued counters. */
  countAddedTasks(jobId: string, n: number, at: number): Promise<void>;
  /** A page of the job's tasks in job order after `afterSeq` (keyset: cheap at any depth). */
  tasksAfter(jobId: string, afterSeq: number, limit: number): Promise<Task[]>;
  tasksOf(jobId: string, status: TaskStatus | undefined, page: Page): Promise<Task[]>;
  releasable(jobId: string, uptoSeq: number, limit: number): Promise<string[]>;
  markReleased(taskIds: string[], at: number): Promise<void>;
  unrelease(taskId: string): Promise<void>;
  releasedQueued(jobId: string): Promise<number>;
  highestReleased(jobId: string): Promise<number>;
  waveStats(jobId: string, fromSeq: number, toSeq: number): Promise<WaveStats>;
  openTaskIds(jobId: string, statuses: readonly TaskStatus[], limit: number): Promise<string[]>;
}

/** A job's target filter as the database applies it: capabilities (null: any) and exact prefixes. */
export interface ExpansionFilter {
  /** The capabilities whose devices get a task; null: every capability. */
  oids: string[] | null;
  deviceIdPrefix?: string;
  phoneNumberPrefix?: string;
}

/** What the tasks of one chunk of a filter job are written with. */
export interface ExpansionChunk {
  /** Devices of the registry (matching or not) the chunk's id range spans at most: bounds the chunk's work. */
  rangeSize: number;
  /** Tasks the chunk may write at most (the rest of the current wave when schedules are spaced). */
  limit: number;
  operationName: string;
  operationJson: string;
  contentId: string | null;
  /** SCHEDULED_EXEC: the task's correlator is this prefix and its task id; null otherwise. */
  correlatorPrefix: string | null;
  createdBy: string;
  at: number;
}

export interface ExpansionState {
  jobId: string;
  filter: ExpansionFilter;
  afterDeviceId: string;
  nextSeq: number;
  deadline: number;
  done: boolean;
}

/** Where the writing of a filter job's tasks stands, and the writing of one chunk. */
export interface JobExpansionStore {
  insert(state: Omit<ExpansionState, 'afterDeviceId' | 'nextSeq' | 'done'>, at: number): Promise<void>;
  /** Locks the row for the transaction (PostgreSQL; SQLite's transaction holds the write lock). */
  get(jobId: string, lock?: boolean): Promise<ExpansionState | undefined>;
  /**
   * Writes the tasks (QUEUED, with their first history rows) of the matching
   * devices in the next id range after the cursor, and moves the cursor past
   * them. Returns how many were written and whether the filter is exhausted.
   */
  writeChunk(state: ExpansionState, chunk: ExpansionChunk): Promise<{ written: number; done: boolean }>;
  /** Ends the expansion where it stands (the job was cancelled). */
  stop(jobId: string, at: number): Promise<void>;
  /** Expansions not finished whose cursor has not moved since `before`: their writer died. */
  stale(before: number, limit: number): Promise<string[]>;
  /** Devices per capability among those the filter's prefixes match, for these capabilities. */
  countByCapability(oids: string[], filter: ExpansionFilter): Promise<Map<string, number>>;
}

/** The stores a unit of work sees; within `Transactor.run` they share one transaction. */
export interface Stores {
  capabilities: CapabilityStore;
  devices: DeviceStore;
  audit: AuditTrail;
  users: UserStore;
  alerts: DeviceAlertStore;
  tasks: TaskStore;
  jobs: JobStore;
  inventory: DeviceInventoryStore;
  contents: ContentStore;
  expansions: JobExpansionStore;
  webhooks: WebhookStore;
}

export interface Transactor {
  /** Store calls outside any unit of work: each one is atomic by itself (a task move with its history row and counters). */
  readonly stores: Stores;
  run<T>(work: (stores: Stores) => Promise<T>): Promise<T>;
}

/** A package streamed in and verified in size and SHA-256, not yet in place. */
export interface ReceivedPackage {
  size: number;
  sha256: string;
  /** Puts the bytes in place as the content's package. */
  keep(): Promise<void>;
  discard(): Promise<void>;
}

/** Where package bytes are kept (a directory; several processes share it). */
export interface ContentFiles {
  /** Streams `source` in; throws PackageTooLarge past `limit` bytes, keeping nothing. */
  receive(contentId: string, source: Readable, limit: number): Promise<ReceivedPackage>;
  pathOf(contentId: string): string;
  /** The whole file, or undefined when it is over `limit` bytes (its size checked before reading). */
  readAtMost(contentId: string, limit: number): Promise<Buffer | undefined>;
  remove(contentId: string): Promise<void>;
}

/** Short-lived shared state (Redis): user sessions and the WS-Security nonce cache. */
export interface SessionStore {
  put(token: string, value: string, ttlSeconds: number): Promise<void>;
  get(token: string): Promise<string | undefined>;
  delete(token: string): Promise<void>;
  /** true the first time a key is claimed within its TTL, false on a replay. */
  claimOnce(key: string, ttlSeconds: number): Promise<boolean>;
}

export interface Sealer {
  seal(plain: string): string;
  open(sealed: string): string;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Who is calling and which operation, for audit rows written with the change. */
export interface CallContext {
  caller: string;
  operation: string;
  /** The WS-Addressing MessageID of the call, where it carried one: work-creating calls answer a retry with the first call's id. */
  messageId?: string;
  /** The call's correlation id: the tasks and jobs it creates keep it (log lines of their later work carry it). */
  correlationId?: string;
}
