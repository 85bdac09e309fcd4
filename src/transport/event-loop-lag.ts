/**
 * How late this process's event loop runs a timer, sampled every
 * `intervalMs`: a process asked for more than its CPU gives queues every
 * callback (a worker's next job, a dispatcher tick, a SOAP read) behind all
 * the others, and this delay is how long each waits its turn.
 */
export class EventLoopLag {
  private lateMs = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 100) {
    let expected = performance.now() + intervalMs;
    this.timer = setInterval(() => {
      const now = performance.now();
      this.lateMs = Math.max(0, now - expected);
      expected = now + intervalMs;
    }, intervalMs);
    // A sampler never keeps the process alive.
    this.timer.unref();
  }

  /** The last sample, in milliseconds (0 when the timer ran on time). */
  get ms(): number {
    return this.lateMs;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
