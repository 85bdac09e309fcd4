/** What the deployment broker needs besides the stores: the device command path, the job queue, caches. */
import type { UiMode } from '../../dm/notification/package0.js';
import type { NotificationOutcome } from '../../dm/server/ports.js';
import type { ServerCommandRequest } from '../../dm/session/server-commands.js';
import type { DeviceGuard } from '../../dm/server/guard.js';

export type GuardedRequest = ServerCommandRequest & { guard?: DeviceGuard };

export interface DeviceCommandPort {
  /** Queues a request for the device's next session (idempotent by request id). */
  submit(deviceId: string, request: GuardedRequest): Promise<{ queued: boolean }>;
  /** Sends a Package#0 trigger; `resync`: signed with the resync nonce (a device that did not come after an earlier trigger). */
  notify(deviceId: string, opts: { uiMode: UiMode; resync?: boolean }): Promise<NotificationOutcome>;
  /**
   * For a batch of notifications: the devices read together, and a function that sends to one of
   * them as `notify` would (one read for the batch instead of one per device).
   */
  notifierFor(deviceIds: readonly string[]): Promise<(deviceId: string, opts: { uiMode: UiMode; resync?: boolean }) => Promise<NotificationOutcome>>;
  /** Removes requests that no session has taken yet. */
  withdraw(deviceId: string, requestIds: string[]): Promise<void>;
}

/** A task of a notify batch whose try failed: a notify job of its own tries it again. */
export interface NotifyFailure {
  taskId: string;
  reason: string;
}

/** Background work for tasks (BullMQ in the gateway). Job ids are deterministic. */
export interface TaskJobs {
  notify(taskId: string, attempt: number, delayMs?: number): Promise<void>;
  expire(taskId: string, at: Date): Promise<void>;
  bootstrap(taskId: string): Promise<void>;
  /**
   * A wake of the task's device for a request queued after the task ended (its MO's Delete): `why`
   * names the occasion, `round` counts the tries a notification budget put off (both in the job id).
   */
  wake(taskId: string, why: string, round: number, delayMs?: number): Promise<void>;
}

/** Short-lived keys in Redis. */
export interface BrokerCache {
  /** Stores value under key unless present; returns what the key holds afterwards. */
  rememberFirst(key: string, value: string, ttlSeconds: number): Promise<string>;
  /** true the first time within ttl (one notification per device at a time). */
  claimOnce(key: string, ttlSeconds: number): Promise<boolean>;
  release(key: string): Promise<void>;
  /** Up to `want` tokens of a per-second budget shared by all processes (a job's notificationsPerSecond). */
  takeTokens(key: string, want: number, perSecond: number, at: number): Promise<number>;
}
