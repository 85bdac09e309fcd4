/**
 * FUMO 1.0 (urn:oma:mo:oma-fumo:1.0), notes §10: node names, states, Generic
 * Alert types and the parsing of a FUMO report. Pure: no I/O.
 */
import { dataText } from '../codec/item-data.js';
import type { Item } from '../codec/types.js';
import { isUnder, normaliseAlertType, normaliseUri, parseResultCode } from './alert-type.js';
import { describeFumoResult, type ResultMeaning } from './result-codes.js';

export const FUMO_MOID = 'urn:oma:mo:oma-fumo:1.0';

/** The three executable operations of a FUMO instance. */
export const FUMO_OPERATIONS = ['Download', 'Update', 'DownloadAndUpdate'] as const;
export type FumoOperation = (typeof FUMO_OPERATIONS)[number];

export const FUMO_NODE = {
  pkgName: 'PkgName',
  pkgVersion: 'PkgVersion',
  download: 'Download',
  update: 'Update',
  downloadAndUpdate: 'DownloadAndUpdate',
  pkgUrl: 'PkgURL',
  pkgData: 'PkgData',
  state: 'State',
  ext: 'Ext',
} as const;

/** Paths inside one FUMO instance `x` (its full URI, e.g. `./FUMO/fw1`). */
export const fumoPaths = (x: string) => ({
  root: x,
  pkgName: `${x}/PkgName`,
  pkgVersion: `${x}/PkgVersion`,
  download: `${x}/Download`,
  downloadPkgUrl: `${x}/Download/PkgURL`,
  update: `${x}/Update`,
  updatePkgData: `${x}/Update/PkgData`,
  downloadAndUpdate: `${x}/DownloadAndUpdate`,
  downloadAndUpdatePkgUrl: `${x}/DownloadAndUpdate/PkgURL`,
  state: `${x}/State`,
});

export const FUMO_STATE = {
  idle: 10,
  downloadFailed: 20,
  downloadProgressing: 30,
  downloadComplete: 40,
  readyToUpdate: 50,
  updateProgressing: 60,
  updateFailedHaveData: 70,
  updateFailedNoData: 80,
  updateSucceededHaveData: 90,
  updateSucceededNoData: 100,
} as const;
export type FumoState = (typeof FUMO_STATE)[keyof typeof FUMO_STATE];

const TERMINAL: ReadonlySet<number> = new Set([20, 70, 80, 90, 100]);
export function isTerminalFumoState(state: number): boolean {
  return TERMINAL.has(state);
}

export const FUMO_ALERT_TYPE = {
  Download: 'org.openmobilealliance.dm.firmwareupdate.download',
  Update: 'org.openmobilealliance.dm.firmwareupdate.update',
  DownloadAndUpdate: 'org.openmobilealliance.dm.firmwareupdate.downloadandupdate',
} as const satisfies Record<FumoOperation, string>;

const OPERATION_BY_TYPE: ReadonlyMap<string, FumoOperation> = new Map(
  Object.entries(FUMO_ALERT_TYPE).map(([op, type]) => [type, op as FumoOperation]),
);

/** The FUMO operation a Generic Alert Type reports, or undefined (prefix stripped, case-insensitive). */
export function fumoOperationOfAlertType(type: string | undefined): FumoOperation | undefined {
  return OPERATION_BY_TYPE.get(normaliseAlertType(type).toLowerCase());
}

/** The operation an executed node names (`…/x/DownloadAndUpdate` → DownloadAndUpdate). */
export function fumoOperationOfNode(uri: string): FumoOperation | undefined {
  const last = uri.split('/').pop();
  return FUMO_OPERATIONS.find((op) => op === last);
}

export interface FumoReport {
  operation: FumoOperation;
  /** The alert's Source, normalised; undefined when absent. */
  source: string | undefined;
  /** undefined when Data is not an integer. */
  resultCode: number | undefined;
  result: ResultMeaning | undefined;
}

/**
 * Reads one Generic Alert Item as a FUMO report, or undefined when its Type is
 * not a FUMO type. Lenient (notes §13.4): Format int, chr or none; Mark ignored.
 * With `moUri`, a Source outside that MO (by prefix: often the executed node,
 * §13.3) makes it not this MO's report; a missing Source is accepted.
 */
export function parseFumoAlertItem(item: Item, moUri?: string): FumoReport | undefined {
  const operation = fumoOperationOfAlertType(item.meta?.type);
  if (!operation) return undefined;
  const source = item.source?.locUri !== undefined ? normaliseUri(item.source.locUri) : undefined;
  if (moUri !== undefined && source !== undefined && !isUnder(source, moUri)) return undefined;
  const resultCode = parseResultCode(dataText(item.data));
  return {
    operation,
    source,
    resultCode,
    result: resultCode === undefined ? undefined : describeFumoResult(resultCode),
  };
}
