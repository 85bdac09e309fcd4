/**
 * A request budget per caller (token bucket, per process): one OSS system
 * flooding the gateway gets `Overloaded` faults instead of starving the
 * others. Kept in memory: checking Redis on every call would cost more than
 * the calls it protects; with N api processes the cluster-wide budget is N
 * times this.
 */
import { DmwsiError } from '../domain/errors.js';

interface Bucket {
  tokens: number;
  at: number;
}

export class CallerRateLimit {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    /** Requests per second per caller; 0 turns the limit off. */
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws Overloaded when the caller has no request left right now. */
  take(caller: string): void {
    if (this.perSecond <= 0) return;
    const now = this.now();
    const burst = this.perSecond * 2;
    const b = this.buckets.get(caller) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens < 1) {
      this.buckets.set(caller, b);
      throw new DmwsiError('Overloaded', `too many requests from ${caller}: at most ${this.perSecond} per second; retry later`);
    }
    b.tokens -= 1;
    if (this.buckets.size > 100_000) this.buckets.clear();
    this.buckets.set(caller, b);
  }
}
