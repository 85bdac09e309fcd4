/**
 * Releases a job's tasks for notification, tick by tick: wave by wave (the
 * next wave only once the previous one has settled, and not when its failed
 * share passed the error threshold: the job then pauses itself, with a
 * history row saying why), within a cluster-wide notifications-per-second
 * budget and a cap on concurrent device sessions (both kept in Redis and the
 * database, so every worker process sees the same numbers).
 */
import type { Logger } from 'pino';
import { waveEnd } from '../../domain/deployment-options.js';
import type { Job } from '../../domain/tasks.js';
import { downloadsPackage } from '../broker/download-slots.js';
import type { Clock, Transactor } from '../ports.js';

export interface DispatchCache {
  /**
   * Takes up to `want` tokens from a per-second budget shared by all
   * processes; returns how many it got: those of the wall-clock second holding
   * `at` (ms). The tasks released with them are stamped `at`, so the budget
   * holds for every second of the stamps, also when the call lands in the
   * next second.
   */
  takeTokens(key: string, want: number, perSecond: number, at: number): Promise<number>;
  /** A short lock so two ticks of one job never overlap. */
  lock(key: string, ms: number): Promise<boolean>;
  unlock(key: string): Promise<void>;
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

export interface DispatchJobs {
  dispatch(jobId: string, delayMs: number): Promise<void>;
  /** Notify jobs of tasks released at `releasedAt` (the same time as markReleased's). */
  notifyMany(taskIds: string[], releasedAt: number): Promise<void>;
}

/** Writes the remaining tasks of a job that targets a filter (filter-expansion.ts). */
export interface DispatchExpander {
  pending(jobId: string): Promise<boolean>;
  finish(jobId: string): Promise<boolean>;
}

export interface DispatcherDeps {
  tx: Transactor;
  expander: DispatchExpander;
  cache: DispatchCache;
  jobs: DispatchJobs;
  clock: Clock;
  logger: Logger;
}

const MAX_PER_TICK = 500;
const BUSY_TICK_MS = 200;
const WAIT_TICK_MS = 1000;

export class JobDispatcher {
  constructor(private readonly d: DispatcherDeps) {}

  async tick(jobId: string): Promise<void> {
    // Short: a process that dies mid-tick must not stall the job for long (a tick takes milliseconds).
    if (!(await this.d.cache.lock(`dispatch-lock:${jobId}`, 5_000))) {
      await this.d.jobs.dispatch(jobId, 1_000);
      return;
    }
    let next: number | undefined;
    try {
      next = await this.release(jobId);
    } finally {
      await this.d.cache.unlock(`dispatch-lock:${jobId}`);
    }
    if (next !== undefined) await this.d.jobs.dispatch(jobId, next);
  }

