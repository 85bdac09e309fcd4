/**
 * Jobs whose targets are DeploymentOptions.targetFilter: the filter is
 * resolved against the capabilities (few) into what the database applies to
 * the devices (many), and the job's tasks are written chunk by chunk inside
 * the database, each chunk one short transaction that also moves the job's
 * cursor (job-expansion-store). Nothing here holds more than one chunk's
 * numbers: a filter over 1,000,000 devices costs the same memory as one over
 * 1,000.
 *
 * Crash safety: the job and its cursor are committed before the first chunk.
 * Whoever dies mid-way leaves the cursor where its last chunk committed, and
 * any process may go on from there: the call retried with its MessageID, the
 * job's dispatch tick (which finishes an unfinished expansion before releasing
 * anything, and is queued for every CREATED job when a worker starts), or the
 * stalled-work sweep (expansions whose cursor stood still for a while).
 * Chunks of two writers at once take turns on the cursor row (locked on
 * PostgreSQL, the write lock on SQLite) and task ids follow the cursor, so no
 * target gets two tasks and none is skipped.
 */
import { setImmediate as nextTurnOfLoop } from 'node:timers/promises';
import { waveEnd } from '../../domain/deployment-options.js';
import { describeTargetFilter } from '../../domain/target-filter.js';
import { laterScheduleTime } from '../../domain/operation-validation.js';
import type { Content } from '../../domain/content.js';
import type { DeploymentOptions, Job, OperationDefinition, TargetFilter } from '../../domain/tasks.js';
import { packageAppliesTo } from '../broker/package-applicability.js';
import { SSE_CORRELATOR_PREFIX } from '../broker/plan.js';
import type { Clock, ExpansionChunk, ExpansionFilter, Stores, Transactor } from '../ports.js';

/** Devices walked per chunk (matching or not): a chunk is tens of milliseconds of one transaction. */
export const EXPANSION_RANGE = 10_000;

const STOPPING = new Set(['CANCELLED', 'COMPLETED', 'COMPLETED_WITH_ERRORS']);

export interface ResolvedFilter {
  filter: ExpansionFilter;
  /** Job history notes: capabilities the filter matched that get no task, and why. */
  notes: { event: string; detail: string }[];
}

/**
 * The capabilities whose devices get a task: those the filter names (all when
 * it names none), less those the operation cannot run on (SCHEDULED_EXEC
 * without a SingleShotExec root; a package that does not apply).
 */
export async function resolveFilter(
  stores: Stores,
  f: TargetFilter,
  operation: OperationDefinition,
  content: Content | undefined,
): Promise<ResolvedFilter> {
  const caps = await stores.capabilities.all();
  const named = caps.filter(
    (c) =>
      (f.capabilityOid === undefined || c.oid === f.capabilityOid) &&
      (f.make === undefined || c.make === f.make) &&
      (f.model === undefined || c.model === f.model) &&
      (f.firmwareVersion === undefined || c.firmwareVersion === f.firmwareVersion),
  );
  const noSse = operation.name === 'SCHEDULED_EXEC' ? named.filter((c) => !c.sseRoot) : [];
  const notApplicable = content ? named.filter((c) => !packageAppliesTo(content, c).ok) : [];
  const left = new Set([...noSse, ...notApplicable].map((c) => c.oid));
  const eligible = named.filter((c) => !left.has(c.oid)).map((c) => c.oid);
  const byCapability = f.capabilityOid !== undefined || f.make !== undefined || f.model !== undefined || f.firmwareVersion !== undefined;
  const filter: ExpansionFilter = {
    oids: byCapability || left.size > 0 ? eligible : null,
    ...(f.deviceIdPrefix ? { deviceIdPrefix: f.deviceIdPrefix } : {}),
    ...(f.phoneNumberPrefix ? { phoneNumberPrefix: f.phoneNumberPrefix } : {}),
  };
  const counts = await stores.expansions.countByCapability([...left], filter);
  const notes: ResolvedFilter['notes'] = [];
  for (const c of noSse) {
    const n = counts.get(c.oid) ?? 0;
    if (n) notes.push({ event: 'targets-rejected', detail: `${n} device(s) of capability ${c.oid}: its model has no SingleShotExec MO root` });
  }
  for (const c of notApplicable) {
    const n = counts.get(c.oid) ?? 0;
    if (n && !noSse.includes(c)) {
      notes.push({
        event: 'package-not-applicable',
        detail: `package ${content?.contentId} does not apply to ${n} device(s) of capability ${c.oid}; no task, nothing sent`,
      });
    }
  }
  return { filter, notes };
}

