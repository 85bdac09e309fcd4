/**
 * SCOMO 1.0 (urn:oma:mo:oma-scomo:1.0), notes §11 and §13: node names and
 * paths, Status/State values, the OperationComplete alert and its Data.
 * Pure: no I/O. Where the notes mark a fact unconfirmed the choice made here
 * follows the MediaTek client (the most complete one the notes cite), and is
 * kept in this module only.
 */
import { dataText } from '../codec/item-data.js';
import type { Item } from '../codec/types.js';
import { isUnder, normaliseAlertType, normaliseUri, parseResultCode } from './alert-type.js';
import { describeScomoResult, type ResultMeaning } from './result-codes.js';

export const SCOMO_MOID = 'urn:oma:mo:oma-scomo:1.0';
export const SCOMO_ALERT_TYPE = 'urn:oma:at:scomo:1.0:OperationComplete';

export const SCOMO_DOWNLOAD_OPERATIONS = ['Download', 'DownloadInstall', 'DownloadInstallInactive'] as const;
export const SCOMO_DELIVERED_OPERATIONS = ['Install', 'InstallInactive', 'Remove'] as const;
export const SCOMO_DEPLOYED_OPERATIONS = ['Activate', 'Deactivate', 'Remove'] as const;
export type ScomoDownloadOperation = (typeof SCOMO_DOWNLOAD_OPERATIONS)[number];
export type ScomoDeliveredOperation = (typeof SCOMO_DELIVERED_OPERATIONS)[number];
export type ScomoDeployedOperation = (typeof SCOMO_DEPLOYED_OPERATIONS)[number];

/** MediaTek names the Deactivate node "Deactive" (notes §13.7): accepted on input, never produced. */
const OPERATION_ALIASES: Readonly<Record<string, string>> = { Deactive: 'Deactivate' };

/** Paths under a SCOMO root (e.g. `./SCOMO`). */
export const scomoPaths = (root: string) => ({
  root,
  download: `${root}/Download`,
  downloadItem: (x: string) => `${root}/Download/${x}`,
  downloadOperation: (x: string, op: ScomoDownloadOperation) => `${root}/Download/${x}/Operations/${op}`,
  delivered: `${root}/Inventory/Delivered`,
  deliveredItem: (x: string) => `${root}/Inventory/Delivered/${x}`,
  deliveredOperation: (x: string, op: ScomoDeliveredOperation) => `${root}/Inventory/Delivered/${x}/Operations/${op}`,
  deployed: `${root}/Inventory/Deployed`,
  deployedItem: (x: string) => `${root}/Inventory/Deployed/${x}`,
  deployedOperation: (x: string, op: ScomoDeployedOperation) => `${root}/Inventory/Deployed/${x}/Operations/${op}`,
});

/** Leaves of Download/<X> (the server adds PkgID, Name, PkgURL). */
export const SCOMO_DOWNLOAD_LEAVES = ['PkgID', 'Name', 'PkgURL', 'InstallParams', 'Description', 'Status', 'EnvType', 'PkgType'] as const;
/** Leaves of Inventory/Deployed/<X>. */
export const SCOMO_DEPLOYED_LEAVES = ['ID', 'PkgIDRef', 'Name', 'Description', 'Version', 'State', 'Status', 'EnvType'] as const;

export const SCOMO_DOWNLOAD_STATUS = {
  idle: 10,
  downloadFailed: 20,
  downloadProgressing: 30,
  downloadComplete: 40,
  installProgressing: 50,
  installFailedWithData: 60,
  installFailedWithoutData: 70,
} as const;

export const SCOMO_DELIVERED_STATUS = {
  idle: 10,
  removeFailed: 20,
  removeProgressing: 30,
  installProgressing: 40,
  installFailedWithData: 50,
  installFailedWithoutData: 60,
} as const;

export const SCOMO_DELIVERED_STATE = { delivered: 10, installed: 20 } as const;

export const SCOMO_DEPLOYED_STATUS = {
  idle: 10,
  removeFailed: 20,
  removeProgressing: 30,
  activateFailed: 40,
  activateProgressing: 50,
  deactivateFailed: 60,
  deactivateProgressing: 70,
} as const;

export const SCOMO_DEPLOYED_STATE = { inactive: 10, active: 20 } as const;

export type ScomoArea = 'Download' | 'Delivered' | 'Deployed';

