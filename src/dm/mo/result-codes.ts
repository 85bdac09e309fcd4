/**
 * FUMO and SCOMO result codes (notes §10, §11): the one table the gateway and
 * the simulator share.
 */

export type ResultClass = 'success' | 'failure' | 'unknown';

export interface ResultMeaning {
  code: number;
  class: ResultClass;
  meaning: string;
}

type Table = Readonly<Record<number, string>>;
type Range = readonly [from: number, to: number, cls: Exclude<ResultClass, 'unknown'>, meaning: string];

const FUMO_CODES: Table = {
  200: 'successful',
  400: 'management client error',
  401: 'user cancelled',
  402: 'corrupted firmware update package',
  403: 'firmware update package / device mismatch',
  404: 'failed firmware update package validation (signature)',
  405: 'firmware update package not acceptable',
  406: 'alternate download authentication failure',
  407: 'alternate download request timeout',
  408: 'not implemented',
  409: 'undefined error',
  410: 'firmware update failed',
  411: 'malformed or bad URL',
  // 412 and 500 follow MediaTek, Koneki and Sierra (notes §10: unconfirmed; [M] lacks 412).
  412: 'alternate download server unavailable',
  500: 'alternate download server error',
  501: 'download failed: out of memory',
  502: 'firmware update failed: out of memory',
  503: 'download failed: network error',
};

const FUMO_RANGES: readonly Range[] = [
  [250, 299, 'success', 'successful (vendor specific)'],
  [450, 499, 'failure', 'client error (vendor specific)'],
  [550, 599, 'failure', 'alternate download server error (vendor specific)'],
];

/** SCOMO codes: unconfirmed in the notes (§11), taken from OMA-TS-DM-SCOMO-V1_0-20081024-C §8.7 as cited there. */
const SCOMO_CODES: Table = {
  1200: 'successful',
  1400: 'client error',
  1401: 'user cancelled',
  1402: 'download failed',
  1403: 'alternate download authentication failure',
  1404: 'download failed: out of memory',
  1405: 'install failed',
  1406: 'install failed: out of memory',
  1407: 'failed package validation (signature)',
  1408: 'remove failed',
  1409: 'activate failed',
  1410: 'deactivate failed',
  1411: 'not implemented',
  1412: 'undefined error',
  1413: 'operation rejected: unsupported environment',
  1500: 'alternate download server error',
  1501: 'alternate download server unavailable',
};

const SCOMO_RANGES: readonly Range[] = [
  [1250, 1299, 'success', 'successful (vendor specific)'],
  [1450, 1499, 'failure', 'client error (vendor specific)'],
  [1550, 1599, 'failure', 'alternate download server error (vendor specific)'],
];

function describe(code: number, table: Table, ranges: readonly Range[]): ResultMeaning {
  const exact = table[code];
  if (exact !== undefined) return { code, class: code === 200 || code === 1200 ? 'success' : 'failure', meaning: exact };
  for (const [from, to, cls, meaning] of ranges) {
    if (code >= from && code <= to) return { code, class: cls, meaning };
  }
  return { code, class: 'unknown', meaning: 'unknown result code' };
}

/** Meaning of a FUMO Generic Alert result code; outside the tables: `unknown`. */
export function describeFumoResult(code: number): ResultMeaning {
  return describe(code, FUMO_CODES, FUMO_RANGES);
}

/** Meaning of a SCOMO OperationComplete result code; outside the tables: `unknown`. */
export function describeScomoResult(code: number): ResultMeaning {
  return describe(code, SCOMO_CODES, SCOMO_RANGES);
}

/** The codes a device sends for each kind of failure (the simulator's failure shares). */
export const FUMO_RESULT = {
  ok: 200,
  userCancelled: 401,
  corruptPackage: 402,
  updateFailed: 410,
  downloadNoMemory: 501,
  updateNoMemory: 502,
  downloadFailed: 503,
} as const;

export const SCOMO_RESULT = {
  ok: 1200,
  userCancelled: 1401,
  downloadFailed: 1402,
  downloadNoMemory: 1404,
  installFailed: 1405,
  installNoMemory: 1406,
  /** No "corrupt package" code exists in SCOMO 1.0; package validation failure is the closest. */
  corruptPackage: 1407,
  removeFailed: 1408,
  activateFailed: 1409,
  deactivateFailed: 1410,
  notImplemented: 1411,
} as const;
