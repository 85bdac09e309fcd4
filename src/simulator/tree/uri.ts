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

/** Results may be shared between calls (see `parseUri`), hence read-only. */
export type ParsedUri =
  | { readonly ok: true; readonly uri: string; readonly segments: readonly string[] }
  | { readonly ok: false; readonly status: 400 | 406 | 414 };

/** What parsing a URI found before any limit is applied; `maxSegLen` is its longest segment. */
interface Syntax {
  parsed: ParsedUri;
  maxSegLen: number;
}

/**
 * The syntax of the URIs seen lately, by raw text. A fleet's devices read and
 * write the same few dozen URIs every session (DevInfo, the DMAcc nonces, the
 * SSE nodes a server adds), and parsing them again was the simulator's
 * costliest function. Syntax does not depend on the limits, which are applied
 * on every call.
 *
 * Bounded by generations: when the recent one is full it becomes the older one
 * (the previous older one dropped) and a hit there moves back into the recent
 * one. The URIs unique to one device (an SSE node's name), thousands a minute
 * in a large fleet, age out that way without taking the hot ones with them,
 * as clearing one map did.
 */
let recentSyntax = new Map<string, Syntax>();
let olderSyntax = new Map<string, Syntax>();
const MAX_CACHED_URIS = 4096;
/** Longer texts (hostile or broken input) are parsed every time rather than kept. */
const MAX_CACHED_URI_LENGTH = 1024;
const TOO_LONG: ParsedUri = Object.freeze({ ok: false, status: 414 });
const ROOT: ParsedUri = Object.freeze({ ok: true, uri: '.', segments: Object.freeze([]) });

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
 *
 * The result may be the same (frozen) object another call got.
 */
export function parseUri(raw: string, limits: Readonly<UriLimits> = UNLIMITED_URI): ParsedUri {
  const { parsed, maxSegLen } = recentSyntax.get(raw) ?? syntaxOf(raw);
  if (!parsed.ok) return parsed;
  if (limits.maxTotLen > 0 && parsed.uri.length > limits.maxTotLen) return TOO_LONG;
  if (limits.maxDepth > 0 && parsed.segments.length > limits.maxDepth) return TOO_LONG;
  if (limits.maxSegLen > 0 && maxSegLen > limits.maxSegLen) return TOO_LONG;
  return parsed;
}

/** A miss in the recent generation: from the older one, or parsed. */
function syntaxOf(raw: string): Syntax {
  const syntax = olderSyntax.get(raw) ?? parseSyntax(raw);
  if (raw.length <= MAX_CACHED_URI_LENGTH) {
    if (recentSyntax.size >= MAX_CACHED_URIS) {
      olderSyntax = recentSyntax;
      recentSyntax = new Map();
    }
    recentSyntax.set(raw, syntax);
  }
  return syntax;
}

function parseSyntax(raw: string): Syntax {
  const fail = (status: 400 | 406): Syntax => ({ parsed: Object.freeze({ ok: false, status }), maxSegLen: 0 });
  if (raw.length === 0) return fail(400);
  if (raw.includes('?')) return fail(406);
  if (raw === '.' || raw === './') return { parsed: ROOT, maxSegLen: 0 };
  if (raw.startsWith('/') || raw.endsWith('/')) return fail(400);
  const path = raw.startsWith('./') ? raw.slice(2) : raw;
  const segments = path.split('/');
  let maxSegLen = 0;
  for (const seg of segments) {
    if (seg === '' || seg === '.' || seg === '..') return fail(400);
    maxSegLen = Math.max(maxSegLen, seg.length);
  }
  const uri = joinUri(segments);
  return { parsed: Object.freeze({ ok: true, uri, segments: Object.freeze(segments) }), maxSegLen };
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
export function compilePattern(pattern: string): readonly string[] {
  const parsed = parseUri(pattern);
  if (!parsed.ok) throw new Error(`invalid URI pattern: ${pattern}`);
  return parsed.segments;
}

export function matchesPattern(pattern: readonly string[], segments: readonly string[]): boolean {
  if (pattern.length !== segments.length) return false;
  return pattern.every((p, i) => p === '*' || p === segments[i]);
}
