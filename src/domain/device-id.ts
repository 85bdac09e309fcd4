/**
 * Device identifiers and phone numbers: format checks that the registry
 * applies to every input (SOAP, CSV import, CLI) alike.
 */

/** Luhn check over a string of digits (IMEI check digit). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

// Request-facing expressions in this file are linear: anchored, bounded or a single `.*` before `$`.
const URN_FORM = /^[A-Za-z][A-Za-z0-9+.-]{0,31}:[\x21-\x7e]{1,96}$/;

/**
 * Validates a DevInfo/DevId style identifier: `IMEI:` + 15 digits with a valid
 * check digit, `MEID:` + 14 hex digits, or another `scheme:value` URN form
 * (e.g. `ESN:`, `MAC:`, `urn:uuid:`). Returns a reason, or undefined when valid.
 */
export function deviceIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'is required';
  if (id.length > 128) return 'is longer than 128 characters';
  const imei = /^IMEI:(.*)$/i.exec(id);
  if (imei) {
    const digits = imei[1] ?? '';
    if (!/^\d{15}$/.test(digits)) return 'IMEI must be 15 digits';
    if (!luhnValid(digits)) return 'IMEI check digit is wrong';
    return undefined;
  }
  const meid = /^MEID:(.*)$/i.exec(id);
  if (meid) {
    return /^[0-9A-Fa-f]{14}$/.test(meid[1] ?? '') ? undefined : 'MEID must be 14 hexadecimal digits';
  }
  return URN_FORM.test(id) ? undefined : 'must be IMEI:<15 digits>, MEID:<14 hex> or another scheme:value form';
}

/** Canonical form: upper-case scheme for IMEI/MEID so lookups are exact. */
export function canonicalDeviceId(id: string): string {
  const m = /^(imei|meid):(.*)$/i.exec(id);
  return m ? `${m[1]!.toUpperCase()}:${m[2]!.toUpperCase()}` : id;
}

/** The TAC: the first 8 digits of an IMEI, or undefined for other id forms. */
export function typeAllocationCode(id: string): string | undefined {
  const m = /^IMEI:(\d{8})\d{7}$/i.exec(id);
  return m?.[1];
}

/** E.164: '+' then 1 to 15 digits, the first not 0. */
export function phoneNumberProblem(phone: string): string | undefined {
  return /^\+[1-9]\d{0,14}$/.test(phone) ? undefined : 'must be E.164: + and up to 15 digits';
}
