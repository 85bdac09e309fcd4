/**
 * Base64 that has exactly one spelling per byte string. Buffer.from(…, 'base64')
 * is lenient (padding optional, junk and whitespace skipped, the URL-safe
 * alphabet and non-zero spare bits accepted), so many texts decode to the same
 * bytes; anything keyed on the text could then be dodged by re-encoding.
 */

/** The bytes of `text` when it is their canonical (RFC 4648 §4, padded) encoding; otherwise undefined. */
export function decodeCanonicalBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  // Re-encoding gives the one canonical form: any other spelling differs from it.
  return bytes.toString('base64') === text ? bytes : undefined;
}
