import { describe, expect, it } from 'vitest';
import { historyHorizon } from '../../../src/persistence/pg-horizon.js';

const EPOCH = 2n ** 32n;

describe('the PostgreSQL history horizon', () => {
  it('is the next id when no transaction of the database runs', () => {
    expect(historyHorizon(477_699n, [])).toBe(477_699n);
  });

  it('is the lowest running id, widened to 64 bits against the next id', () => {
    expect(historyHorizon(477_699n, [477_650, 477_212])).toBe(477_212n);
    // Next id in a later epoch, a running id from just before the 32-bit wrap.
    expect(historyHorizon(3n * EPOCH + 5n, [4_294_967_290])).toBe(3n * EPOCH - 6n);
  });

  it('is not lowered by a transaction that got its id after the snapshot (at or past the next id)', () => {
    // Widened naively, 477,700 would be 2^32 behind 477,699: a horizon below zero.
    expect(historyHorizon(477_699n, [477_700, 477_699])).toBe(477_699n);
    expect(historyHorizon(477_699n, [477_700, 477_212])).toBe(477_212n);
  });
});
