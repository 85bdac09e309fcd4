/**
 * The SMPP window: at most `size` requests awaiting their response on one
 * session (SMPP 3.4 §2.6 leaves the number to the SMSC agreement; SMSCs
 * throttle or drop ESMEs that exceed it). Waiters are served in order.
 */

export type Release = () => void;

export class SubmitWindow {
  private used = 0;
  private readonly waiting: { grant: (release: Release) => void; fail: (e: Error) => void }[] = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`window must be a positive integer: ${size}`);
  }

  get inFlight(): number {
    return this.used;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves with a slot's release function once a slot is free. */
  acquire(): Promise<Release> {
    if (this.used < this.size) {
      this.used++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((grant, fail) => this.waiting.push({ grant, fail }));
  }

  /** Fails every waiter (the sender is closing); slots in use are unaffected. */
  rejectWaiting(error: Error): void {
    for (const w of this.waiting.splice(0)) w.fail(error);
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `used` stays put.
      if (next) next.grant(this.releaser());
      else this.used--;
    };
  }
}
