import { describe, expect, it } from 'vitest';
import { parseAtTime } from '../../../src/simulator/tree/at-time.js';

const instant = (iso: string) => new Date(iso).getTime();

describe('AtTime parsing', () => {
  it('reads ISO-8601 basic UTC', () => {
    expect(parseAtTime('20250301T020000Z')?.getTime()).toBe(instant('2025-03-01T02:00:00Z'));
  });

  it('reads ISO-8601 extended UTC, with or without seconds and fractions', () => {
    expect(parseAtTime('2025-03-01T02:00:00Z')?.getTime()).toBe(instant('2025-03-01T02:00:00Z'));
    expect(parseAtTime('2025-03-01T02:00Z')?.getTime()).toBe(instant('2025-03-01T02:00:00Z'));
    expect(parseAtTime('2025-03-01T02:00:00.250Z')?.getTime()).toBe(instant('2025-03-01T02:00:00.250Z'));
  });

  it('truncates fraction digits beyond milliseconds', () => {
    expect(parseAtTime('20250301T020000.5679Z')?.getTime()).toBe(instant('2025-03-01T02:00:00.567Z'));
  });

  it('keeps a two-digit year as written instead of mapping it to the 1900s', () => {
    expect(parseAtTime('00250301T020000Z')?.getUTCFullYear()).toBe(25);
  });

  it('applies an explicit numeric offset', () => {
    expect(parseAtTime('2025-03-01T03:00:00+01:00')?.getTime()).toBe(instant('2025-03-01T02:00:00Z'));
    expect(parseAtTime('20250301T013000-0030')?.getTime()).toBe(instant('2025-03-01T02:00:00Z'));
  });

  it('reads a local time with the caller-supplied UTC offset', () => {
    expect(parseAtTime('20250301T030000', 60)?.getTime()).toBe(instant('2025-03-01T02:00:00Z'));
    expect(parseAtTime('2025-03-01T02:00:00', -300)?.getTime()).toBe(instant('2025-03-01T07:00:00Z'));
  });

  it("reads a local time in the process's zone by default", () => {
    expect(parseAtTime('2025-03-01T02:00:00')?.getTime()).toBe(new Date(2025, 2, 1, 2, 0, 0).getTime());
  });

  it.each([
    '',
    'tomorrow',
    '2025-03-01',
    '2025-03-01 02:00:00Z',
    '2025-03-01T020000Z',
    '20250230T020000Z',
    '20251301T020000Z',
    '20250301T250000Z',
    '20250301T026000Z',
  ])('rejects %j', (text) => {
    expect(parseAtTime(text)).toBeUndefined();
  });
});