export interface ScomoOperationNode {
  root: string;
  area: ScomoArea;
  /** The `<X>` name. */
  name: string;
  /** Canonical operation name ("Deactive" read as Deactivate). */
  operation: string;
}

/** Splits `<root>/Download/<X>/Operations/<Op>` or `<root>/Inventory/{Delivered|Deployed}/<X>/Operations/<Op>`. */
export function parseScomoOperationNode(uri: string): ScomoOperationNode | undefined {
  const m = /^(.*?)\/(?:(Download)|Inventory\/(Delivered|Deployed))\/([^/]+)\/Operations\/([^/]+)$/.exec(normaliseUri(uri));
  if (!m) return undefined;
  const [, root, download, inventory, name, op] = m;
  if (root === undefined || name === undefined || op === undefined) return undefined;
  const area = (download ?? inventory) as ScomoArea;
  const operation = OPERATION_ALIASES[op] ?? op;
  const allowed: readonly string[] =
    area === 'Download' ? SCOMO_DOWNLOAD_OPERATIONS : area === 'Delivered' ? SCOMO_DELIVERED_OPERATIONS : SCOMO_DEPLOYED_OPERATIONS;
  if (!allowed.includes(operation)) return undefined;
  return { root, area, name, operation };
}

/** The OperationComplete Data (notes §11). */
export function formatScomoResultData(resultCode: number, identifier: string): string {
  return `<ResultCode>${resultCode}</ResultCode><Identifier>${escapeXml(identifier)}</Identifier>`;
}

export interface ScomoResultData {
  resultCode: number | undefined;
  identifier: string | undefined;
}

/**
 * Reads OperationComplete Data leniently: tags in any order, any case, with
 * whitespace, possibly escaped once more (`&lt;ResultCode&gt;`); a bare
 * integer is taken as the result code.
 */
/**
 * The trimmed text of the first `<tag>…</tag>` (no markup inside), found by
 * indexOf: alert Data is device input, and the expression this replaces
 * (`<Tag>\s*([^<]*?)\s*</Tag>`) backtracked on a long run of spaces.
 */
function tagText(text: string, lower: string, tag: string): string | undefined {
  const open = `<${tag}>`;
  const from = lower.indexOf(open);
  if (from === -1) return undefined;
  const to = lower.indexOf(`</${tag}>`, from + open.length);
  if (to === -1) return undefined;
  const inner = text.slice(from + open.length, to);
  return inner.includes('<') ? undefined : inner.trim();
}

export function parseScomoResultData(data: string): ScomoResultData {
  const text = /&lt;/i.test(data) && !/</.test(data) ? unescapeXml(data) : data;
  const lower = text.toLowerCase();
  const code = tagText(text, lower, 'resultcode');
  const id = tagText(text, lower, 'identifier');
  return {
    resultCode: parseResultCode(code ?? text),
    identifier: id === undefined ? undefined : unescapeXml(id),
  };
}

export interface ScomoReport {
  /** The alert's Source (often the executed Operations node), normalised. */
  source: string | undefined;
  /** The alert's Target (Deployed/<X> for most operations), normalised. */
  target: string | undefined;
  resultCode: number | undefined;
  identifier: string | undefined;
  result: ResultMeaning | undefined;
}

/**
 * Reads one Generic Alert Item as a SCOMO report, or undefined when its Type
 * is not OperationComplete or (with `scomoRoot`) neither Source nor Target is
 * under that root. Format and Mark are ignored (notes §13.4).
 */
export function parseScomoAlertItem(item: Item, scomoRoot?: string): ScomoReport | undefined {
  if (normaliseAlertType(item.meta?.type).toLowerCase() !== SCOMO_ALERT_TYPE.toLowerCase()) return undefined;
  const source = item.source?.locUri !== undefined ? normaliseUri(item.source.locUri) : undefined;
  const target = item.target?.locUri !== undefined ? normaliseUri(item.target.locUri) : undefined;
  if (scomoRoot !== undefined) {
    const known = [source, target].filter((u): u is string => u !== undefined);
    if (known.length > 0 && !known.some((u) => isUnder(u, scomoRoot))) return undefined;
  }
  const { resultCode, identifier } = parseScomoResultData(dataText(item.data));
  return {
    source,
    target,
    resultCode,
    identifier,
    result: resultCode === undefined ? undefined : describeScomoResult(resultCode),
  };
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}
