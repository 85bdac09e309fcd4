/**
 * The last line of defence between a log call and the log: whatever object
 * a caller logged, at any depth, fields whose names say "secret" lose their
 * values, and strings lose the secrets they may embed (a DM RespURI session
 * token, a URL's password). Code should not log secrets in the first place;
 * this catches the ones that slip through (an error object, a nested record).
 */

export const REDACTED = '[Redacted]';

/**
 * Field names that hold secrets: passwords, keys, nonces, tokens, sessions,
 * credentials, MACs, digests, authorization headers; and `args`, the Redis
 * command arguments an ioredis error carries (keys and values: a DM session's
 * key holds its token). (`sessionId`, the SyncML session number, is no secret
 * and does not match.)
 */
const SECRET_FIELD =
  /pass(word|wd|phrase)?$|password|secret|private.?key|api.?key|nonce|token|usersession|authori[sz]ation|cookie|hmac|^mac$|cred|digest|respuri|^args$/i;

/**
 * Secrets inside strings: a DM session URL's token (DM 2.0's session URI and
 * signed data links too), and a URL's user:password@.
 * Log lines carry request text (a device's LocURI, a SOAP field), so both scans
 * are linear: the first starts only at the literal `/dm/s/`; the second starts a
 * scheme only where no scheme character precedes it (the lookbehind), so a long
 * run of letters is scanned once, not once from each of its positions, and its
 * user and password parts stop at the next `:` or `/`, which bounds each attempt
 * by the next `://`.
 */
const IN_TEXT: [RegExp, string][] = [
  [/\/dm\/s\/[^\s"'<>/?#]+/g, `/dm/s/${REDACTED}`],
  // DM 2.0: the session URI (CONT), and the signed links HGET fetches and HPOST sends to.
  [/\/dm2\/(s|data|up)\/[^\s"'<>/?#]+/g, `/dm2/$1/${REDACTED}`],
  [/(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/[^\s:/@"']*):[^\s@/"']*@/gi, `$1:${REDACTED}@`],
];

export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of IN_TEXT) out = out.replace(pattern, replacement);
  return out;
}

/** A redacted copy of a JSON value (the input is not changed). */
export function redactValue(value: unknown): unknown {
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map(redactValue);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      out[key] = SECRET_FIELD.test(key) && v !== null && v !== undefined && v !== '' ? REDACTED : redactValue(v);
    }
    return out;
  }
  return value;
}

/** One finished JSON log line (as pino writes it) with every secret taken out. */
export function redactLogLine(line: string): string {
  try {
    return `${JSON.stringify(redactValue(JSON.parse(line)))}\n`;
  } catch {
    // Not one JSON object (never expected from pino): at least the strings' secrets go.
    return redactText(line);
  }
}
