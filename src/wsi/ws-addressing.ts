/**
 * Reads the WS-Addressing MessageID (http://www.w3.org/2005/08/addressing)
 * from the parsed SOAP header: by the contract, the one mark of a retried
 * call. Only extracts and checks what was sent; what a retry means is the
 * services' business.
 *
 * Namespaces: the `soap` parser keys header elements by local name and drops
 * prefixes and namespace URIs (ws-security.ts relies on the same for
 * `Security`), so any header element named MessageID is taken as this one.
 */
import { invalidArgument } from '../domain/errors.js';

const MAX_LENGTH = 256;
/** A URI or IRI: no control, format, unassigned or separator characters (spaces included). */
const PRINTABLE = /^[^\p{C}\p{Z}]+$/u;

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && '$value' in v) return text((v as { $value: unknown }).$value);
  return undefined;
}

/** The MessageID the call carried; undefined when it carried none. Throws InvalidArgument for a bad one. */
export function wsAddressingMessageId(header: unknown): string | undefined {
  if (!header || typeof header !== 'object' || !('MessageID' in header)) return undefined;
  const raw = text((header as { MessageID: unknown }).MessageID);
  // xs:anyURI collapses whitespace: a pretty-printed value is the same id.
  const id = raw?.trim();
  if (!id || id.length > MAX_LENGTH || !PRINTABLE.test(id)) {
    throw invalidArgument(
      'MessageID',
      `the WS-Addressing MessageID header must be one URI of 1 to ${MAX_LENGTH} printable characters`,
    );
  }
  return id;
}
