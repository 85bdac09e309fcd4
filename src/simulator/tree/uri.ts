/**
 * Device URI syntax for the simulated management tree.
 *
 * The tree addresses nodes with full device URIs (`./A/B/C`). Servers are not
 * always consistent about the `./` prefix, so relative forms (`A/B/C`) are
 * accepted and normalised; everything else that is syntactically odd is
 * rejected before the tree is touched, so no operation can reach a node
 * through an ambiguous path.
 */

/** DevDetail/URI limits; 0 means unlimited, as in the DevDetail MO. */
export interface UriLimits {
  /** Maximum number of segments below the root. */
  maxDepth: number;
  /** Maximum length of the normalised URI, `./` included. */
  maxTotLen: number;
  /** Maximum length of one segment. */
  maxSegLen: number;
}

export const UNLIMITED_URI: Readonly<UriLimits> = Object.freeze({ maxDepth: 0, maxTotLen: 0, maxSegLen: 0 });

export type ParsedUri =
  | { ok: true; uri: string; segments: string[] }
  | { ok: false; status: 400 | 406 | 414 };

/**
 * Normalises and validates a device URI.
 *
 * - `.` and `./` are the root (`./` is tolerated because some servers send it
 *   for the root; any other trailing slash is a 400).
 * - `..`, `.` inside a path, empty segments and a leading `/` are 400: they
 *   are malformed, not missing, so 404 would mislead a server author.
 * - `?list=` / `?prop=` addressing is an optional DM 1.2 feature this device
 *   does not support: 406, as libdmclient answers.
 * - Limits exceeded: 414.
 */
export function parseUri(raw: string, limits: Readonly<UriLimits> = UNLIMITED_URI): ParsedUri {
  if (raw.length === 0) return { ok: false, status: 400 };
  if (raw.includes('?')) return { ok: false, status: 406 };
  if (raw === '.' || raw === './') return { ok: true, uri: '.', segments: [] };
  if (raw.startsWith('/') || raw.endsWith('/')) return { ok: false, status: 400 };
  const path = raw.startsWith('./') ? raw.slice(2) : raw;
  const segments = path.split('/');
  for (const seg of segments) {
    if (seg === '' || seg === '.' || seg === '..') return { ok: false, status: 400 };
  }
  const uri = joinUri(segments);
  if (limits.maxTotLen > 0 && uri.length > limits.maxTotLen) return { ok: false, status: 414 };
  if (limits.maxDepth > 0 && segments.length > limits.maxDepth) return { ok: false, status: 414 };
  if (limits.maxSegLen > 0 && segments.some((s) => s.length > limits.maxSegLen)) {
    return { ok: false, status: 414 };
  }
  return { ok: true, uri, segments };
}

/** Builds the canonical `./a/b` form (the root is `.`). */
export function joinUri(segments: readonly string[]): string {
  return segments.length === 0 ? '.' : './' + segments.join('/');
}

/**
 * Compiles a URI pattern in which a `*` segment matches exactly one segment
 * (the SSE client registers `<root>`, `*`, `Go` to catch every schedule's Go).
 * Patterns are written by programmers, so a malformed one throws instead of
 * returning a status.
 */
export function compilePattern(pattern: string): string[] {
  const parsed = parseUri(pattern);
  if (!parsed.ok) throw new Error(`invalid URI pattern: ${pattern}`);
  return parsed.segments;
}

export function matchesPattern(pattern: readonly string[], segments: readonly string[]): boolean {
  if (pattern.length !== segments.length) return false;
  return pattern.every((p, i) => p === '*' || p === segments[i]);
}
