import { expect, it } from 'vitest';
import { CallerRateLimit } from '../../../src/wsi/caller-rate-limit.js';

it('allows a burst of twice the rate, then refills at the rate', () => {
  let now = 0;
  const limit = new CallerRateLimit(10, () => now);
  for (let i = 0; i < 20; i++) limit.take('a');
  expect(() => limit.take('a')).toThrow(/at most 10 per second/);
  limit.take('b');
  now += 500;
  for (let i = 0; i < 5; i++) limit.take('a');
  expect(() => limit.take('a')).toThrow();
  expect(() => new CallerRateLimit(0).take('x')).not.toThrow();
});
