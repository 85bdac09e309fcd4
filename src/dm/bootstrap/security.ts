/**
 * DM bootstrap message security (notes §9; DM Security 1.2 §5.1.7.2).
 *
 * A bootstrap is a WBXML DM message sent without a session, so its origin is
 * proven by a MAC in the content type:
 *   application/vnd.syncml.dm+wbxml; SEC=<method>; MAC=<hex HMAC-SHA1(key, wbxml)>
 * Pure functions: the server signs, the simulated handset verifies with the
 * same `bootstrapKey`, so both sides derive keys identically by construction.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const BOOTSTRAP_MEDIA_TYPE = 'application/vnd.syncml.dm+wbxml';

export type BootstrapSec = 'NETWORKID' | 'USERPIN' | 'USERPIN_NETWORKID';

/**
 * Names accepted on receipt. DM uses NETWORKID/USERPIN/USERPIN_NETWORKID;
 * Client Provisioning (ProvBoot) calls the same methods NETWPIN/USERNETWPIN,
 * and clients that handle both treat them as aliases.
 */
const SEC_ALIASES: ReadonlyMap<string, BootstrapSec> = new Map([
  ['NETWORKID', 'NETWORKID'],
  ['NETWPIN', 'NETWORKID'],
  ['USERPIN', 'USERPIN'],
  ['USERPIN_NETWORKID', 'USERPIN_NETWORKID'],
  ['USERNETWPIN', 'USERPIN_NETWORKID'],
]);

export interface BootstrapSecrets {
  /**
   * The network shared secret. A string of 6..15 digits is an IMSI and is
   * turned into its SIM semi-octet form (see imsiKey); any other string (e.g. a
   * CDMA ESN as agreed with the operator) is used as its UTF-8 bytes; a Buffer
   * is used as is.
   */
  imsiOrNetworkId?: string | Buffer;
  /** The user PIN, used as its UTF-8 bytes. */
  pin?: string;
}

export function bootstrapContentType(sec: BootstrapSec, macHex: string): string {
  return `${BOOTSTRAP_MEDIA_TYPE}; SEC=${sec}; MAC=${macHex}`;
}

/** HMAC-SHA1 over the exact WBXML bytes, as uppercase hex (the case is not fixed; we verify either). */
export function bootstrapMac(key: string | Buffer, wbxml: Buffer): string {
  return createHmac('sha1', key).update(wbxml).digest('hex').toUpperCase();
}

/** Constant-time check of a received MAC; hex case does not matter. */
export function verifyBootstrapMac(key: string | Buffer, wbxml: Buffer, macHex: string): boolean {
  if (!/^[0-9A-Fa-f]{40}$/.test(macHex)) return false;
  const expected = createHmac('sha1', key).update(wbxml).digest();
  return timingSafeEqual(expected, Buffer.from(macHex, 'hex'));
}

/**
 * The HMAC key for a method. The DM notes only say "the network id" and
 * "PIN:secret"; where they are silent we follow OMA ProvBoot, which DM clients
 * share for Client Provisioning:
 * - NETWORKID: the IMSI in SIM semi-octet form (imsiKey), else the id's bytes.
 * - USERPIN: the PIN.
 * - USERPIN_NETWORKID: PIN ":" network key (as the notes and deployed clients do).
 */
export function bootstrapKey(sec: BootstrapSec, secrets: BootstrapSecrets): Buffer {
  switch (sec) {
    case 'NETWORKID':
      return networkKey(secrets);
    case 'USERPIN':
      return pinKey(secrets);
    case 'USERPIN_NETWORKID':
      return Buffer.concat([pinKey(secrets), Buffer.from(':'), networkKey(secrets)]);
  }
}

/**
 * IMSI as stored on the SIM (EF_IMSI without its length byte): the first
 * nibble is the parity indicator (9 = odd digit count, 1 = even), digits are
 * packed low nibble first, and an even count is padded with F at the end.
 * Example: 404020506708200 → 49 40 20 50 60 07 28 00.
 */
export function imsiKey(imsi: string): Buffer {
  if (!/^\d{6,15}$/.test(imsi)) throw new RangeError('IMSI must be 6..15 digits');
  const digits = imsi.length % 2 === 1 ? `9${imsi}` : `1${imsi}F`;
  const out = Buffer.alloc(digits.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = Number.parseInt(digits[2 * i + 1]! + digits[2 * i]!, 16);
  }
  return out;
}

export interface BootstrapContentType {
  mediaType: string;
  sec: BootstrapSec;
  /** As received (hex). */
  mac: string;
}

/**
 * Reads `application/vnd.syncml.dm+wbxml; SEC=…; MAC=…`. Parameter names are
 * case-insensitive and may be quoted. Undefined when the media type is not DM
 * WBXML (bootstraps cannot be XML), or SEC is unknown, or MAC is not 40 hex
 * digits: such a message must not be trusted as a bootstrap.
 */
export function parseBootstrapContentType(header: string): BootstrapContentType | undefined {
  const [media, ...rest] = header.split(';');
  const mediaType = media!.trim().toLowerCase();
  if (mediaType !== BOOTSTRAP_MEDIA_TYPE) return undefined;
  const params = new Map<string, string>();
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toUpperCase();
    // Linear: anchored, one `.*` before the closing quote.
    const value = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    params.set(name, value);
  }
  const sec = SEC_ALIASES.get((params.get('SEC') ?? '').toUpperCase());
  const mac = params.get('MAC') ?? '';
  if (sec === undefined || !/^[0-9A-Fa-f]{40}$/.test(mac)) return undefined;
  return { mediaType, sec, mac };
}

function networkKey(secrets: BootstrapSecrets): Buffer {
  const id = secrets.imsiOrNetworkId;
  if (id === undefined || id.length === 0) throw new TypeError('network id required for this SEC method');
  if (Buffer.isBuffer(id)) return id;
  return /^\d{6,15}$/.test(id) ? imsiKey(id) : Buffer.from(id, 'utf8');
}

function pinKey(secrets: BootstrapSecrets): Buffer {
  if (secrets.pin === undefined || secrets.pin === '') throw new TypeError('PIN required for this SEC method');
  return Buffer.from(secrets.pin, 'utf8');
}
