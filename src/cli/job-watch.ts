/** Polls a job until it ends, showing each change; the end state decides the exit code. */
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import { type GatewayApi, JOB_END_STATES, type JobData } from './gateway-api.js';
import type { JobView } from './progress.js';

export interface WatchOptions {
  intervalMs: number;
  /** Stop watching (and answer with the last state) after this long; undefined: until the job ends. */
  timeoutMs?: number;
  /**
   * How long the gateway may be unreachable or failing (a restart, a rolling upgrade) before the
   * watch gives up with its error; meanwhile it keeps asking. Default 60 s.
   */
  outageMs?: number;
  /** Told once per outage, so an operator knows why the bars stand still. */
  onOutage?(message: string): void;
}

const isOutage = (err: unknown) => err instanceof CliError && err.exitCode === EXIT.server;

export async function watchJob(api: GatewayApi, jobId: string, view: JobView, opts: WatchOptions): Promise<JobData> {
  const started = Date.now();
  let outageSince: number | undefined;
  try {
    for (;;) {
      let job: JobData | undefined;
      try {
        job = await api.getJob(jobId);
        outageSince = undefined;
      } catch (err) {
        if (!isOutage(err)) throw err;
        const now = Date.now();
        if (outageSince === undefined) {
          outageSince = now;
          opts.onOutage?.(`${(err as Error).message}; asking again for up to ${Math.round((opts.outageMs ?? 60_000) / 1000)} s`);
        }
        if (now - outageSince >= (opts.outageMs ?? 60_000)) throw err;
      }
      if (job) {
        view.update(job);
        if (JOB_END_STATES.has(job.status)) return job;
        if (opts.timeoutMs !== undefined && Date.now() - started >= opts.timeoutMs) return job;
      }
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
