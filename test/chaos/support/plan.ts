/**
 * What the crash test does to the gateway, and when: drawn from one seed
 * (printed, and settable with CHAOS_SEED), so a failing run can be replayed
 * with the same kills at the same moments of the rollout.
 */
import type { GatewayRole } from './cluster.js';

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type ChaosEvent =
  | { at: number; kind: 'kill'; role: GatewayRole; downMs: number; /** which of the role's processes (0-based) */ index: number }
  | { at: number; kind: 'redis-restart'; downMs: number; what?: string }
  | { at: number; kind: 'database-outage'; ms: number }
  | { at: number; kind: 'cancel'; seq: number }
  | { at: number; kind: 'pause'; resumeAfterMs: number };

export interface PlanOptions {
  /** Tasks in the job (sequence numbers 1..tasks). */
  tasks: number;
  /** Milliseconds from the createDeployments call to AtTime. */
  atMs: number;
  killsPerRole: number;
  cancels: number;
  /** Processes per role (default 1): the kills of a role take its processes in turn. */
  processesPerRole?: number;
  /** What the Redis disruption is called in the plan (default: a kill -9 and restart). */
  redisDisruption?: string;
}

/**
 * Times are milliseconds after the createDeployments call. Every role is
 * killed once while tasks are being armed (the first 70% of the time to
 * AtTime) and once while devices report (from just before AtTime to 15 s
 * after it), so that each kill finds work in flight; the Redis restart and
 * the database outage fall in one of the two, drawn. Cancels and the pause
 * come early enough that a deleted schedule has time to reach its device
 * before AtTime.
 */
export function drawPlan(seed: number, o: PlanOptions): ChaosEvent[] {
  const random = seededRandom(seed);
  const between = (from: number, to: number) => Math.round(from + random() * (to - from));
  const arming = () => between(3_000, o.atMs * 0.7);
  const reporting = () => between(o.atMs - 2_000, o.atMs + 15_000);
  const either = () => (random() < 0.5 ? arming() : reporting());
  const events: ChaosEvent[] = [];
  for (const role of ['api', 'dm', 'worker'] as const) {
    for (let i = 0; i < o.killsPerRole; i++) {
      events.push({ at: i % 2 === 0 ? arming() : reporting(), kind: 'kill', role, downMs: between(200, 4_000), index: i % (o.processesPerRole ?? 1) });
    }
  }
  events.push({ at: either(), kind: 'redis-restart', downMs: between(500, 3_000), what: o.redisDisruption });
  events.push({ at: either(), kind: 'database-outage', ms: between(5_000, 12_000) });
  const seqs = new Set<number>();
  while (seqs.size < Math.min(o.cancels, o.tasks)) seqs.add(1 + Math.floor(random() * o.tasks));
  for (const seq of seqs) events.push({ at: between(2_000, o.atMs - 25_000), kind: 'cancel', seq });
  events.push({ at: between(4_000, o.atMs / 3), kind: 'pause', resumeAfterMs: between(2_000, 6_000) });
  return events.sort((a, b) => a.at - b.at);
}

export function describeEvent(e: ChaosEvent): string {
  const at = `t+${(e.at / 1000).toFixed(1)}s`;
  switch (e.kind) {
    case 'kill':
      return `${at} kill -9 ${e.role}${e.index > 0 ? ` #${e.index + 1}` : ''}, restarted after ${e.downMs} ms`;
    case 'redis-restart':
      return `${at} ${e.what ?? `kill -9 Redis, restarted after ${e.downMs} ms`}`;
    case 'database-outage':
      return `${at} database unavailable for ${e.ms} ms`;
    case 'cancel':
      return `${at} cancelTask of task #${e.seq}`;
    case 'pause':
      return `${at} pauseJob, restartJob ${e.resumeAfterMs} ms later`;
  }
}
