/**
 * The signature of a webhook delivery (contract): header `X-Dmwsi-Signature:
 * sha256=<hex HMAC-SHA256 of the exact body bytes under the webhook's secret>`.
 * A receiver recomputes it over the raw body and compares in constant time.
 */
import crypto from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Dmwsi-Signature';
/** The event id again, so a receiver can drop a duplicate before parsing the body. */
export const EVENT_ID_HEADER = 'X-Dmwsi-Event-Id';

export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether `header` is the signature of `body` under `secret` (constant time in the header's value). */
export function signatureMatches(secret: string, body: string | Buffer, header: string | undefined): boolean {
  if (header === undefined) return false;
  const expected = Buffer.from(signBody(secret, body));
  const given = Buffer.from(header);
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}
