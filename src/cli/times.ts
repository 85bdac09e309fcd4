/** Times on the command line: an ISO date-time, or relative to now (`+30s`, `+5m`, `+2h`). */
import { InvalidArgumentError } from 'commander';

const RELATIVE = /^\+(\d{1,7})([smh])$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

/** UTC with Z, to the second (OMA DM SingleShotExec times carry no fraction). */
export function utcSeconds(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

/** For options: keeps an absolute time as written (a local time stays local), turns a relative one into UTC. */
export function timeArgument(value: string, now: () => number = Date.now): string {
  const m = RELATIVE.exec(value.trim());
  if (m) return utcSeconds(now() + Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?$/.test(value.trim())) return value.trim();
  throw new InvalidArgumentError('expected an ISO date-time (2030-01-01T12:00:00Z) or a time from now (+30s, +5m, +2h)');
}

export function positiveInt(value: string): number {
  if (!/^\d{1,9}$/.test(value.trim()) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number of 1 or more');
  return Number(value);
}
