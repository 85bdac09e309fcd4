/**
 * The simulator's standard tree: DevInfo, DevDetail, DMAcc, Inbox and
 * optionally the SingleShotExec root (notes §6 and §9).
 */
import { type AccessType, ManagementTree, type NodeValue, type UriLimits } from './management-tree.js';
import { defineSseMo } from './sse.js';

export interface AppAuthOptions {
  level: 'CLCRED' | 'SRVCRED' | 'OBEX' | 'HTTP';
  /** AAuthType name, e.g. DIGEST, BASIC, HMAC. */
  type: string;
  name: string;
  secret: string;
  /** Nonce (bin). */
  data?: NodeValue;
}

export interface DmAccOptions {
  /** The `<X>` name under ./DMAcc; default `dmacc`. */
  accName?: string;
  serverId: string;
  name?: string;
  addr: string;
  addrType?: 'URI' | 'IPv4' | 'IPv6';
  portNbr?: number;
  aAuthPref?: string;
  prefConRef?: string;
  /** One AppAuth/<level> child per entry (named after the level, so levels must be unique). */
  appAuth?: AppAuthOptions[];
}

export interface StandardTreeOptions {
  devId: string;
  man: string;
  mod: string;
  dmV: '1.2';
  lang: string;
  fwV: string;
  swV: string;
  hwV: string;
  devTyp: string;
  oem: string;
  lrgObj: boolean;
  /** SSE root such as `./SSE`; omitted: no SSE MO. */
  sseRoot?: string;
  dmAcc?: DmAccOptions;
  /** Enforced URI limits, published in DevDetail/URI. */
  uriLimits?: Partial<UriLimits>;
}

const GET: AccessType[] = ['Get'];
const GET_REPLACE: AccessType[] = ['Get', 'Replace'];

export function createStandardTree(opts: StandardTreeOptions): ManagementTree {
  const tree = new ManagementTree(opts.uriLimits ? { limits: opts.uriLimits } : {});
  const fixed = (uri: string, data: string, format = 'chr') =>
    tree.define(uri, { format, data, access: GET, permanent: true });
  const interior = (uri: string, access: AccessType[], permanent: boolean, type?: string) =>
    tree.define(uri, { format: 'node', access, permanent, ...(type !== undefined && { type }) });

  interior('./DevInfo', GET, true, 'urn:oma:mo:oma-dm-devinfo:1.0');
  fixed('./DevInfo/DevId', opts.devId);
  fixed('./DevInfo/Man', opts.man);
  fixed('./DevInfo/Mod', opts.mod);
  fixed('./DevInfo/DmV', opts.dmV);
  fixed('./DevInfo/Lang', opts.lang);

  interior('./DevDetail', GET, true, 'urn:oma:mo:oma-dm-devdetail:1.0');
  interior('./DevDetail/URI', GET, true);
  fixed('./DevDetail/URI/MaxDepth', String(tree.limits.maxDepth));
  fixed('./DevDetail/URI/MaxTotLen', String(tree.limits.maxTotLen));
  fixed('./DevDetail/URI/MaxSegLen', String(tree.limits.maxSegLen));
  fixed('./DevDetail/DevTyp', opts.devTyp);
  fixed('./DevDetail/OEM', opts.oem);
  fixed('./DevDetail/FwV', opts.fwV);
  fixed('./DevDetail/SwV', opts.swV);
  fixed('./DevDetail/HwV', opts.hwV);
  fixed('./DevDetail/LrgObj', String(opts.lrgObj), 'bool');

  // Inbox is Add-only: Get on it is 405 (notes §1).
  interior('./Inbox', ['Add'], true, 'urn:oma:mo:oma-dm-inbox:1.0');
  interior('./DMAcc', GET, true);
  if (opts.dmAcc) defineDmAcc(tree, opts.dmAcc);
  if (opts.sseRoot) defineSseMo(tree, opts.sseRoot);
  return tree;
}

/**
 * The account as a w7 bootstrap would leave it: the server gets Get/Replace/
 * Delete on `<X>` (notes §9), leaves are Get/Replace, and the secret and nonce
 * are Replace-only (never readable).
 */
function defineDmAcc(tree: ManagementTree, acc: DmAccOptions): void {
  const x = `./DMAcc/${acc.accName ?? 'dmacc'}`;
  const leaf = (uri: string, data: NodeValue, access = GET_REPLACE, format = 'chr') =>
    tree.define(uri, { format, data, access });
  const node = (uri: string, access = GET) => tree.define(uri, { format: 'node', access });

  tree.define(x, { format: 'node', type: 'urn:oma:mo:oma-dm-dmacc:1.0', access: ['Get', 'Replace', 'Delete'] });
  leaf(`${x}/AppID`, 'w7', GET);
  leaf(`${x}/ServerID`, acc.serverId);
  if (acc.name !== undefined) leaf(`${x}/Name`, acc.name);
  if (acc.prefConRef !== undefined) leaf(`${x}/PrefConRef`, acc.prefConRef);
  node(`${x}/AppAddr`);
  node(`${x}/AppAddr/1`);
  leaf(`${x}/AppAddr/1/Addr`, acc.addr);
  leaf(`${x}/AppAddr/1/AddrType`, acc.addrType ?? 'URI');
  if (acc.portNbr !== undefined) {
    node(`${x}/AppAddr/1/Port`);
    node(`${x}/AppAddr/1/Port/1`);
    leaf(`${x}/AppAddr/1/Port/1/PortNbr`, String(acc.portNbr), GET_REPLACE, 'int');
  }
  if (acc.aAuthPref !== undefined) leaf(`${x}/AAuthPref`, acc.aAuthPref);
  node(`${x}/AppAuth`);
  for (const auth of acc.appAuth ?? []) {
    const a = `${x}/AppAuth/${auth.level}`;
    node(a);
    leaf(`${a}/AAuthLevel`, auth.level);
    leaf(`${a}/AAuthType`, auth.type);
    leaf(`${a}/AAuthName`, auth.name);
    leaf(`${a}/AAuthSecret`, auth.secret, ['Replace']);
    leaf(`${a}/AAuthData`, auth.data ?? '', ['Replace'], 'bin');
  }
  tree.define(`${x}/Ext`, { format: 'node', access: GET });
}
