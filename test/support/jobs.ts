/** Helpers for bulk job tests over SOAP. */
import { call, type SoapClient } from './soap.js';
import { waitFor } from './wait.js';

export interface JobData {
  jobId: string;
  status: string;
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
}

const COUNTERS = ['total', 'queued', 'notifying', 'inSession', 'scheduled', 'inProgress', 'completed', 'failed', 'missed', 'cancelled', 'expired'] as const;

export async function getJob(bulk: SoapClient, jobId: string): Promise<JobData> {
  const r = await call<{ jobData: Record<string, unknown> }>(bulk, 'getJobById', { userSession: '', jobId });
  const j = r.jobData;
  return { ...(j as unknown as JobData), ...Object.fromEntries(COUNTERS.map((c) => [c, Number(j[c])])) };
}

export function jobReaches(bulk: SoapClient, jobId: string, statuses: string[], ms = 30_000): Promise<JobData> {
  return waitFor(async () => {
    const j = await getJob(bulk, jobId);
    return statuses.includes(j.status) ? j : undefined;
  }, ms, `job ${jobId} to reach ${statuses.join('/')}`);
}

/** The job's counters against a count of its tasks by status, read through getTasks. */
export async function taskCounts(bulk: SoapClient, jobId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let offset = 0; ; offset += 1000) {
    const r = await call<{ taskData?: { status: string }[] }>(bulk, 'getTasks', { userSession: '', jobId, offset, limit: 1000 });
    const list = r.taskData ?? [];
    for (const t of list) counts[t.status] = (counts[t.status] ?? 0) + 1;
    if (list.length < 1000) return counts;
  }
}

export function countersAsStatuses(j: JobData): Record<string, number> {
  const map: Record<string, number> = {
    QUEUED: j.queued,
    NOTIFYING: j.notifying,
    IN_SESSION: j.inSession,
    SCHEDULED: j.scheduled,
    IN_PROGRESS: j.inProgress,
    COMPLETED: j.completed,
    FAILED: j.failed,
    MISSED: j.missed,
    CANCELLED: j.cancelled,
    EXPIRED: j.expired,
  };
  return Object.fromEntries(Object.entries(map).filter(([, n]) => n > 0));
}
