/**
 * SyncML 1.2 WBXML code pages (checked against libwbxml 0.11.8 `xml2wbxml`):
 * page 0 `SYNCML:SYNCML1.2`, page 1 `syncml:metinf`. The full tables are
 * listed so DS-only elements decode to names (the mapper then ignores or
 * rejects them); the TAG constants cover what the encoder writes.
 */

export interface TagDef {
  readonly name: string;
  /** 0 = SyncML, 1 = MetInf. */
  readonly page: 0 | 1;
  readonly token: number;
  /** Precomputed XML start tag (metinf elements carry their namespace). */
  readonly xmlOpen: string;
  readonly xmlClose: string;
  /** Precomputed XML empty-element tag. */
  readonly xmlEmpty: string;
}

/** Namespace of the SyncML root as written by the XML encoder. */
export const SYNCML_NS = 'SYNCML:SYNCML1.2';
export const METINF_NS = 'syncml:metinf';

/** Page 0 names, indexed by token (0x05..0x3C; 0x30 unassigned). */
export const PAGE0_NAMES: readonly (string | undefined)[] = buildTable(0x05, [
  'Add', 'Alert', 'Archive', 'Atomic', 'Chal', 'Cmd', 'CmdID', 'CmdRef', 'Copy', 'Cred', 'Data',
  'Delete', 'Exec', 'Final', 'Get', 'Item', 'Lang', 'LocName', 'LocURI', 'Map', 'MapItem', 'Meta',
  'MsgID', 'MsgRef', 'NoResp', 'NoResults', 'Put', 'Replace', 'RespURI', 'Results', 'Search',
  'Sequence', 'SessionID', 'SftDel', 'Source', 'SourceRef', 'Status', 'Sync', 'SyncBody',
  'SyncHdr', 'SyncML', 'Target', 'TargetRef', undefined, 'VerDTD', 'VerProto', 'NumberOfChanges',
  'MoreData', 'Field', 'Filter', 'Record', 'FilterType', 'SourceParent', 'TargetParent', 'Move',
  'Correlator',
]);

/** Page 1 names, indexed by token (0x05..0x16). */
export const PAGE1_NAMES: readonly (string | undefined)[] = buildTable(0x05, [
  'Anchor', 'EMI', 'Format', 'FreeID', 'FreeMem', 'Last', 'Mark', 'MaxMsgSize', 'Mem', 'MetInf',
  'Next', 'NextNonce', 'SharedMem', 'Size', 'Type', 'Version', 'MaxObjSize', 'FieldLevel',
]);

function buildTable(first: number, names: readonly (string | undefined)[]): readonly (string | undefined)[] {
  const table: (string | undefined)[] = new Array(64).fill(undefined);
  names.forEach((n, i) => {
    table[first + i] = n;
  });
  return Object.freeze(table);
}

function tag(name: string, page: 0 | 1): TagDef {
  const table = page === 0 ? PAGE0_NAMES : PAGE1_NAMES;
  const token = table.indexOf(name);
  if (token < 0) throw new Error(`no WBXML token for ${name}`);
  const attr = name === 'SyncML' ? ` xmlns="${SYNCML_NS}"` : page === 1 ? ` xmlns="${METINF_NS}"` : '';
  return Object.freeze({
    name,
    page,
    token,
    xmlOpen: `<${name}${attr}>`,
    xmlClose: `</${name}>`,
    xmlEmpty: `<${name}${attr}/>`,
  });
}

/** Tags the encoder writes. */
export const TAG = Object.freeze({
  Add: tag('Add', 0),
  Alert: tag('Alert', 0),
  Atomic: tag('Atomic', 0),
  Chal: tag('Chal', 0),
  Cmd: tag('Cmd', 0),
  CmdID: tag('CmdID', 0),
  CmdRef: tag('CmdRef', 0),
  Copy: tag('Copy', 0),
  Correlator: tag('Correlator', 0),
  Cred: tag('Cred', 0),
  Data: tag('Data', 0),
  Delete: tag('Delete', 0),
  Exec: tag('Exec', 0),
  Final: tag('Final', 0),
  Get: tag('Get', 0),
  Item: tag('Item', 0),
  LocName: tag('LocName', 0),
  LocURI: tag('LocURI', 0),
  Meta: tag('Meta', 0),
  MoreData: tag('MoreData', 0),
  MsgID: tag('MsgID', 0),
  MsgRef: tag('MsgRef', 0),
  NoResp: tag('NoResp', 0),
  Replace: tag('Replace', 0),
  RespURI: tag('RespURI', 0),
  Results: tag('Results', 0),
  Sequence: tag('Sequence', 0),
  SessionID: tag('SessionID', 0),
  Source: tag('Source', 0),
  SourceRef: tag('SourceRef', 0),
  Status: tag('Status', 0),
  SyncBody: tag('SyncBody', 0),
  SyncHdr: tag('SyncHdr', 0),
  SyncML: tag('SyncML', 0),
  Target: tag('Target', 0),
  TargetRef: tag('TargetRef', 0),
  VerDTD: tag('VerDTD', 0),
  VerProto: tag('VerProto', 0),
  // syncml:metinf
  Format: tag('Format', 1),
  Type: tag('Type', 1),
  Mark: tag('Mark', 1),
  Size: tag('Size', 1),
  NextNonce: tag('NextNonce', 1),
  MaxMsgSize: tag('MaxMsgSize', 1),
  MaxObjSize: tag('MaxObjSize', 1),
});