/** Wave (from 1) of job sequence number `seq`, without the job's total (a filter job's grows as it is written). */
function waveOfSeq(seq: number, o: DeploymentOptions): number {
  const first = o.firstWaveSize ?? o.waveSize;
  if (first === undefined || seq <= first) return 1;
  const size = o.waveSize ?? Number.POSITIVE_INFINITY;
  return 1 + Math.ceil((seq - first) / size);
}

export interface ExpanderDeps {
  tx: Transactor;
  clock: Clock;
  /** Devices walked per chunk (tests make it small to stop a job mid-way). */
  rangeSize?: number;
}

export class TargetExpander {
  private readonly rangeSize: number;

  constructor(private readonly d: ExpanderDeps) {
    this.rangeSize = d.rangeSize ?? EXPANSION_RANGE;
  }

  /**
   * Writes the job's remaining tasks, chunk by chunk, for up to `budgetMs`
   * (at least one chunk); true when none is left (or it is no filter job).
   */
  async finish(jobId: string, budgetMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const until = Date.now() + budgetMs;
    for (;;) {
      if (await this.d.tx.run((s) => this.chunk(s, jobId))) return true;
      if (Date.now() >= until) return false;
      // Other requests (on SQLite, other turns at the database) are served between chunks.
      await nextTurnOfLoop();
    }
  }

  /** Whether the job still has tasks to write. */
  async pending(jobId: string): Promise<boolean> {
    const state = await this.d.tx.stores.expansions.get(jobId);
    return state !== undefined && !state.done;
  }

  /** One chunk in the caller's transaction; true when the expansion is over. */
  private async chunk(s: Stores, jobId: string): Promise<boolean> {
    const state = await s.expansions.get(jobId, true);
    if (!state || state.done) return true;
    const job = await s.jobs.get(jobId);
    const at = this.d.clock.now();
    if (!job || STOPPING.has(job.status)) {
      await s.expansions.stop(jobId, at);
      if (job) await s.jobs.note(jobId, 'targets-stopped', `job ${job.status}: ${state.nextSeq - 1} task(s) written, no more`, at);
      return true;
    }
    const { written, done } = await s.expansions.writeChunk(state, this.chunkFor(job, state.nextSeq, at));
    await s.jobs.countAddedTasks(jobId, written, at);
    if (done) {
      const f = job.options.targetFilter;
      await s.jobs.note(jobId, 'targets-expanded', `${state.nextSeq - 1 + written} task(s) from the filter (${f ? describeTargetFilter(f) : ''})`, at);
    }
    return done;
  }

  private chunkFor(job: Job, nextSeq: number, at: number): ExpansionChunk {
    const base = job.operation!;
    const interval = job.options.waveIntervalSeconds;
    let operation = base;
    let limit = this.rangeSize;
    if (interval !== undefined && base.atTime) {
      // Spaced schedules: a chunk stays within one wave, whose tasks share its AtTime.
      const wave = waveOfSeq(nextSeq, job.options);
      limit = Math.max(1, Math.min(limit, waveEnd(wave, Number.POSITIVE_INFINITY, job.options) - nextSeq + 1));
      if (wave > 1) operation = { ...base, atTime: laterScheduleTime(base.atTime, (wave - 1) * interval) };
    }
    return {
      rangeSize: this.rangeSize,
      limit,
      operationName: operation.name,
      operationJson: JSON.stringify(operation),
      contentId: operation.contentId ?? null,
      correlatorPrefix: operation.name === 'SCHEDULED_EXEC' ? SSE_CORRELATOR_PREFIX : null,
      createdBy: job.createdBy,
      at,
    };
  }
}
