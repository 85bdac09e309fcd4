import { describe, expect, it } from 'vitest';
import { OpeningGate } from '../../../src/transport/opening-gate.js';

describe('OpeningGate', () => {
  it('takes up to its cap, and a place again once one leaves', () => {
    const gate = new OpeningGate(2);
    expect([gate.tryEnter(), gate.tryEnter(), gate.tryEnter()]).toEqual([true, true, false]);
    gate.leave();
    expect(gate.tryEnter()).toBe(true);
  });

  it('while the loop runs late, takes only inFlightWhenLate, and its full cap once the loop catches up', () => {
    let lag = 500;
    const gate = new OpeningGate(4, { maxLagMs: 200, lagMs: () => lag, inFlightWhenLate: 1 });
    expect([gate.tryEnter(), gate.tryEnter()]).toEqual([true, false]);
    lag = 50;
    expect([gate.tryEnter(), gate.tryEnter(), gate.tryEnter(), gate.tryEnter()]).toEqual([true, true, true, false]);
    lag = 500;
    gate.leave();
    // Four in flight, three after one leaves: still above the one allowed while late.
    expect(gate.tryEnter()).toBe(false);
  });

  it('is off without a cap or lag shedding, and counts nothing then', () => {
    expect(new OpeningGate(0).enabled).toBe(false);
    expect(new OpeningGate(0, { maxLagMs: 200, lagMs: () => 0, inFlightWhenLate: 64 }).enabled).toBe(true);
  });
});
