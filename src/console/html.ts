/**
 * Server-rendered HTML with one escaping rule: every value interpolated into
 * an `html` template is escaped unless it is itself the output of `html` (or
 * `raw`, for markup the console built). Arrays are joined; null, undefined
 * and false render nothing.
 */

const SAFE = Symbol('safe-html');

export interface SafeHtml {
  readonly [SAFE]: true;
  readonly text: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

/** Markup the console itself built (never text from a request or the database). */
export function raw(text: string): SafeHtml {
  return { [SAFE]: true, text };
}

function isSafe(v: unknown): v is SafeHtml {
  return typeof v === 'object' && v !== null && SAFE in v;
}

function render(v: unknown): string {
  if (v === undefined || v === null || v === false) return '';
  if (isSafe(v)) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v instanceof Date) return escapeHtml(v.toISOString());
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return raw(out);
}

/** A time as the console shows it: UTC, to the second. */
export function when(d: Date | number | undefined): string {
  if (d === undefined) return '—';
  const date = typeof d === 'number' ? new Date(d) : d;
  return Number.isNaN(date.getTime()) ? '—' : `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