  /** Releases what it may now; returns when to look again (undefined: not until something else asks). */
  private async release(jobId: string): Promise<number | undefined> {
    const s = this.d.tx.stores;
    let job = await s.jobs.get(jobId);
    if (!job) return undefined;
    // A filter job whose writer died mid-way: its tasks are all written before any is released
    // (waves and the end of the job are counted on its total). A job cancelled meanwhile has its
    // writing ended here (targets-stopped), so the sweep stops looking at it.
    if (job.options.targetFilter && (await this.d.expander.pending(jobId))) {
      await this.d.expander.finish(jobId);
      job = await s.jobs.get(jobId);
      if (!job) return undefined;
    }
    if (job.status !== 'CREATED' && job.status !== 'RUNNING') return undefined;
    const now = this.d.clock.now();
    if (job.status === 'CREATED') {
      const startAt = job.options.startAt?.getTime() ?? now;
      if (startAt > now) return startAt - now;
      await this.d.tx.run((t) => t.jobs.transition(jobId, 'RUNNING', { event: 'started', from: ['CREATED'], startedAt: now }, now));
    }
    const lowest = await s.jobs.releasable(jobId, job.total, 1);
    if (lowest.length === 0) return undefined;
    const first = await s.tasks.get(lowest[0]!);
    const seq = first?.jobSeq ?? 1;
    const wave = waveOf(seq, job.total, job.options);
    if (wave > 1) {
      const prevStart = wave > 2 ? waveEnd(wave - 2, job.total, job.options) + 1 : 1;
      const prevEnd = waveEnd(wave - 1, job.total, job.options);
      const stats = await s.jobs.waveStats(jobId, prevStart, prevEnd);
      // Spaced schedules: the next wave is armed only once this one's reports are in, so the threshold can stop it.
      const settled = job.options.waveIntervalSeconds !== undefined ? stats.settled - stats.scheduled : stats.settled;
      if (settled < stats.total) return WAIT_TICK_MS;
      const threshold = job.options.errorThresholdPercent;
      const share = stats.total ? (stats.bad * 100) / stats.total : 0;
      if (threshold !== undefined && share > threshold && (await this.approvedUpTo(jobId, wave - 1)) < wave - 1) {
        await this.d.tx.run((t) =>
          t.jobs.transition(jobId, 'PAUSED', {
            event: 'error-threshold',
            from: ['RUNNING'],
            detail: `wave ${wave - 1}: ${stats.bad} of ${stats.total} failed, missed or expired (${share.toFixed(1)}% > ${threshold}%)`,
          }, now),
        );
        return undefined;
      }
    }
    const end = waveEnd(wave, job.total, job.options);
    let want = MAX_PER_TICK;
    if (job.options.maxConcurrentSessions !== undefined) {
      const inFlight = job.notifying + job.inSession + (await s.jobs.releasedQueued(jobId));
      want = Math.min(want, job.options.maxConcurrentSessions - inFlight);
      if (want <= 0) return WAIT_TICK_MS / 4;
    }
    if (job.options.maxConcurrentDownloads !== undefined && downloadsPackage(job.operationName)) {
      want = Math.min(want, job.options.maxConcurrentDownloads - (await this.downloadSlotsHeld(job)));
      if (want <= 0) return WAIT_TICK_MS / 4;
    }
    if (job.options.notificationsPerSecond !== undefined) {
      want = await this.d.cache.takeTokens(`rate:${jobId}`, want, job.options.notificationsPerSecond, now);
      if (want <= 0) return BUSY_TICK_MS;
    }
    const waveStart = wave > 1 ? waveEnd(wave - 1, job.total, job.options) + 1 : 1;
    const ids = await this.d.tx.run(async (t) => {
      const chosen = await t.jobs.releasable(jobId, end, want);
      await t.jobs.markReleased(chosen, now);
      // A later wave's first release is the job event (the first wave's is 'started').
      if (wave > 1 && seq === waveStart && chosen.length) {
        await t.jobs.note(jobId, 'wave-released', `wave ${wave}: tasks ${waveStart} to ${end}`, now);
      }
      return chosen;
    });
    if (ids.length) await this.d.jobs.notifyMany(ids, now);
    return BUSY_TICK_MS;
  }

  /**
   * Download slots the job's devices hold: every released task not yet in an
   * end state (waiting for its notification, in session, IN_PROGRESS). A
   * device is counted from its release, before it is told to fetch, until its
   * final result is in: never more than the cap fetch at once, whatever the
   * order of sessions. The counts are the job's per-state counters, moved in
   * the transaction of each task move, so a slot is free again exactly when
   * its task ends, in whatever process, and a crash loses none.
   */
  private async downloadSlotsHeld(job: Job): Promise<number> {
    // Released-and-QUEUED first, the counters after: a task notified in between is counted twice
    // (the safe side), never not at all, as the job row read before the tick would have it.
    const releasedQueued = await this.d.tx.stores.jobs.releasedQueued(job.jobId);
    const now = (await this.d.tx.stores.jobs.get(job.jobId)) ?? job;
    return releasedQueued + now.notifying + now.inSession + now.scheduled + now.inProgress;
  }

  /**
   * The last wave an operator accepted by restarting the job: restartJob
   * marks it 'pending', and the first check after that accepts the wave at
   * hand, so a restart after an automatic pause goes on instead of pausing
   * again on the same numbers.
   */
  private async approvedUpTo(jobId: string, checking: number): Promise<number> {
    const key = `job-approved:${jobId}`;
    const v = await this.d.cache.get(key);
    if (v === 'pending') {
      await this.d.cache.set(key, String(checking));
      return checking;
    }
    return Number(v ?? 0);
  }
}

/** The wave (from 1) holding job sequence number `seq`. */
export function waveOf(seq: number, total: number, o: { firstWaveSize?: number; waveSize?: number }): number {
  let wave = 1;
  while (waveEnd(wave, total, o) < seq) wave++;
  return wave;
}
