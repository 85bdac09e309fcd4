/** Polls a job until it ends, showing each change; the end state decides the exit code. */
import { EXIT, type ExitCode } from './exit-codes.js';
import { type GatewayApi, JOB_END_STATES, type JobData } from './gateway-api.js';
import type { JobView } from './progress.js';

export interface WatchOptions {
  intervalMs: number;
  /** Stop watching (and answer with the last state) after this long; undefined: until the job ends. */
  timeoutMs?: number;
}

export async function watchJob(api: GatewayApi, jobId: string, view: JobView, opts: WatchOptions): Promise<JobData> {
  const started = Date.now();
  try {
    for (;;) {
      const job = await api.getJob(jobId);
      view.update(job);
      if (JOB_END_STATES.has(job.status)) return job;
      if (opts.timeoutMs !== undefined && Date.now() - started >= opts.timeoutMs) return job;
      await new Promise((r) => setTimeout(r, opts.intervalMs));
    }
  } finally {
    view.stop();
  }
}

/** 0 when every task completed; 6 (partial) when the job ended otherwise or has not ended yet. */
export function exitCodeOfJob(job: JobData): ExitCode {
  return job.status === 'COMPLETED' ? EXIT.ok : EXIT.partial;
}
