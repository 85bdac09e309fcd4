/**
 * Parsing of the SingleShotExec `AtTime` leaf.
 *
 * The MO only says "UTC or local time"; the format is unconfirmed (notes §6).
 * We accept ISO-8601 date-times in basic (`20250301T020000Z`) or extended
 * (`2025-03-01T02:00:00Z`) form, seconds and fractions optional. A `Z` or a
 * numeric offset (`+01:00`, `+0100`) fixes the instant; without a zone the
 * time is local to the device, so it is read with the caller's UTC offset or,
 * when none is given, the process's local zone (as a real device would).
 */

const BASIC = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(?:(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?:\d{2})?)?$/;
const EXTENDED =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Returns the instant, or undefined when the text is not a valid date-time
 * (including impossible dates such as 2025-02-30 or 25:00).
 *
 * @param utcOffsetMinutes offset of the device's local zone east of UTC
 *   (e.g. 60 for CET); used only for times without a zone.
 */
export function parseAtTime(text: string, utcOffsetMinutes?: number): Date | undefined {
  if (last !== undefined && last.text === text && last.utcOffsetMinutes === utcOffsetMinutes) {
    return last.time === undefined ? undefined : new Date(last.time);
  }
  const date = parseUncached(text, utcOffsetMinutes);
  last = { text, utcOffsetMinutes, time: date?.getTime() };
  return date;
}

/**
 * The last text parsed: a fleet's devices armed by one job all read the same
 * AtTime, and each reads it again whenever its tree is rebuilt.
 */
let last: { text: string; utcOffsetMinutes: number | undefined; time: number | undefined } | undefined;

function parseUncached(text: string, utcOffsetMinutes: number | undefined): Date | undefined {
  const m = BASIC.exec(text.trim()) ?? EXTENDED.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  // Fraction digits beyond milliseconds are truncated (no float rounding).
  const millis = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0').slice(0, 3));
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;

  const zone = m[8];
  const local = zone === undefined && utcOffsetMinutes === undefined;
  // setFullYear, unlike Date.UTC or the Date constructor, keeps years 0-99 as written.
  const date = new Date(0);
  if (local) {
    date.setFullYear(year, month - 1, day);
    date.setHours(hour, minute, second, millis);
  } else {
    date.setUTCFullYear(year, month - 1, day);
    date.setUTCHours(hour, minute, second, millis);
  }
  // Day-of-month overflow (Feb 30) shows up as a different day after normalisation.
  if ((local ? date.getDate() : date.getUTCDate()) !== day) return undefined;
  if (local) return date;
  const offset = zone === undefined ? (utcOffsetMinutes ?? 0) : zoneOffsetMinutes(zone);
  return new Date(date.getTime() - offset * 60_000);
}

function zoneOffsetMinutes(zone: string): number {
  if (zone === 'Z') return 0;
  const digits = zone.slice(1).replace(':', '');
  const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
  return zone.startsWith('-') ? -minutes : minutes;
}
