/**
 * How long-running commands show progress: live bars on a terminal
 * (cli-progress, on standard error so standard output stays for results),
 * plain lines when the output is a file or a pipe, JSON lines with --json.
 */
import cliProgress from 'cli-progress';
import { JOB_COUNTER_OF, type JobData, TASK_STATES, type TaskState } from './gateway-api.js';

export type OutputMode = 'bars' | 'lines' | 'json';

/** Bars only on a terminal; a pipe or file gets lines, --json gets JSON lines. */
export function outputMode(json: boolean | undefined, stream: NodeJS.WriteStream = process.stderr): OutputMode {
  if (json) return 'json';
  return stream.isTTY ? 'bars' : 'lines';
}

export interface JobView {
  update(job: JobData): void;
  stop(): void;
}

/** Always shown, in the order a task moves; the others get a bar once a task reaches them. */
const ALWAYS: readonly TaskState[] = ['QUEUED', 'NOTIFYING', 'IN_SESSION', 'SCHEDULED', 'COMPLETED', 'FAILED', 'MISSED'];

class JobBars implements JobView {
  private readonly multi = new cliProgress.MultiBar(
    {
      format: ' {state} |{bar}| {value}/{total}',
      hideCursor: true,
      clearOnComplete: false,
      barsize: 40,
      fps: 5,
      autopadding: true,
    },
    cliProgress.Presets.shades_classic,
  );
  private readonly bars = new Map<TaskState, cliProgress.SingleBar>();
  private header: cliProgress.SingleBar | undefined;

  update(job: JobData): void {
    const total = Math.max(job.total, 1);
    this.header ??= this.multi.create(total, 0, { state: '' }, { format: ' job {jobId} {status}  {done}/{total} ended' });
    const ended = job.completed + job.failed + job.missed + job.cancelled + job.expired;
    this.header.setTotal(total);
    this.header.update(ended, { jobId: job.jobId, status: job.status.padEnd(21), done: ended });
    for (const state of TASK_STATES) {
      const n = job[JOB_COUNTER_OF[state]];
      let bar = this.bars.get(state);
      if (!bar && (ALWAYS.includes(state) || n > 0)) {
        bar = this.multi.create(total, n, { state: state.padEnd(11) });
        this.bars.set(state, bar);
      }
      bar?.setTotal(total);
      bar?.update(n);
    }
  }

  stop(): void {
    this.multi.stop();
  }
}

/** One line per change: the job's state and its non-zero counters. */
export function jobLine(job: JobData): string {
  const counts = TASK_STATES.map((s) => [s, job[JOB_COUNTER_OF[s]]] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s.toLowerCase()}=${n}`);
  return `job ${job.jobId} ${job.status} total=${job.total}${counts.length ? ` ${counts.join(' ')}` : ''}`;
}

class JobLines implements JobView {
  private last = '';
  constructor(
    private readonly write: (line: string) => void,
    private readonly format: (job: JobData) => string,
  ) {}

  update(job: JobData): void {
    const line = this.format(job);
    if (line === this.last) return;
    this.last = line;
    this.write(line);
  }

  stop(): void {}
}

export function jobView(mode: OutputMode, write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): JobView {
  switch (mode) {
    case 'bars':
      return new JobBars();
    case 'lines':
      return new JobLines(write, jobLine);
    case 'json':
      return new JobLines(write, (job) => JSON.stringify(job));
  }
}

/** A single bar of work done (rows imported, devices registered), or lines on a pipe. */
export interface CountView {
  update(done: number, total: number, note: string): void;
  stop(): void;
}

class CountBar implements CountView {
  private readonly bar: cliProgress.SingleBar;
  constructor(label: string) {
    this.bar = new cliProgress.SingleBar(
      { format: ` ${label} |{bar}| {percentage}% {note}`, hideCursor: true, fps: 5, barsize: 40 },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(1, 0, { note: '' });
  }

  update(done: number, total: number, note: string): void {
    this.bar.setTotal(Math.max(total, 1));
    this.bar.update(done, { note });
  }

  stop(): void {
    this.bar.stop();
  }
}

class CountLines implements CountView {
  private lastAt = 0;
  constructor(
    private readonly label: string,
    private readonly write: (line: string) => void,
  ) {}

  update(done: number, total: number, note: string): void {
    // At most one line a second, and the last one.
    const now = Date.now();
    if (done < total && now - this.lastAt < 1000) return;
    this.lastAt = now;
    this.write(`${this.label}: ${note}`);
  }

  stop(): void {}
}

export function countView(mode: OutputMode, label: string, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): CountView {
  return mode === 'bars' ? new CountBar(label) : new CountLines(label, write);
}
