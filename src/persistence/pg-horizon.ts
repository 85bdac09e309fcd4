/**
 * PostgreSQL: below which transaction id the history of this database is
 * complete (see the webhook event reads in webhook-store.ts). pg_stat_activity
 * gives 32-bit transaction ids; each is widened against the snapshot's next
 * full id `next`. A running id read after the snapshot may be at or past
 * `next` (a transaction that began meanwhile): it cannot lower the horizon
 * (widening it naively would wrap it 2^32 lower, a horizon below zero, which
 * PostgreSQL then reads as a huge unsigned one).
 */
const EPOCH = 2n ** 32n;
const HALF = 2n ** 31n;

/** The horizon: the lowest running id (widened), or `next` when none runs. */
export function historyHorizon(next: bigint, running: readonly number[]): bigint {
  let horizon = next;
  const low = next % EPOCH;
  for (const r of running) {
    const behind = (low - BigInt(r) + EPOCH) % EPOCH;
    // More than half the id space "behind" means it is in fact at or after `next`.
    if (behind === 0n || behind > HALF) continue;
    const full = next - behind;
    if (full < horizon) horizon = full;
  }
  return horizon;
}
